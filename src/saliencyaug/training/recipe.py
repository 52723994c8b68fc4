"""Training recipes: TOML files of plain values over one table of defaults.

A recipe is a dict of sections (``data``, ``views``, ``model``, ``optim``, ...); a file names
only what differs from :data:`DEFAULTS` (or from the recipe it ``extends``). The recipes that
reproduce the papers ship inside the package (:func:`list_recipes`); a path to your own TOML
file works the same way.

Overrides are ``section.key=value`` strings as users type them on a shell
(``data.root=/data/CUB_200_2011``, ``optim.base_lr=0.3``, ``views.scale=0.5,1``,
``model.init=``): the value is read as the type of the default it replaces.
"""

from __future__ import annotations

import copy
import difflib
import json
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from saliencyaug.models.backbone import STEMS
from saliencyaug.saliency import DEFAULT_DETECTOR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Recipe = dict[str, dict[str, Any]]

DEFAULTS: Recipe = {
    "paper": {
        "reproduces": "",  # what the recipe reproduces, in words
        "table": "",  # the paper's table
        "target": {},  # the paper's numbers, e.g. {"fine-tune top-1" = 66.88}
        "evaluation": "",  # the evaluation that produces them
    },
    "data": {
        "dataset": "bundled",  # cub, cars, aircraft, nabirds, composite, folder, bundled
        "root": "",
        "split": "train",
        "size": 224,
        "boxes": "ground_truth",  # or "detector": SaliencySwap boxes from views.detector
        "box_cache": "",  # folder for detected box files (default: the run folder)
        "options": {},  # composite knobs, e.g. {length = 20000, share = 32}
        "num_workers": 0,
    },
    "views": {
        "first": "rrc",  # rrc (RandomResizedCrop) or saliencyswap
        "mode": "replace",
        "scale": [0.5, 1.0],  # SaliencySwap crop scale (lambda, 1)
        "rrc_scale": [0.2, 1.0],  # MoCo v2's RandomResizedCrop scale
        # MoCo v2's Gaussian blur, made for 224 px: scale sigma and kernel with small images
        "blur_p": 0.5,
        "blur_sigma": [0.1, 2.0],
        "blur_kernel": 23,
        "detector": DEFAULT_DETECTOR,
        "objective": "excess",  # box-search objective for detected boxes
        "box_options": {},  # its parameters, e.g. {min_area = 0.1} for "mean"
        "p": 1.0,
    },
    "model": {
        "arch": "resnet18",  # make_backbone name: resnet50, small_resnet, timm:<name>
        "backbone": {},  # make_backbone options, e.g. {widths = [16, 32, 64, 128]}
        # "imagenet" (7x7/2 conv + max-pool) or "small" (3x3/1, no max-pool: images < ~96 px)
        "stem": "imagenet",
        "hidden_dim": 4096,
        "output_dim": 256,
        "sync_bn": False,
        "init": "",  # checkpoint to start from (encoder file, trainer checkpoint, torchvision)
        "init_heads": True,  # also load the heads from a trainer checkpoint
        "freeze_stages": 0,
    },
    "optim": {
        "optimizer": "lars",  # lars (BYOL's) or sgd
        "epochs": 1,
        "batch_size": 32,  # global, over all processes
        "base_lr": 0.3,  # lr = base_lr x batch_size / 256
        "weight_decay": 1.5e-6,
        "momentum": 0.9,
        "trust_coefficient": 1e-3,
        "warmup_epochs": 0,
        "max_steps": 0,  # 0: epochs x steps per epoch
    },
    "byol": {"base_momentum": 0.996},
    "cvsa": {"enabled": False, "stage": 4, "weight": 1.0, "normalize": True, "temperature": 0.1},
    "moco": {
        "dim": 128,
        "hidden_dim": 2048,
        "queue": 65536,
        "temperature": 0.2,
        "momentum": 0.999,
        "shuffle_bn": True,
        # one process: shuffle-BN's stand-in, the key encoder's BatchNorm over this many
        # sub-batches of the shuffled batch (MoCo's single-GPU demo); several processes: unused
        "bn_splits": 8,
    },
    "simsiam": {"dim": 2048, "pred_dim": 512, "fix_predictor_lr": True},
    "pairs": {
        "enabled": False,
        "alpha": 1.0,
        "nu": 0.5,
        "eps_g": 0.1,
        "eps_var": 0.05,
        "kappa": 0.02,
        "bank": 5632,
        "sign": "score",
        "decoupled": False,
        "decoder_size": 128,
        "pretrain_epochs": 1,
    },
    "train": {
        "seed": 0,
        "device": "",  # "" (CUDA when available), "cpu" or "cuda"
        "amp": True,
        "deterministic": False,
        "checkpoint_every": 500,
        "log_every": 10,
        # also save the encoder every this many steps as snapshots/encoder-step<N>.pt (0: off),
        # for learning curves (saliencyaug.study.learning_curve)
        "snapshot_every": 0,
        "progress": True,
        "tensorboard": True,  # when tensorboard is installed
    },
    "eval": {"train_root": "", "test_root": "", "boxes": ""},
}

