"""``saliencyaug study``: does an SSL method learn the object or the background?

Pre-trains every arm with the library's own trainers (``examples/train_*.py``, run as
subprocesses exactly as users run them, from the scale's base recipes: the short-run recipes
at the ``cpu`` and ``device`` scales) on the composite benchmark
(:class:`~saliencyaug.data.CompositeEmoji`) at the scale's background sharing ``r`` (``r = 1``:
the background identifies the instance, a shortcut; a large ``r``: no shortcut) and seeds;
scores every saved snapshot on a validation split carved from the pre-training images (the
learning curve); then evaluates each encoder on probe splits whose backgrounds are disjoint
from pre-training's:

* linear top-1 (the fast L-BFGS probe) and weighted kNN top-1 over the face classes;
* retrieval rank-1 and mAP within the probe-test split, and **across styles** (queries of one
  art style, gallery of the other);
* MaxBoxAcc (v1) against the exact boxes;
* **background leakage**: the accuracy of a linear probe that predicts which photograph is
  behind the object (half the probe-train images fit it, the other half score it; chance is one
  over the number of photographs). Lower means less background in the features.

Arms: an untrained encoder (the floor), a supervised one (the ceiling), BYOL +
RandomResizedCrop, BYOL + SaliencySwap, BYOL + SaliencySwap + CVSA alignment, MoCo v2, MoCo v2 +
decoder pairs (and, on request with
``--arms``, the Grad-CAM sign ablation ``moco-pairs-sign-loss``). Every run writes
``runs/<arm>-r<r>-s<seed>/`` (the trainer's run folder) and ``results/<...>.json``; a rerun
skips what is done and resumes what was interrupted. ``summary.json``, ``summary.md`` and
``summary.png`` hold the means and sample standard deviations over seeds, the mean learning
curves, and paired comparisons (method against baseline, same seed and ``r``) with 95 %
intervals.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from saliencyaug.bench.environment import machine_header
from saliencyaug.data import DISTINCT_FACES, CompositeEmoji, collect_assets, default_assets_dir
from saliencyaug.data.assets import MANIFEST
from saliencyaug.evaluation.features import extract_features
from saliencyaug.evaluation.linear import knn_accuracy, linear_probe_lbfgs
from saliencyaug.evaluation.report import evaluate_splits
from saliencyaug.io import atomic_write_bytes, atomic_write_text
from saliencyaug.models import load_encoder, make_backbone
from saliencyaug.transforms.presets import eval_view


@dataclass(frozen=True)
class Scale:
    """A study's size: images, backbone, steps, probe sets, background sharing, seeds.

    ``recipes`` names the trainers' base recipes (``"smoke"``: smoke-byol / smoke-moco /
    smoke-supervised; ``"short"``: the short-run recipes chosen on a validation split);
    ``validation`` images of the pre-training split past ``pretrain_images`` (never seen in
    pre-training, never the probe-test split) score the learning curve at every
    ``snapshot_every`` steps (0: no curve)."""

    size: int
    widths: tuple[int, ...] | None  # small_resnet widths; None: ResNet-18
    pretrain_images: int
    batch_size: int
    steps: int
    probe_train: int
    probe_test: int
    shares: tuple[int, ...]
    seeds: tuple[int, ...]
    hidden_dim: int
    output_dim: int
    workers: int
    classes: int | tuple[str, ...] | None
    stem: str = "imagenet"
    object_scale: tuple[float, float] = (0.3, 0.6)
    recipes: str = "smoke"
    validation: int = 0
    snapshot_every: int = 0
    device: str = "cpu"

    def data_options(self) -> dict[str, Any]:
        """The :class:`~saliencyaug.data.CompositeEmoji` options every split shares."""
        return {
            "size": self.size,
            "scale": self.object_scale,
            "classes": list(self.classes) if isinstance(self.classes, tuple) else self.classes,
        }


SCALES = {
    "smoke": Scale(
        size=32,
        widths=(8, 8, 16, 16),
        pretrain_images=64,
        batch_size=16,
        steps=4,
        probe_train=60,
        probe_test=40,
        shares=(1, 8),
        seeds=(0,),
        hidden_dim=32,
        output_dim=16,
        workers=0,
        classes=10,
        stem="small",
        recipes="short",
        validation=32,
        snapshot_every=2,
    ),
    "cpu": Scale(
        size=32,
        widths=(16, 32, 64, 128),
        pretrain_images=4096,
        batch_size=64,
        steps=600,
        probe_train=2000,
        probe_test=1000,
        shares=(16,),
        seeds=(0, 1, 2),
        hidden_dim=256,
        output_dim=64,
        workers=1,
        classes=DISTINCT_FACES,
        stem="small",
        object_scale=(0.5, 0.8),
        recipes="short",
        validation=1024,
        snapshot_every=100,
    ),
    "gpu": Scale(
        size=128,
        widths=None,
        pretrain_images=20000,
        batch_size=256,
        steps=4000,
        probe_train=8000,
        probe_test=4000,
        shares=(1, 64),
        seeds=(0, 1, 2),
        hidden_dim=2048,
        output_dim=256,
        workers=8,
        classes=None,
        device="cuda",
    ),
}
# the cpu scale's set-up grown to fill about ten minutes per seed of one GPU (docs/study.md)
SCALES["device"] = replace(
    SCALES["cpu"],
    size=48,
    widths=(32, 64, 128, 256),
    pretrain_images=16384,
    batch_size=256,
    steps=500,
    probe_train=4000,
    probe_test=2000,
    hidden_dim=1024,
    output_dim=128,
    workers=14,
    device="cuda",
)

ARMS: dict[str, tuple[str | None, list[str]]] = {
    "untrained": (None, []),  # the floor
    "supervised": ("train_supervised.py", []),  # the ceiling: labels, the same views and steps
    "byol-rrc": ("train_byol.py", ["views.first=rrc"]),
    "byol-saliencyswap": ("train_byol.py", ["views.first=saliencyswap"]),
    "byol-saliencyswap-cvsa": ("train_byol.py", ["views.first=saliencyswap", "cvsa.enabled=true"]),
    "moco": ("train_moco.py", []),
    "moco-pairs": ("train_moco.py", ["pairs.enabled=true"]),
    # ablation, on request: the Grad-CAM sign of Eq. 3 as printed instead of the prose's
    "moco-pairs-sign-loss": ("train_moco.py", ["pairs.enabled=true", "pairs.sign=loss"]),
}
DEFAULT_ARMS = tuple(a for a in ARMS if a != "moco-pairs-sign-loss")

METRICS = (
    ("linear_top1", "linear top-1"),
    ("knn_top1", "kNN top-1"),
    ("rank1", "rank-1"),
    ("cross_style_rank1", "cross-style rank-1"),
    ("cross_style_map", "cross-style mAP"),
    ("maxboxacc", "MaxBoxAcc"),
    ("background_leakage", "background leakage"),
)

# Paired comparisons (method, its baseline): same seed and r, so the pre-training data and the
# probe splits are identical and only the method differs. First the floor and ceiling, then the
# papers' claims.
COMPARISONS = (
    # does the set-up let methods learn? the ceiling and the base methods against the floor
    ("supervised", "untrained"),
    ("byol-rrc", "untrained"),
    ("moco", "untrained"),
    ("byol-saliencyswap", "byol-rrc"),
    ("byol-saliencyswap-cvsa", "byol-saliencyswap"),
    ("byol-saliencyswap-cvsa", "byol-rrc"),
    ("moco-pairs", "moco"),
    ("moco-pairs-sign-loss", "moco-pairs"),
)


def examples_dir() -> Path:
    """The repository's ``examples/`` (the study runs the trainers users run)."""
    folder = Path(__file__).resolve().parents[2] / "examples"  # src/saliencyaug/study.py
    if not (folder / "train_byol.py").exists():
        raise FileNotFoundError(
            "saliencyaug study runs the trainers in the repository's examples/: run it from a "
            "clone of the repository (pip install -e .)"
        )
    return folder


