"""Box-search speed benchmark: ``saliencyaug bench box-search``.

Maps: spectral-residual and fine-grained maps of scikit-image's bundled photos under random
crops, flips and scales, at 64x64, 224x224 and 375x500 (H x W), plus uniform-noise maps (the
worst case for branch and bound). Timed side by side in one run:

* our objectives (``excess``, ``mean`` with minimum size H/4 x W/4, ``fixed`` H/4 x W/4,
  ``threshold``) through the public :func:`saliencyaug.boxes.best_box`, one map at a time on
  one thread;
* baselines: the brute-force enumeration shipped with the library, the plain O(H^2 W)
  maximum-subarray search (numba, float64) and one float64 summed-area table (numba);
* a batch of 256 maps on one and on all threads (slices on a thread pool), and the torch kernel
  (on CUDA when available; on CPU only at 64x64, where it is merely informative).

Each map is timed individually (best of ``repeats``); tables give the median over maps in ms,
maps per second, and ratios to the baselines measured in the same run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from saliencyaug._opencv import require_cv2
from saliencyaug.bench.environment import machine_header
from saliencyaug.boxes import BoxSearch, best_boxes, brute_force_best_box
from saliencyaug.boxes.baselines import integral_image, max_subarray_2d
from saliencyaug.boxes.search import default_threads
from saliencyaug.boxes.torch_search import best_boxes_torch
from saliencyaug.demo import PHOTOS, bundled_photos
from saliencyaug.saliency import fine_grained, spectral_residual

SIZES: tuple[tuple[int, int], ...] = ((64, 64), (224, 224), (375, 500))

TARGETS = {
    "excess_real_224_ms": 0.25,
    "excess_noise_vs_kadane": 1.2,
    "fixed_vs_integral": 2.0,
    "mean_224_ms": 2.0,
}


@dataclass
class Row:
    """One timed method on one map set."""

    maps: str
    size: str
    method: str
    median_ms: float
    maps_per_s: float
    n: int
    vs_kadane: float | None = None
    vs_brute: float | None = None
    vs_integral: float | None = None


@dataclass
class Report:
    """All rows plus the environment header."""

    header: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    batch: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)


def make_maps(n: int, size: tuple[int, int], seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` real detector maps (half spectral residual, half fine-grained) and ``n`` noise maps.

    Each real map comes from a bundled photo under a random crop (50-100% of each side), a
    random horizontal flip and a resize to ``size``.
    """
    cv2 = require_cv2()

    rng = np.random.default_rng(seed)
    photos = [img for _, img in bundled_photos((*PHOTOS, "cat", "immunohistochemistry", "camera"))]
    h, w = size
    real = np.empty((n, h, w), np.float32)
    for i in range(n):
        img = photos[i % len(photos)]
        ih, iw = img.shape[:2]
        ch, cw = int(ih * rng.uniform(0.5, 1.0)), int(iw * rng.uniform(0.5, 1.0))
        y, x = int(rng.integers(0, ih - ch + 1)), int(rng.integers(0, iw - cw + 1))
        crop = img[y : y + ch, x : x + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_AREA)
        real[i] = spectral_residual(crop) if i % 2 == 0 else fine_grained(crop)
    noise = rng.random((n, h, w), dtype=np.float32)
    return {"real": real, "noise": noise}


def _time_each(
    fn: Callable[[np.ndarray], Any],
    maps: np.ndarray,
    repeats: int,
    warmup: np.ndarray | None = None,
) -> np.ndarray:
    fn(maps[0] if warmup is None else warmup)  # compile / warm up
    out = np.empty(len(maps))
    for i, m in enumerate(maps):
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            fn(m)
            best = min(best, time.perf_counter_ns() - t0)
        out[i] = best / 1e6
    return out


