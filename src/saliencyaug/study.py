"""``saliencyaug study``: does an SSL method learn the object or the background?

Pre-trains every arm with the library's own trainers (``examples/train_*.py``, run as
subprocesses exactly as users run them) on the composite benchmark
(:class:`~saliencyaug.data.CompositeEmoji`), at background sharing ``r = 1`` (the background
identifies the instance: a shortcut) and at a large ``r`` (no shortcut), for several seeds;
then evaluates each encoder on probe splits whose backgrounds are disjoint from pre-training's:

* linear top-1 (the fast L-BFGS probe) and weighted kNN top-1 over the face classes;
* retrieval rank-1 and mAP within the probe-test split, and **across styles** (queries of one
  art style, gallery of the other);
* MaxBoxAcc (v1) against the exact boxes;
* **background leakage**: the accuracy of a linear probe that predicts which photograph is
  behind the object (half the probe-train images fit it, the other half score it; chance is one
  over the number of photographs). Lower means less background in the features.

Arms: an untrained encoder (reference), BYOL + RandomResizedCrop, BYOL + SaliencySwap,
BYOL + SaliencySwap + CVSA alignment, MoCo v2, MoCo v2 + decoder pairs (and, on request with
``--arms``, the Grad-CAM sign ablation ``moco-pairs-sign-loss``). Every run writes
``runs/<arm>-r<r>-s<seed>/`` (the trainer's run folder) and ``results/<...>.json``; a rerun
skips what is done and resumes what was interrupted. ``summary.json``, ``summary.md`` and
``summary.png`` hold the means and sample standard deviations over seeds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from saliencyaug.data import CompositeEmoji, collect_assets, default_assets_dir
from saliencyaug.data.assets import MANIFEST
from saliencyaug.evaluation.features import extract_features
from saliencyaug.evaluation.linear import linear_probe_lbfgs
from saliencyaug.evaluation.report import evaluate_splits
from saliencyaug.io import atomic_write_bytes, atomic_write_text
from saliencyaug.models import load_encoder, make_backbone
from saliencyaug.transforms.presets import eval_view


@dataclass(frozen=True)
class Scale:
    """A study's size: images, backbone, steps, probe sets, background sharing, seeds."""

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
    classes: int | None


SCALES = {
    "smoke": Scale(32, (8, 8, 16, 16), 64, 16, 2, 60, 40, (1, 8), (0,), 32, 16, 0, 10),
    "cpu": Scale(48, (16, 32, 64, 128), 4096, 64, 500, 3000, 1500, (1, 32), (0, 1), 256, 64, 1, 20),
    "gpu": Scale(128, None, 20000, 256, 4000, 8000, 4000, (1, 64), (0, 1, 2), 2048, 256, 8, None),
}

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