def _arch(scale: Scale) -> list[str]:
    stem = f"model.stem={scale.stem}"
    if scale.widths is None:
        return ["model.arch=resnet18", "model.backbone={}", stem]
    widths = ", ".join(str(w) for w in scale.widths)
    return ["model.arch=small_resnet", f"model.backbone={{widths = [{widths}]}}", stem]


def _toml(value: Any) -> str:
    """``value`` as a TOML inline value (what ``--set`` parses)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def base_recipe(script: str, scale: Scale) -> str:
    """The packaged recipe a trainer starts from at ``scale`` (e.g. ``short-moco``)."""
    kind = {"train_moco.py": "moco", "train_supervised.py": "supervised"}.get(script, "byol")
    return f"{scale.recipes}-{kind}"


def _overrides(scale: Scale, assets: Path, share: int, seed: int, base: str) -> list[str]:
    knobs = {"length": scale.pretrain_images, "share": share, **scale.data_options()}
    options = "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in knobs.items() if v is not None)
    out = [
        "data.dataset=composite",
        f"data.root={assets}",
        f"data.size={scale.size}",
        f"data.options={options}}}",
        f"data.num_workers={scale.workers}",
        "data.boxes=ground_truth",
        *_arch(scale),
        f"model.hidden_dim={scale.hidden_dim}",
        f"model.output_dim={scale.output_dim}",
        "model.freeze_stages=0",
        f"optim.batch_size={scale.batch_size}",
        f"optim.max_steps={scale.steps}",
        f"train.seed={seed}",
        f"train.device={scale.device}",
        f"train.checkpoint_every={max(1, scale.steps // 4)}",
        f"train.snapshot_every={scale.snapshot_every}",
        f"train.log_every={max(1, scale.steps // 20)}",
        "train.progress=false",
        "train.tensorboard=false",
        "eval.train_root=",
        "eval.test_root=",
    ]
    if base.endswith("-moco"):
        queue = max(scale.batch_size, (scale.pretrain_images - scale.batch_size) // 2)
        out += [f"moco.queue={queue}", f"moco.dim={scale.output_dim}"]
        out += [f"moco.hidden_dim={scale.hidden_dim}", f"pairs.decoder_size={scale.size}"]
        out += [f"pairs.bank={min(5632, scale.pretrain_images)}", "pairs.pretrain_epochs=1"]
    return out


def _train(
    arm: str,
    scale: Scale,
    assets: Path,
    share: int,
    seed: int,
    folder: Path,
    extra: tuple[str, ...] = (),
) -> Path | None:
    """Run the arm's trainer (resuming an interrupted run) with the scale's settings and then
    ``extra`` overrides; returns its encoder file."""
    script, arm_overrides = ARMS[arm]
    if script is None:
        return None
    encoder = folder / "encoder.pt"
    if encoder.exists():
        return encoder
    base = base_recipe(script, scale)
    argv = [sys.executable, str(examples_dir() / script), "--recipe", base, "--out", str(folder)]
    if (folder / "log.jsonl").exists() or (folder / "checkpoint.pt").exists():
        argv.append("--resume")
    argv += ["--set", *_overrides(scale, assets, share, seed, base), *arm_overrides, *extra]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{arm} (r={share}, seed={seed}) failed:\n{done.stderr[-3000:]}")
    return encoder


def validation_split(scale: Scale, assets: Path, share: int) -> Subset[Any]:
    """The validation images: the pre-training split's images ``pretrain_images`` to
    ``pretrain_images + validation`` (the same generator, backgrounds and ``r`` as pre-training,
    images no run trains on), with the evaluation view."""
    data = CompositeEmoji(
        assets,
        "pretrain",
        scale.pretrain_images + scale.validation,
        share=share,
        transform=_PlainView(scale.size),
        **scale.data_options(),
    )
    return Subset(data, range(scale.pretrain_images, len(data)))


class _PlainView:
    """``(image, boxes) -> eval_view(image)`` (a dataset transform without boxes)."""

    def __init__(self, size: int) -> None:
        self.view = eval_view(size, resize=size)

    def __call__(self, image: Any, boxes: Any = None) -> torch.Tensor:
        return self.view(image)


def validation_scores(
    encoder: torch.nn.Module, validation: Subset[Any], device: str = "cpu"
) -> dict[str, float]:
    """kNN (k = 20) and linear (L-BFGS) top-1 in percent on ``validation``: the even images fit,
    the odd ones score (features computed on ``device``)."""
    encoder = encoder.to(device)
    x, y = extract_features(encoder, DataLoader(validation, batch_size=256), device, False)
    fit, score = slice(0, None, 2), slice(1, None, 2)
    knn = knn_accuracy(x[fit], y[fit], x[score], y[score], k=20)
    linear = linear_probe_lbfgs(x[fit], y[fit], x[score], y[score]).accuracy
    return {"val_knn": 100.0 * knn, "val_linear": 100.0 * linear}


def learning_curve(
    run_folder: Path, validation: Subset[Any], device: str = "cpu"
) -> list[dict[str, float]]:
    """:func:`validation_scores` of every encoder snapshot a run saved
    (``train.snapshot_every``), in step order."""
    curve = []
    for path in sorted((Path(run_folder) / "snapshots").glob("encoder-step*.pt")):
        step = int(path.stem.removeprefix("encoder-step"))
        scores = validation_scores(load_encoder(path), validation, device)
        curve.append({"step": step, **scores})
    return curve


def _cross_style(
    features: torch.Tensor, labels: np.ndarray, styles: np.ndarray
) -> tuple[float, float]:
    """Rank-1 and mAP (percent) of queries of one style against a gallery of the others,
    averaged over the styles as queries."""
    f = torch.nn.functional.normalize(features.float(), dim=1)
    rank1, aps = [], []
    for style in np.unique(styles):
        q, g = np.flatnonzero(styles == style), np.flatnonzero(styles != style)
        if len(g) == 0:
            continue
        sims = f[q] @ f[g].T
        order = torch.argsort(sims, dim=1, descending=True).numpy()
        hits = labels[g][order] == labels[q][:, None]
        rank1.append(float(hits[:, 0].mean()))
        for row in hits:
            if row.any():
                positions = np.flatnonzero(row) + 1
                aps.append(float(np.mean(np.arange(1, len(positions) + 1) / positions)))
    return 100.0 * float(np.mean(rank1)), 100.0 * float(np.mean(aps))


def _evaluate(encoder: torch.nn.Module, scale: Scale, assets: Path, seed: int) -> dict[str, Any]:
    encoder = encoder.to(scale.device)
    options = scale.data_options()
    probe_train = CompositeEmoji(assets, "train", scale.probe_train, seed=1000 + seed, **options)
    probe_test = CompositeEmoji(assets, "test", scale.probe_test, seed=2000 + seed, **options)
    report = evaluate_splits(
        encoder,
        probe_train,
        probe_test,
        protocols=("fast",),
        knn_k=20,
        image_size=scale.size,
        batch_size=128,
        progress=False,
        seed=seed,
        device=scale.device,
    )
    probe_test.transform = probe_train.transform = _PlainView(scale.size)
    device = scale.device
    xte, yte = extract_features(encoder, DataLoader(probe_test, batch_size=128), device, False)
    xtr, _ = extract_features(encoder, DataLoader(probe_train, batch_size=128), device, False)
    styles = np.array([probe_test.style_of(i) for i in range(len(probe_test))])
    cross_rank1, cross_map = _cross_style(xte, yte.numpy(), styles)
    # background leakage: which photograph is behind the object, from the features
    names = [probe_train.background_of(i) for i in range(len(probe_train))]
    ids = torch.tensor([sorted(set(names)).index(n) for n in names])
    fit, score = slice(0, None, 2), slice(1, None, 2)
    leak = linear_probe_lbfgs(xtr[fit], ids[fit], xtr[score], ids[score]).accuracy
    return {
        "linear_top1": report["linear"][0]["top1"],
        "knn_top1": report["knn"]["top1"],
        "rank1": report["retrieval"]["rank1"],
        "map": report["retrieval"]["mAP"],
        "cross_style_rank1": cross_rank1,
        "cross_style_map": cross_map,
        "maxboxacc": report["maxboxacc"]["MaxBoxAcc"],
        "maxboxacc_v2": report["maxboxacc"]["MaxBoxAccV2"],
        "background_leakage": 100.0 * leak,
        "background_chance": 100.0 / len(set(names)),
        "classes": len(probe_test.classes),
    }


def untrained(spec: Scale, seed: int) -> torch.nn.Module:
    """The scale's backbone at its random initialisation for ``seed`` (the study's floor)."""
    torch.manual_seed(seed)
    arch = "resnet18" if spec.widths is None else "small_resnet"
    options = {} if spec.widths is None else {"widths": list(spec.widths)}
    return make_backbone(arch, stem=spec.stem, **options)


def estimate_seconds(spec: Scale, arms: tuple[str, ...], device: str = "cpu") -> float:
    """Seconds one seed of ``arms`` at one ``r`` will take, from a measurement on this machine:
    a forward and backward pass of the scale's backbone on a batch, and the rendering of one
    image, weighed per arm and by the data loader's workers, plus the evaluation. A guide
    printed before a run starts, not a promise.

    The weights are a step's time in backbone passes, measured at the ``cpu`` scale on a
    2-core machine (2026-12-04: supervised 0.27 s per step, BYOL 0.34, BYOL + SaliencySwap
    0.51, + CVSA 0.50, MoCo v2 0.29, + pairs about 0.8, against 0.09 s per pass); they include
    the step's augmentation where it shares the cores, so on a GPU they overestimate."""
    passes = {
        "untrained": 0.0,
        "supervised": 3.0,
        "byol-rrc": 3.8,
        "byol-saliencyswap": 5.7,
        "byol-saliencyswap-cvsa": 5.5,
        "moco": 3.2,
        "moco-pairs": 8.5,
        "moco-pairs-sign-loss": 8.5,
    }
    net = untrained(spec, 0).to(device)
    x = torch.randn(spec.batch_size, 3, spec.size, spec.size, device=device)

    def pass_once() -> None:
        net(x).pooled.sum().backward()

    pass_once()  # warm-up (allocations, kernels, thread pools)
    pass_once()
    times = []
    for _ in range(3):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        pass_once()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    backbone_seconds = statistics.median(times)
    data = CompositeEmoji(
        default_assets_dir(),
        "pretrain",
        32,
        transform=_PlainView(spec.size),
        **spec.data_options(),
    )
    data[0]
    start = time.perf_counter()
    for i in range(1, 9):
        data[i]
    # two augmented views cost about three plain renderings
    image_seconds = 3 * (time.perf_counter() - start) / 8
    data_step = image_seconds * spec.batch_size / max(1, spec.workers)
    total = 0.0
    for arm in arms:
        if passes[arm]:
            total += spec.steps * max(passes[arm] * backbone_seconds, data_step)
        # evaluation: features of the probe and validation images (plain views), the probes
        images = (
            spec.probe_train
            + spec.probe_test
            + spec.validation
            * (1 + (spec.steps // spec.snapshot_every if spec.snapshot_every else 0))
        )
        total += images * image_seconds / 3 + images / spec.batch_size * backbone_seconds / 3
        total += 20.0 + (8.0 if passes[arm] else 0.0)  # probes, file writes; process start
    return total


def run_study(
    out: str | Path,
    scale: str = "cpu",
    arms: tuple[str, ...] | None = None,
    assets: str | Path | None = None,
    log: Any = print,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the study into ``out`` and write its summary; returns the summary.

    Every run's record (``results/<arm>-r<r>-s<seed>.json``) holds its metrics, its train and
    evaluation seconds and, at scales with ``snapshot_every``, its learning curve on the
    validation split.

    Args:
        out: the study folder (created, or resumed).
        scale: a name of :data:`SCALES`.
        arms: arms to run (default: :data:`DEFAULT_ARMS`).
        assets: the pictures' folder (default: the package's cache, filled when empty).
        log: called with each line of progress.
        overrides: :class:`Scale` fields to change (e.g. ``{"steps": 2, "device": "cpu"}`` for
            a quick check of a scale's machinery); the results are then not the scale's.

    Returns:
        The summary (also written as ``summary.json``).

    Raises:
        ValueError: an unknown scale, arm or override.
        RuntimeError: a trainer failed, or the scale needs CUDA and there is none.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    spec = SCALES[scale]
    if overrides:
        unknown_fields = sorted(set(overrides) - set(asdict(spec)))
        if unknown_fields:
            raise ValueError(f"overrides names no Scale field: {unknown_fields}")
        spec = replace(spec, **overrides)
    chosen = arms or DEFAULT_ARMS
    unknown = [a for a in chosen if a not in ARMS]
    if unknown:
        raise ValueError(f"unknown arms {unknown}; known: {sorted(ARMS)}")
    if spec.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--scale {scale} needs a CUDA device; this machine has none")
    folder = Path(out)
    assets_dir = Path(assets) if assets is not None else default_assets_dir()
    if not (assets_dir / MANIFEST).exists():
        log(f"collecting pictures into {assets_dir}")
        collect_assets(assets_dir)
    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    per_seed = estimate_seconds(spec, chosen, spec.device) * len(spec.shares)
    log(
        f"estimate: {per_seed / 60:.1f} min per seed ({len(spec.shares)} r x {len(chosen)} "
        f"arms), {per_seed * len(spec.seeds) / 60:.1f} min for {len(spec.seeds)} seeds "
        "(done runs are skipped)"
    )
    for share in spec.shares:
        validation = validation_split(spec, assets_dir, share) if spec.validation else None
        for seed in spec.seeds:
            for arm in chosen:
                name = f"{arm}-r{share}-s{seed}"
                result_path = folder / "results" / f"{name}.json"
                if result_path.exists():
                    continue
                start = time.time()
                encoder_file = _train(arm, spec, assets_dir, share, seed, folder / "runs" / name)
                trained = time.time() - start
                encoder: torch.nn.Module
                if encoder_file is None:
                    encoder = untrained(spec, seed)
                else:
                    encoder = load_encoder(encoder_file)
                metrics = _evaluate(encoder, spec, assets_dir, seed)
                curve: list[dict[str, float]] = []
                if validation is not None:
                    if encoder_file is None:
                        scores = validation_scores(encoder, validation, spec.device)
                        curve = [{"step": 0, **scores}]
                    else:
                        curve = learning_curve(folder / "runs" / name, validation, spec.device)
                record = {
                    "arm": arm,
                    "share": share,
                    "seed": seed,
                    "scale": scale,
                    "overrides": {
                        k: list(v) if isinstance(v, tuple) else v
                        for k, v in (overrides or {}).items()
                    },
                    "train_seconds": trained,
                    "eval_seconds": time.time() - start - trained,
                    **metrics,
                    "curve": curve,
                }
                atomic_write_text(result_path, json.dumps(record, indent=1) + "\n")
                log(f"{name}: " + ", ".join(f"{k} {metrics[k]:.1f}" for k, _ in METRICS))
    return summarize(folder, chosen, spec)


def summarize(folder: Path, arms: tuple[str, ...], spec: Scale) -> dict[str, Any]:
    """Means and sample standard deviations over seeds per arm and ``r``, and the paired
    comparisons of each method with its baseline: summary.json, .md, .png."""
    loaded = (json.loads(p.read_text()) for p in sorted((folder / "results").glob("*.json")))
    records = {(r["arm"], r["share"], r["seed"]): r for r in loaded}
    rows = []
    for share in spec.shares:
        for arm in arms:
            runs = [records[arm, share, s] for s in spec.seeds if (arm, share, s) in records]
            if not runs:
                continue
            row: dict[str, Any] = {"arm": arm, "share": share, "seeds": len(runs)}
            for key, _ in METRICS:
                values = [r[key] for r in runs]
                row[key] = statistics.fmean(values)
                row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
            row["background_chance"] = runs[0]["background_chance"]
            row["train_minutes"] = statistics.fmean(r["train_seconds"] for r in runs) / 60
            row["curve"] = _mean_curve([r.get("curve", []) for r in runs])
            rows.append(row)
    comparisons = _compare(records, arms, spec)
    summary = {
        "rows": rows,
        "comparisons": comparisons,
        "metrics": dict(METRICS),
        "scale": asdict(spec),
        "wall_minutes": sum(r["train_seconds"] + r["eval_seconds"] for r in records.values()) / 60,
        "machine": machine_header("wall_minutes: the runs' train and evaluation time, summed"),
    }
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(
        folder / "summary.md",
        _table(rows) + "\n" + _comparison_table(comparisons) + _curve_table(rows),
    )
    atomic_write_bytes(folder / "summary.png", _plot(rows, spec))
    return summary


def _mean_curve(curves: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    """The seeds' learning curves averaged step by step (steps every seed has)."""
    steps = sorted(set.intersection(*(set(c["step"] for c in curve) for curve in curves)))
    out = []
    for step in steps:
        points = [next(c for c in curve if c["step"] == step) for curve in curves]
        out.append(
            {
                "step": step,
                "val_knn": statistics.fmean(p["val_knn"] for p in points),
                "val_linear": statistics.fmean(p["val_linear"] for p in points),
            }
        )
    return out


def _compare(
    records: dict[tuple[str, int, int], dict[str, Any]], arms: tuple[str, ...], spec: Scale
) -> list[dict[str, Any]]:
    """Per comparison and metric: the differences method - baseline over every (r, seed) run
    both arms have, their mean, and in how many runs the method was higher."""
    out = []
    for method, baseline in COMPARISONS:
        if method not in arms or baseline not in arms:
            continue
        pairs = [
            (records[method, share, seed], records[baseline, share, seed])
            for share in spec.shares
            for seed in spec.seeds
            if (method, share, seed) in records and (baseline, share, seed) in records
        ]
        if not pairs:
            continue
        row: dict[str, Any] = {"method": method, "baseline": baseline, "runs": len(pairs)}
        for key, _ in METRICS:
            diffs = [m[key] - r[key] for m, r in pairs]
            row[key] = {
                "mean": statistics.fmean(diffs),
                "min": min(diffs),
                "max": max(diffs),
                "higher": sum(d > 0 for d in diffs),
                "ci95": paired_interval(diffs),
            }
        out.append(row)
    return out


def paired_interval(differences: list[float], level: float = 0.95) -> list[float] | None:
    """The ``level`` confidence interval of the mean of paired differences (Student's t with
    n - 1 degrees of freedom); None with fewer than 2 differences.

    Examples:
        >>> [round(v, 2) for v in paired_interval([1.0, 2.0, 3.0])]
        [-0.48, 4.48]
    """
    from scipy import stats

    n = len(differences)
    if n < 2:
        return None
    mean = statistics.fmean(differences)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * statistics.stdev(differences) / n**0.5
    return [mean - half, mean + half]


def _comparison_table(comparisons: list[dict[str, Any]]) -> str:
    if not comparisons:
        return ""
    head = "| method - baseline | runs | " + " | ".join(label for _, label in METRICS) + " |"
    lines = [
        "Paired differences (method - baseline, same r and seed): mean [95 % interval, "
        "Student's t over the runs], and in how many runs the method was higher.",
        "",
        head,
        "|" + " --- |" * (len(METRICS) + 2),
    ]
    for row in comparisons:
        cells = [
            f"{row[k]['mean']:+.1f} {_interval(row[k].get('ci95'))} "
            f"{row[k]['higher']}/{row['runs']}"
            for k, _ in METRICS
        ]
        lines.append(
            f"| {row['method']} - {row['baseline']} | {row['runs']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def _curve_table(rows: list[dict[str, Any]]) -> str:
    """Mean validation linear / kNN top-1 by step, one line per arm and ``r``."""
    rows = [r for r in rows if r.get("curve")]
    if not rows:
        return ""
    lines = [
        "",
        "Learning curves on the validation split (mean over seeds): linear / kNN top-1 at each "
        "saved step (the untrained encoder at step 0).",
        "",
        "| r | arm | step: linear / kNN |",
        "| --- | --- | --- |",
    ]
    for row in rows:
        points = ", ".join(
            f"{c['step']}: {c['val_linear']:.0f} / {c['val_knn']:.0f}" for c in row["curve"]
        )
        lines.append(f"| {row['share']} | {row['arm']} | {points} |")
    return "\n".join(lines) + "\n"


def _interval(ci: list[float] | None) -> str:
    return "[n < 2]" if ci is None else f"[{ci[0]:+.1f}, {ci[1]:+.1f}]"


def _table(rows: list[dict[str, Any]]) -> str:
    head = "| r | arm | " + " | ".join(label for _, label in METRICS) + " | train (min) |"
    lines = [head, "|" + " --- |" * (len(METRICS) + 3)]
    for row in rows:
        cells = [f"{row[k]:.1f} ± {row[k + '_std']:.1f}" for k, _ in METRICS]
        lines.append(
            f"| {row['share']} | {row['arm']} | "
            + " | ".join(cells)
            + f" | {row['train_minutes']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict[str, Any]], spec: Scale) -> bytes:
    """Grouped bars (mean with a standard-deviation whisker) per metric, one panel per ``r``."""
    import io

    from PIL import Image, ImageDraw

    arms = list(dict.fromkeys(r["arm"] for r in rows))
    colours = [
        (90, 90, 90),
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
    ]
    panel_w, panel_h, margin = 900, 300, 50
    legend_rows = (len(arms) + 5) // 6
    image = Image.new(
        "RGB",
        (panel_w, margin + len(spec.shares) * (panel_h + margin) + 14 + 16 * legend_rows),
        "white",
    )
    draw = ImageDraw.Draw(image)
    for p, share in enumerate(spec.shares):
        top = margin + p * (panel_h + margin)
        draw.text(
            (10, top - 30),
            f"r = {share} (background sharing); bars: mean, whisker: std",
            fill="black",
        )
        for level in (25, 50, 75, 100):  # y axis: percent
            y = top + panel_h - panel_h * level / 100
            draw.line((40, y, panel_w - 10, y), fill=(225, 225, 225))
            draw.text((8, y - 6), f"{level}", fill="black")
        draw.line((40, top + panel_h, panel_w - 10, top + panel_h), fill="black")
        group_w = (panel_w - 60) / len(METRICS)
        for m, (key, label) in enumerate(METRICS):
            x0 = 50 + m * group_w
            draw.text((x0, top + panel_h + 5), label[:16], fill="black")
            for a, arm in enumerate(arms):
                row = next((r for r in rows if r["arm"] == arm and r["share"] == share), None)
                if row is None:
                    continue
                bar_w = (group_w - 10) / len(arms)
                bx = x0 + a * bar_w
                height = panel_h * min(100.0, row[key]) / 100.0
                draw.rectangle(
                    (bx, top + panel_h - height, bx + bar_w - 2, top + panel_h),
                    fill=colours[a % len(colours)],
                )
                std = panel_h * row[key + "_std"] / 100.0
                mid = bx + bar_w / 2
                draw.line(
                    (mid, top + panel_h - height - std, mid, top + panel_h - height + std),
                    fill="black",
                )
    for a, arm in enumerate(arms):
        x = 10 + (a % 6) * 148
        y = image.height - 22 - 16 * (legend_rows - 1 - a // 6)
        draw.rectangle((x, y, x + 10, y + 10), fill=colours[a % len(colours)])
        draw.text((x + 14, y - 2), arm, fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


__all__ = [
    "ARMS",
    "COMPARISONS",
    "DEFAULT_ARMS",
    "METRICS",
    "SCALES",
    "Scale",
    "base_recipe",
    "estimate_seconds",
    "learning_curve",
    "paired_interval",
    "run_study",
    "summarize",
    "untrained",
    "validation_scores",
    "validation_split",
]