def run(
    n_maps: int = 64,
    sizes: Sequence[tuple[int, int]] = SIZES,
    repeats: int = 3,
    brute_maps: int = 2,
    batch_size: int = 256,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    brute_max_pixels: int | None = None,
) -> Report:
    """Run the benchmark and return its :class:`Report`.

    Args:
        n_maps: maps per set (real and noise) and size.
        sizes: ``(H, W)`` map sizes.
        repeats: timings per map (the best is kept).
        brute_maps: maps timed with brute force per set and size (0 to skip; it takes about
            0.7 s per 224x224 map and about 10 s per 375x500 map).
        batch_size: maps in the batched measurement (at 224x224).
        seed: seed of the random crops and noise.
        progress: callback for progress lines.
        brute_max_pixels: time brute force only on maps of at most this many pixels (None:
            every size).
    """
    say = progress or (lambda _msg: None)
    report = Report(
        machine_header("per map best of repeats; median over maps; single map calls on one thread")
    )
    threads = default_threads()
    for size in sizes:
        h, w = size
        sets = make_maps(n_maps, size, seed)
        quarter = (max(1, h // 4), max(1, w // 4))
        searches = {
            "excess": BoxSearch("excess"),
            f"mean min {quarter[0]}x{quarter[1]}": BoxSearch("mean", min_size=quarter),
            f"fixed {quarter[0]}x{quarter[1]}": BoxSearch("fixed", size=quarter),
            "threshold (otsu)": BoxSearch("threshold"),
        }
        for set_name, maps in sets.items():
            label = f"{h}x{w}"
            say(f"{set_name} {label}")
            kadane = _time_each(
                lambda m: max_subarray_2d(m.astype(np.float64) - m.mean()),
                maps,
                repeats,
            )
            integral = _time_each(integral_image, maps, max(repeats, 5))
            k_med = float(np.median(kadane))
            i_med = float(np.median(integral))
            brute_med = None
            if brute_maps > 0 and (brute_max_pixels is None or h * w <= brute_max_pixels):
                brute = _time_each(
                    brute_force_best_box, maps[:brute_maps], 1, warmup=maps[0][:8, :8]
                )
                brute_med = float(np.median(brute))
            for name, search in searches.items():
                times = _time_each(search, maps, repeats)
                med = float(np.median(times))
                report.rows.append(
                    Row(
                        set_name,
                        label,
                        name,
                        med,
                        1e3 / med,
                        len(maps),
                        vs_kadane=med / k_med,
                        vs_brute=None if brute_med is None else med / brute_med,
                        vs_integral=med / i_med,
                    )
                )
            report.rows.append(
                Row(
                    set_name,
                    label,
                    "baseline: plain max-subarray O(H^2 W)",
                    k_med,
                    1e3 / k_med,
                    len(maps),
                    vs_kadane=1.0,
                )
            )
            report.rows.append(
                Row(
                    set_name,
                    label,
                    "baseline: integral image (float64)",
                    i_med,
                    1e3 / i_med,
                    len(maps),
                    vs_integral=1.0,
                )
            )
            if brute_med is not None:
                report.rows.append(
                    Row(
                        set_name,
                        label,
                        "baseline: brute force (all boxes)",
                        brute_med,
                        1e3 / brute_med,
                        brute_maps,
                        vs_kadane=brute_med / k_med,
                        vs_brute=1.0,
                    )
                )
    report.batch = _batch_rows(batch_size, seed, threads, say)
    report.targets = _check_targets(report)
    return report


def _batch_rows(
    batch_size: int, seed: int, threads: int, say: Callable[[str], None]
) -> list[dict[str, Any]]:
    import torch

    say(f"batch of {batch_size} at 224x224")
    maps = make_maps(batch_size, (224, 224), seed + 1)["real"]
    rows = []
    counts = sorted({1, threads})
    samples: dict[int, list[float]] = {t: [] for t in counts}
    best_boxes(maps[:2])
    for _ in range(7):  # alternate thread counts so that drift affects both alike
        for t in counts:
            t0 = time.perf_counter()
            best_boxes(maps, threads=t)
            samples[t].append(time.perf_counter() - t0)
    per_thread = {t: float(np.median(v)) for t, v in samples.items()}
    for t in counts:
        rows.append(
            {
                "method": f"excess batch, {t} thread(s)",
                "batch": batch_size,
                "ms_per_batch": per_thread[t] * 1e3,
                "ms_per_map": per_thread[t] * 1e3 / batch_size,
                "speedup_vs_1_thread": per_thread[1] / per_thread[t],
            }
        )
    small = make_maps(batch_size, (64, 64), seed + 2)["real"]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        for label, arr in (("64x64", small), ("224x224", maps)):
            if dev == "cpu" and label != "64x64":
                continue  # the exhaustive torch kernel is a GPU algorithm
            x = torch.from_numpy(arr).to(dev)
            best_boxes_torch(BoxSearch(), x[:2])
            times = []
            for _ in range(3):
                if dev == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                best_boxes_torch(BoxSearch(), x)
                if dev == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            med = float(np.median(times))
            rows.append(
                {
                    "method": f"excess batch torch on {dev}, {label}",
                    "batch": batch_size,
                    "ms_per_batch": med * 1e3,
                    "ms_per_map": med * 1e3 / batch_size,
                    "speedup_vs_1_thread": None,
                }
            )
    return rows


def _find(report: Report, maps: str, size: str, prefix: str) -> Row | None:
    for r in report.rows:
        if r.maps == maps and r.size == size and r.method.startswith(prefix):
            return r
    return None


def _check_targets(report: Report) -> list[dict[str, Any]]:
    out = []
    ex = _find(report, "real", "224x224", "excess")
    if ex:
        out.append(
            {
                "target": "excess, real 224x224, median ms <= 0.25",
                "value": ex.median_ms,
                "met": ex.median_ms <= TARGETS["excess_real_224_ms"],
            }
        )
    nz = _find(report, "noise", "224x224", "excess")
    if nz and nz.vs_kadane is not None:
        out.append(
            {
                "target": "excess, noise 224x224, <= 1.2x plain max-subarray",
                "value": nz.vs_kadane,
                "met": nz.vs_kadane <= TARGETS["excess_noise_vs_kadane"],
            }
        )
    fx = _find(report, "real", "224x224", "fixed")
    if fx and fx.vs_integral is not None:
        out.append(
            {
                "target": "fixed, real 224x224, <= 2x one integral image",
                "value": fx.vs_integral,
                "met": fx.vs_integral <= TARGETS["fixed_vs_integral"],
            }
        )
    mn = _find(report, "real", "224x224", "mean")
    if mn:
        out.append(
            {
                "target": "mean min H/4 x W/4, real 224x224, median ms <= 2",
                "value": mn.median_ms,
                "met": mn.median_ms <= TARGETS["mean_224_ms"],
            }
        )
    two = [
        b
        for b in report.batch
        if b["method"].startswith("excess batch,")
        and b["speedup_vs_1_thread"]
        and "1 thread" not in b["method"]
    ]
    if two:
        out.append(
            {
                "target": "batch of 256 uses both cores (speed-up vs 1 thread)",
                "value": two[0]["speedup_vs_1_thread"],
                "met": two[0]["speedup_vs_1_thread"] > 1.5,
            }
        )
    return out


def format_report(report: Report) -> str:
    """Plain-text tables."""
    lines = ["# box-search benchmark", ""]
    lines += [f"- {k}: {v}" for k, v in report.header.items()]
    lines += [
        "",
        "| maps | size | method | median ms/map | maps/s | vs plain max-subarray "
        "| vs brute force | vs integral image |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]

    def fmt(v: float | None, spec: str = ".3g") -> str:
        return "" if v is None else format(v, spec)

    for r in report.rows:
        lines.append(
            f"| {r.maps} | {r.size} | {r.method} | {r.median_ms:.4f} | {r.maps_per_s:,.0f} "
            f"| {fmt(r.vs_kadane)} | {fmt(r.vs_brute)} | {fmt(r.vs_integral)} |"
        )
    lines += [
        "",
        "| batch method | maps | ms/batch | ms/map | speed-up vs 1 thread |",
        "|---|---:|---:|---:|---:|",
    ]
    for b in report.batch:
        lines.append(
            f"| {b['method']} | {b['batch']} | {b['ms_per_batch']:.1f} | {b['ms_per_map']:.4f} "
            f"| {fmt(b['speedup_vs_1_thread'], '.2f')} |"
        )
    lines += ["", "| target | measured | met |", "|---|---:|---|"]
    for t in report.targets:
        lines.append(f"| {t['target']} | {t['value']:.3g} | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(lines)


def report_json(report: Report) -> str:
    """The report as JSON."""
    return json.dumps(
        {
            "header": report.header,
            "rows": [asdict(r) for r in report.rows],
            "batch": report.batch,
            "targets": report.targets,
        },
        indent=2,
    )
