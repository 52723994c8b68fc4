"""Starting a training run and finishing it: processes, seeds, the run folder, the networks'
initialisation, and the final evaluation report."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from saliencyaug.data.loader import epoch_loader
from saliencyaug.distributed import Processes, init_processes, unwrap
from saliencyaug.evaluation.report import evaluate, format_report
from saliencyaug.io import load_torch_file
from saliencyaug.models import load_encoder, make_backbone
from saliencyaug.models.backbone import STAGE_CHANNELS
from saliencyaug.training.data import bundled_folder
from saliencyaug.training.recipe import Recipe, RecipeError, backbone_options, load_recipe
from saliencyaug.training.run import RunError, RunFolder


def seed_process(seed: int, rank: int) -> None:
    """Seed torch for this process: networks are initialised from the same seed on every rank
    (and DDP broadcasts rank 0's anyway); other draws (MoCo's shuffle, the pair noise) use a
    per-rank stream, ``seed`` and ``rank`` apart. Data augmentation has its own per-sample
    seeds (:mod:`saliencyaug.data.loader`). numpy's and Python's global generators are
    seeded too, so that a run is a function of its seed whatever draws from them."""
    import random

    import numpy as np

    stream = seed * 1_000_003 + rank
    torch.manual_seed(stream)
    np.random.seed(stream % 2**32)
    random.seed(stream)


def start_run(recipe: Recipe, out: str | Path, *, resume: bool, overwrite: bool) -> RunFolder:
    """Join the processes, make the run deterministic if asked, seed, and open the run folder.

    Networks should be built right after, under the same seed on every process.
    """
    train = recipe["train"]
    try:
        processes = init_processes(train["device"] or None)
    except ValueError as err:
        raise RecipeError(f"train.device: {err}") from None
    if train["deterministic"]:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    torch.manual_seed(train["seed"])  # the same network initialisation on every process
    return RunFolder(out, recipe, resume=resume, overwrite=overwrite, processes=processes)


def build_backbone(recipe: Recipe, stages: Sequence[int] = (4,)) -> nn.Module:
    """The recipe's backbone (``model.arch`` with :func:`backbone_options`)."""
    model = recipe["model"]
    options = backbone_options(recipe)
    try:
        return make_backbone(model["arch"], stages, **options)
    except (ValueError, TypeError) as err:
        raise RecipeError(f"model.arch / model.backbone: {err}") from None


def initialise(online: nn.Module, recipe: Recipe) -> list[str]:
    """Load ``model.init`` into ``online`` (a module with a ``backbone``): the backbone from any
    encoder file, trainer checkpoint or torchvision ResNet ``state_dict``; with
    ``model.init_heads`` also the heads of a trainer checkpoint whose names and shapes match
    (the first stage's projector and predictor). Returns the names of what was loaded."""
    path = recipe["model"]["init"]
    if not path:
        return []
    if not Path(path).is_file():
        raise RecipeError(f"model.init {path!r} is not a file")
    arch = recipe["model"]["arch"]
    try:  # the backbone, from any layout load_encoder reads
        encoder = load_encoder(path, arch if arch in STAGE_CHANNELS else "resnet18")
        unwrap(online).backbone.load_state_dict(encoder.state_dict())  # type: ignore[union-attr]
    except (ValueError, RuntimeError) as err:
        first = str(err).splitlines()[0][:300]
        raise RecipeError(
            f"model.init {path}: not an encoder for model.arch {arch!r} ({first})"
        ) from None
    loaded = ["backbone"]
    checkpoint = load_torch_file(path)
    if recipe["model"]["init_heads"] and isinstance(checkpoint, dict) and "online" in checkpoint:
        own = unwrap(online).state_dict()
        heads = {
            k: v
            for k, v in checkpoint["online"].items()
            if not k.startswith("backbone.") and k in own and own[k].shape == v.shape
        }
        unwrap(online).load_state_dict(heads, strict=False)
        loaded += sorted({k.split(".")[0] for k in heads})
    return loaded


def key_sub_batches(recipe: Recipe, processes: Processes) -> int:
    """How many sub-batches MoCo's key encoder runs on (:func:`forward_in_sub_batches`).

    Shuffled BatchNorm (``moco.shuffle_bn``) needs several processes; in one process its
    stand-in computes the key encoder's BatchNorm statistics over ``moco.bn_splits``
    sub-batches of the shuffled batch. With several processes, or shuffle-BN off: 1.

    Raises:
        RecipeError: the batch does not split into ``moco.bn_splits`` parts of at least 2.
    """
    moco = recipe["moco"]
    if not moco["shuffle_bn"] or processes.world > 1:
        return 1
    splits, batch = moco["bn_splits"], recipe["optim"]["batch_size"]
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 1:
        raise RecipeError(f"moco.bn_splits must be an integer >= 1, got {splits!r}")
    if batch % splits or batch // splits < 2:
        raise RecipeError(
            f"moco.bn_splits = {splits} does not split optim.batch_size = {batch} into equal "
            f"sub-batches of at least 2: use a divisor of {batch} up to {batch // 2}, or "
            "moco.shuffle_bn = false"
        )
    return int(splits)