#: Keys a resumed run may change: where things are and how the run reports itself. Anything
#: else would mix two recipes in one run.
RESUMABLE_CHANGES = frozenset(
    {
        "paper.*",
        "data.root",
        "data.box_cache",
        "data.num_workers",
        "train.device",
        "train.checkpoint_every",
        "train.log_every",
        "train.snapshot_every",
        "train.progress",
        "train.tensorboard",
        "eval.*",
    }
)


class RecipeError(ValueError):
    """A recipe or an override that cannot be used; the message says what and where."""


def list_recipes() -> list[str]:
    """Names of the recipes shipped with the package.

    Examples:
        >>> "cvsa-table1-cub" in list_recipes()
        True
    """
    folder = resources.files("saliencyaug.training") / "recipes"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _read(source: str | Path) -> tuple[dict[str, Any], str]:
    """The TOML table of a recipe name or file, and how to name it in messages."""
    if not isinstance(source, (str, Path)) or isinstance(source, bool):
        raise TypeError(f"recipe must be a name or a path, got {type(source).__name__}")
    text: str
    path = Path(source)
    if isinstance(source, str) and not source.endswith(".toml") and "/" not in source:
        if source not in list_recipes():
            close = difflib.get_close_matches(source, list_recipes(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise RecipeError(
                f"no recipe named {source!r} (a packaged name or a .toml file){hint} "
                "See: saliencyaug recipes"
            )
        folder = resources.files("saliencyaug.training") / "recipes"
        text = (folder / f"{source}.toml").read_text(encoding="utf-8")
        where = source
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise RecipeError(f"cannot read recipe {path}: {err.strerror or err}") from err
        where = str(path)
    try:
        return tomllib.loads(text), where
    except tomllib.TOMLDecodeError as err:
        raise RecipeError(f"{where}: not valid TOML ({err})") from err


def _check_known(table: Mapping[str, Any], where: str) -> None:
    for section, values in table.items():
        if section == "extends":
            continue
        if section not in DEFAULTS or not isinstance(values, dict):
            close = difflib.get_close_matches(str(section), list(DEFAULTS), n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            raise RecipeError(f"{where}: unknown section [{section}]{hint}")
        for key in values:
            if key not in DEFAULTS[section]:
                close = difflib.get_close_matches(str(key), list(DEFAULTS[section]), n=1)
                hint = f" (did you mean {section}.{close[0]}?)" if close else ""
                raise RecipeError(f"{where}: unknown key {section}.{key}{hint}")


def _merge(base: Recipe, over: Mapping[str, Any]) -> Recipe:
    out = copy.deepcopy(base)
    for section, values in over.items():
        if section != "extends":
            out[section].update(copy.deepcopy(values))
    return out


def _layers(source: str | Path, seen: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    table, where = _read(source)
    _check_known(table, where)
    parent = table.get("extends")
    if parent is None:
        return [table]
    if not isinstance(parent, str):
        raise RecipeError(f"{where}: extends must name a recipe, got {parent!r}")
    if parent in seen:
        raise RecipeError(f"{where}: recipes extend each other in a circle ({parent})")
    if not parent.endswith(".toml") and "/" not in parent:
        return [*_layers(parent, (*seen, where)), table]
    base = Path(where).parent / parent if Path(where).exists() else Path(parent)
    return [*_layers(base, (*seen, where)), table]


def _coerce(key: str, raw: str, default: Any) -> Any:
    """``raw`` as the type of ``default``: plain text as users type it on a shell."""
    text = raw.strip()
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise RecipeError(f"--set {key}: expected true or false, got {raw!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number != number or number != int(number):
            raise RecipeError(f"--set {key}: expected a whole number, got {raw!r}")
        return int(number)
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise RecipeError(f"--set {key}: expected a number, got {raw!r}") from None
    if isinstance(default, str):
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            return text[1:-1]  # quotes that survived the shell
        return text
    if isinstance(default, list):
        body = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        items = [item.strip() for item in body.split(",") if item.strip()]
        kind = type(default[0]) if default else str
        try:
            return [kind(item) for item in items]
        except ValueError:
            raise RecipeError(
                f"--set {key}: expected a comma-separated list of {kind.__name__}, got {raw!r}"
            ) from None
    if isinstance(default, dict):
        try:
            value = tomllib.loads(f"v = {text}")["v"] if text else {}
        except tomllib.TOMLDecodeError:
            value = None
        if not isinstance(value, dict):
            raise RecipeError(
                f"--set {key}: expected a table such as {{widths = [8, 16, 32, 64]}}, got {raw!r}"
            )
        return value
    raise RecipeError(f"--set {key}: cannot set a value of type {type(default).__name__}")


def apply_overrides(recipe: Recipe, overrides: Sequence[str]) -> Recipe:
    """``recipe`` with ``section.key=value`` overrides applied (values typed as users type
    them; see the module docstring).

    Raises:
        RecipeError: an override without ``=``, an unknown key, or a value of the wrong type.

    Examples:
        >>> r = apply_overrides(load_recipe("smoke-byol"), ["data.root=/x", "optim.base_lr=0.1"])
        >>> r["data"]["root"], r["optim"]["base_lr"]
        ('/x', 0.1)
    """
    out = copy.deepcopy(recipe)
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise RecipeError(f"--set expects section.key=value, got {item!r}")
        key, _, raw = item.partition("=")
        section, _, name = key.strip().partition(".")
        if section not in out or name not in out[section]:
            known = [f"{s}.{k}" for s in out for k in out[s]]
            close = difflib.get_close_matches(key.strip(), known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise RecipeError(f"--set {key.strip()}: no such recipe key{hint}")
        out[section][name] = _coerce(key.strip(), raw, DEFAULTS[section][name])
    return out


def _check_types(recipe: Recipe, where: str) -> None:
    for section, values in recipe.items():
        for key, value in values.items():
            default = DEFAULTS[section][key]
            ok = (
                isinstance(value, bool)
                if isinstance(default, bool)
                else isinstance(value, (int, float)) and not isinstance(value, bool)
                if isinstance(default, float)
                else isinstance(value, int) and not isinstance(value, bool)
                if isinstance(default, int)
                else isinstance(value, type(default))
            )
            if not ok:
                raise RecipeError(
                    f"{where}: {section}.{key} must be a {type(default).__name__}, got {value!r}"
                )
            if isinstance(default, float):
                values[key] = float(value)


def backbone_options(recipe: Recipe) -> dict[str, Any]:
    """The ``make_backbone`` options of the recipe's network: ``model.backbone`` with
    ``model.stem`` (given only when it is not the ImageNet stem, so that other backbones,
    which have no stem option, keep working). Encoder files and checkpoints store these, so
    ``load_encoder`` and ``saliencyaug eval`` rebuild the same network.

    Raises:
        RecipeError: ``model.stem`` is neither ``"imagenet"`` nor ``"small"``, or is given in
            both places.
    """
    model = recipe["model"]
    options = dict(model["backbone"])
    stem = model["stem"]
    if stem not in STEMS:
        raise RecipeError(f"model.stem must be one of {list(STEMS)}, got {stem!r}")
    if "stem" in options:
        raise RecipeError("give the stem as model.stem, not in model.backbone")
    if stem != "imagenet":
        options["stem"] = stem
    return options


def load_recipe(source: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """A recipe (packaged name or TOML path) over :data:`DEFAULTS`, with overrides.

    Args:
        source: a name from :func:`list_recipes` or a path to a ``.toml`` file. A file may
            start with ``extends = "<name or path>"`` to change only some values of another.
        overrides: ``section.key=value`` strings.

    Returns:
        The full recipe: every section and key of :data:`DEFAULTS`.

    Raises:
        RecipeError: an unreadable file, bad TOML, an unknown section or key, a value of the
            wrong type.

    Examples:
        >>> load_recipe("cvsa-table1-cub")["optim"]["batch_size"]
        1024
    """
    recipe = copy.deepcopy(DEFAULTS)
    where = str(source)
    for layer in _layers(source):
        recipe = _merge(recipe, layer)
    _check_types(recipe, where)
    return apply_overrides(recipe, overrides)


def recipe_differences(old: Recipe, new: Recipe) -> list[str]:
    """``section.key: old -> new`` for each value that differs and that a resumed run may not
    change (:data:`RESUMABLE_CHANGES` may change)."""
    changes = []
    for section in sorted(set(old) | set(new)):
        if f"{section}.*" in RESUMABLE_CHANGES:
            continue
        a, b = old.get(section, {}), new.get(section, {})
        for key in sorted(set(a) | set(b)):
            if f"{section}.{key}" in RESUMABLE_CHANGES:
                continue
            if a.get(key) != b.get(key):
                changes.append(
                    f"{section}.{key}: {json.dumps(a.get(key))} -> {json.dumps(b.get(key))}"
                )
    return changes


__all__ = [
    "DEFAULTS",
    "RESUMABLE_CHANGES",
    "Recipe",
    "RecipeError",
    "apply_overrides",
    "backbone_options",
    "list_recipes",
    "load_recipe",
    "recipe_differences",
]
