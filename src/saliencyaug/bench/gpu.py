"""One GPU benchmark: ``python -m saliencyaug.bench.gpu`` (``benchmarks/gpu.sh`` runs the CUDA
tests first, then this).

On one GPU, side by side in one process: the batched box search (maps per second at 224x224,
every objective, ``BoxSearch.batch`` on CUDA tensors), ``BatchSaliencySwap`` (images per
second, a (256, 3, 224, 224) batch) and the training-step times of BYOL, BYOL + CVSA, MoCo v2
and MoCo v2 + the decoder-pair objective (ResNet-50, 224 px, float16 autocast, batch 64 per
view), each with its peak GPU memory and the two methods' ratios to their base. The defaults
finish in a few minutes on one modern GPU.

``--dry-run`` runs the same code on the CPU at toy sizes (ResNet-18, 32 px, batch 2, one
step) in seconds: what CI checks, since it has no GPU.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from saliencyaug.bench.environment import machine_header
from saliencyaug.bench.train_step import LABELS, step_function
from saliencyaug.boxes import BoxSearch
from saliencyaug.io import atomic_write_text
from saliencyaug.transforms import BatchSaliencySwap

OBJECTIVES: dict[str, BoxSearch] = {
    "excess": BoxSearch("excess"),
    "mean (min area 10 %)": BoxSearch("mean", min_area=0.1),
    "fixed 56x56": BoxSearch("fixed", size=(56, 56)),
    "threshold (otsu)": BoxSearch("threshold"),
}


@dataclass(frozen=True)
class Scale:
    """The sizes one run uses."""

    device: str
    arch: str
    image: int
    batch: int
    steps: int
    maps: int
    swap_batch: int
    amp: bool


FULL = Scale("cuda", "resnet50", 224, 64, 10, 1024, 256, True)
DRY_RUN = Scale("cpu", "resnet18", 32, 2, 1, 8, 4, False)


def _timed(fn: Callable[[], Any], device: str, repeats: int) -> float:
    """Median seconds of ``fn`` over ``repeats`` calls after one warm-up, synchronised."""
    fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _peak_mib(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None


def run(dry_run: bool = False) -> dict[str, Any]:
    """Measure and return ``{"header", "box_search", "swap", "steps", "ratios"}``.

    Raises:
        RuntimeError: no CUDA device without ``dry_run``.
    """
    scale = DRY_RUN if dry_run else FULL
    if scale.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("no CUDA device: run on a GPU, or pass --dry-run to check on the CPU")
    device = scale.device
    generator = torch.Generator(device=device).manual_seed(0)
    size = 224 if not dry_run else 64
    maps = torch.rand(scale.maps, size, size, device=device, generator=generator)
    box_rows = []
    for name, search in OBJECTIVES.items():
        if name.startswith("fixed") and dry_run:
            name, search = "fixed 16x16", BoxSearch("fixed", size=(16, 16))
        seconds = _timed(partial(search.batch, maps), device, 3)
        box_rows.append(
            {
                "objective": name,
                "size": size,
                "maps": scale.maps,
                "maps_per_s": scale.maps / seconds,
            }
        )
    images = torch.randint(0, 256, (scale.swap_batch, 3, size, size), device=device)
    images = images.to(torch.uint8)
    boxes = torch.tensor([[size // 5, size // 6, 4 * size // 5, 5 * size // 6]], device=device)
    swap = BatchSaliencySwap()
    seconds = _timed(lambda: swap(images, boxes.expand(scale.swap_batch, 4)), device, 5)
    swap_row = {"batch": scale.swap_batch, "images_per_s": scale.swap_batch / seconds}
    step_rows: list[dict[str, Any]] = []
    for variant in ("byol", "cvsa", "moco", "pairs"):
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        step = step_function(
            variant,
            scale.batch,
            scale.image,
            4096,
            128,
            arch=scale.arch,
            device=device,
            amp=scale.amp,
        )
        seconds = _timed(step, device, scale.steps)
        step_rows.append(
            {
                "variant": LABELS[variant],
                "step_s": seconds,
                "images_per_s": scale.batch / seconds,
                "peak_mib": _peak_mib(device),
            }
        )
        del step
    by: dict[str, float] = {str(r["variant"]): float(r["step_s"]) for r in step_rows}
    ratios = {
        "BYOL + CVSA / BYOL": by[LABELS["cvsa"]] / by[LABELS["byol"]],
        "MoCo v2 + pairs / MoCo v2": by[LABELS["pairs"]] / by[LABELS["moco"]],
    }
    header = machine_header() | {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu (dry run)",
        "arch": scale.arch,
        "image": scale.image,
        "batch_per_view": scale.batch,
        "amp": scale.amp,
        "decoder_size": 128,
    }
    return {
        "header": header,
        "box_search": box_rows,
        "swap": swap_row,
        "steps": step_rows,
        "ratios": ratios,
    }


def format_report(report: dict[str, Any]) -> str:
    """One Markdown table per part."""
    lines = ["# GPU benchmark", ""]
    lines += [f"- {k}: {v}" for k, v in report["header"].items()]
    lines += ["", "| batched box search | map size | maps/s |", "|---|---:|---:|"]
    lines += [
        f"| {r['objective']} | {r['size']} | {r['maps_per_s']:.0f} |" for r in report["box_search"]
    ]
    swap = report["swap"]
    lines += ["", "| BatchSaliencySwap | images/s |", "|---|---:|"]
    lines += [f"| batch {swap['batch']} | {swap['images_per_s']:.0f} |"]
    lines += ["", "| training step | s/step | images/s | peak MiB |", "|---|---:|---:|---:|"]
    for r in report["steps"]:
        peak = "" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        lines.append(f"| {r['variant']} | {r['step_s']:.4f} | {r['images_per_s']:.0f} | {peak} |")
    lines += ["", "| ratio | value |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f}x |" for k, v in report["ratios"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m saliencyaug.bench.gpu [--dry-run] [--json PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m saliencyaug.bench.gpu", description=__doc__)
    parser.add_argument(
        "--dry-run", action="store_true", help="toy sizes on the CPU, to check the script"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = run(dry_run=args.dry_run)
    except RuntimeError as err:
        print(f"error: {err}")
        return 2
    print(format_report(report))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