def epoch_loaders(
    dataset: Dataset, recipe: Recipe, processes: Processes, start_step: int, per_epoch: int
) -> Iterator[tuple[int, DataLoader]]:
    """``(epoch, loader)`` from the epoch of ``start_step`` on, the first one skipping the
    batches already done (:func:`~saliencyaug.training.epoch_loader`); endless: the trainer
    stops at its last step."""
    epoch, done = divmod(start_step, per_epoch)
    while True:
        yield (
            epoch,
            epoch_loader(
                dataset,
                recipe["optim"]["batch_size"],
                seed=recipe["train"]["seed"],
                epoch=epoch,
                rank=processes.rank,
                world=processes.world,
                skip=done,
                num_workers=recipe["data"]["num_workers"],
                pin_memory=processes.device.type == "cuda",
            ),
        )
        epoch, done = epoch + 1, 0


def finish_run(run: RunFolder, backbone: nn.Module) -> dict[str, Any] | None:
    """Write ``encoder.pt``, the final report (see :func:`final_report`), and close the run."""
    model = run.recipe["model"]
    run.save_encoder(unwrap(backbone), model["arch"], backbone_options(run.recipe))
    report = final_report(run.recipe, backbone, run, run.processes)
    run.close()
    return report


def final_report(
    recipe: Recipe, backbone: nn.Module, run: RunFolder, processes: Processes
) -> dict[str, Any] | None:
    """The evaluation command's report on ``eval.train_root`` / ``eval.test_root`` (the
    bundled photos for the ``bundled`` smoke data), written to ``report.json`` (rank 0)."""
    ev = recipe["eval"]
    train_root, test_root = ev["train_root"], ev["test_root"]
    if recipe["data"]["dataset"] == "bundled" and not train_root:
        train_root = test_root = str(bundled_folder(run.path / "bundled"))
    if not (processes.main and train_root and test_root):
        return None
    report = evaluate(
        unwrap(backbone),
        train_root,
        test_root,
        ev["boxes"] or None,
        image_size=recipe["data"]["size"],
        batch_size=16,
        device=str(processes.device),
        progress=False,
        knn_k=3,
    )
    run.write_json("report.json", report)
    return report


def trainer_arguments(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--recipe`` (or ``--config``), ``--out``, ``--resume``, ``--overwrite``, ``--set``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--recipe", "--config", required=True, help="a packaged recipe name or a .toml file"
    )
    p.add_argument("--out", required=True, help="run folder (checkpoint, encoder, logs, report)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="continue the run in --out")
    group.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override recipe values, as typed: data.root=/data/CUB_200_2011 optim.base_lr=0.3",
    )
    return p.parse_args(argv)


def run_trainer(
    train: Callable[[Recipe, argparse.Namespace], Any],
    description: str,
    argv: Sequence[str] | None = None,
) -> int:
    """A trainer's command line: parse, load the recipe, train; a user mistake ends in one line
    on stderr (exit 2), Ctrl-C in a note on how to resume (exit 130). Set
    ``SALIENCYAUG_TRACEBACK=1`` to see tracebacks instead."""
    args = trainer_arguments(description, argv)
    try:
        recipe = load_recipe(args.recipe, args.set)
        result = train(recipe, args)
    except KeyboardInterrupt:
        print(
            f"interrupted; the last checkpoint is {args.out}/checkpoint.pt: rerun with --resume "
            "to continue",
            file=sys.stderr,
        )
        return 130
    except (RecipeError, RunError, FileNotFoundError, PermissionError) as err:
        if os.environ.get("SALIENCYAUG_TRACEBACK"):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    if result is not None:
        print(run_summary(result, args.out))
    return 0


def run_summary(result: Mapping[str, Any], out: str | Path) -> str:
    """The few lines a trainer ends with: steps, where the files are, and the evaluation
    table (:func:`~saliencyaug.evaluation.report.format_report`) when there was one."""
    folder = Path(out)
    lines = [f"finished after {result.get('step', '?')} steps: {folder}"]
    for name, what in (
        ("encoder.pt", "the encoder (saliencyaug eval --checkpoint, load_encoder)"),
        ("checkpoint.pt", "everything to resume (--resume)"),
        ("log.jsonl", "losses and learning rate per logged step"),
        ("report.json", "the evaluation below, as JSON"),
    ):
        if (folder / name).exists():
            lines.append(f"  {name:14s} {what}")
    if result.get("report"):
        lines.append(format_report(result["report"]))
    return "\n".join(lines)


__all__ = [
    "build_backbone",
    "epoch_loaders",
    "final_report",
    "finish_run",
    "initialise",
    "key_sub_batches",
    "run_summary",
    "run_trainer",
    "seed_process",
    "start_run",
    "trainer_arguments",
]