# The papers' claims as paired comparisons (method, its baseline): same seed and r, so the
# pre-training data and the probe splits are identical and only the method differs.
COMPARISONS = (
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
    if scale.widths is None:
        return ["model.arch=resnet18", "model.backbone={}"]
    widths = ", ".join(str(w) for w in scale.widths)
    return ["model.arch=small_resnet", f"model.backbone={{widths = [{widths}]}}"]


def _overrides(scale: Scale, assets: Path, share: int, seed: int, base: str) -> list[str]:
    knobs = f"length = {scale.pretrain_images}, share = {share}, size = {scale.size}"
    if scale.classes is not None:
        knobs += f", classes = {scale.classes}"
    options = "{" + knobs + "}"
    out = [
        "data.dataset=composite",
        f"data.root={assets}",
        f"data.size={scale.size}",
        f"data.options={options}",
        f"data.num_workers={scale.workers}",
        "data.boxes=ground_truth",
        *_arch(scale),
        f"model.hidden_dim={scale.hidden_dim}",
        f"model.output_dim={scale.output_dim}",
        "model.freeze_stages=0",
        f"optim.batch_size={scale.batch_size}",
        f"optim.max_steps={scale.steps}",
        f"train.seed={seed}",
        f"train.checkpoint_every={max(1, scale.steps // 4)}",
        f"train.log_every={max(1, scale.steps // 20)}",
        "train.progress=false",
        "train.tensorboard=false",
        "eval.train_root=",
        "eval.test_root=",
    ]
    if base.startswith("smoke-moco"):
        queue = max(scale.batch_size, (scale.pretrain_images - scale.batch_size) // 2)
        out += [f"moco.queue={queue}", f"moco.dim={scale.output_dim}"]
        out += [f"moco.hidden_dim={scale.hidden_dim}", f"pairs.decoder_size={scale.size}"]
        out += [f"pairs.bank={min(5632, scale.pretrain_images)}", "pairs.pretrain_epochs=1"]
    return out


def _train(
    arm: str, scale: Scale, assets: Path, share: int, seed: int, folder: Path
) -> Path | None:
    """Run the arm's trainer (resuming an interrupted run); returns its encoder file."""
    script, extra = ARMS[arm]
    if script is None:
        return None
    encoder = folder / "encoder.pt"
    if encoder.exists():
        return encoder
    base = {"train_moco.py": "smoke-moco", "train_supervised.py": "smoke-supervised"}.get(
        script, "smoke-byol"
    )
    argv = [sys.executable, str(examples_dir() / script), "--recipe", base, "--out", str(folder)]
    if (folder / "log.jsonl").exists() or (folder / "checkpoint.pt").exists():
        argv.append("--resume")
    argv += ["--set", *_overrides(scale, assets, share, seed, base), *extra]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{arm} (r={share}, seed={seed}) failed:\n{done.stderr[-3000:]}")
    return encoder


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
    probe_train = CompositeEmoji(
        assets, "train", scale.probe_train, scale.size, seed=1000 + seed, classes=scale.classes
    )
    probe_test = CompositeEmoji(
        assets, "test", scale.probe_test, scale.size, seed=2000 + seed, classes=scale.classes
    )
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
    )
    view = eval_view(scale.size, resize=scale.size)

    class _Plain:
        def __call__(self, image: Any, boxes: Any = None) -> torch.Tensor:
            return view(image)

    probe_test.transform = probe_train.transform = _Plain()
    xte, yte = extract_features(encoder, DataLoader(probe_test, batch_size=128), "cpu", False)
    xtr, _ = extract_features(encoder, DataLoader(probe_train, batch_size=128), "cpu", False)
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


def run_study(
    out: str | Path,
    scale: str = "cpu",
    arms: tuple[str, ...] | None = None,
    assets: str | Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Run (or resume) the study into ``out`` and write its summary; returns the summary."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    spec = SCALES[scale]
    chosen = arms or DEFAULT_ARMS
    unknown = [a for a in chosen if a not in ARMS]
    if unknown:
        raise ValueError(f"unknown arms {unknown}; known: {sorted(ARMS)}")
    folder = Path(out)
    assets_dir = Path(assets) if assets is not None else default_assets_dir()
    if not (assets_dir / MANIFEST).exists():
        log(f"collecting pictures into {assets_dir}")
        collect_assets(assets_dir)
    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    for share in spec.shares:
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
                    torch.manual_seed(seed)
                    arch = "resnet18" if spec.widths is None else "small_resnet"
                    options = {} if spec.widths is None else {"widths": list(spec.widths)}
                    encoder = make_backbone(arch, **options)
                else:
                    encoder = load_encoder(encoder_file)
                metrics = _evaluate(encoder, spec, assets_dir, seed)
                record = {
                    "arm": arm,
                    "share": share,
                    "seed": seed,
                    "scale": scale,
                    "train_seconds": trained,
                    "eval_seconds": time.time() - start - trained,
                    **metrics,
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
            rows.append(row)
    comparisons = _compare(records, arms, spec)
    summary = {
        "rows": rows,
        "comparisons": comparisons,
        "metrics": dict(METRICS),
        "machine": _machine(),
    }
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(folder / "summary.md", _table(rows) + "\n" + _comparison_table(comparisons))
    atomic_write_bytes(folder / "summary.png", _plot(rows, spec))
    return summary


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
            }
        out.append(row)
    return out


def _comparison_table(comparisons: list[dict[str, Any]]) -> str:
    if not comparisons:
        return ""
    head = "| method - baseline | runs | " + " | ".join(label for _, label in METRICS) + " |"
    lines = [
        "Paired differences (method - baseline, same r and seed): mean (min..max), "
        "and in how many runs the method was higher.",
        "",
        head,
        "|" + " --- |" * (len(METRICS) + 2),
    ]
    for row in comparisons:
        cells = [
            f"{row[k]['mean']:+.1f} ({row[k]['min']:+.1f}..{row[k]['max']:+.1f}) "
            f"{row[k]['higher']}/{row['runs']}"
            for k, _ in METRICS
        ]
        lines.append(
            f"| {row['method']} - {row['baseline']} | {row['runs']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def _machine() -> dict[str, Any]:
    import platform

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


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
    "run_study",
    "summarize",
]
