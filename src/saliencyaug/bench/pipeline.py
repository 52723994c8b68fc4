"""View-pipeline throughput: ``saliencyaug bench pipeline``.

Each first step is timed before two tails: the MoCo v2 augmentation pipeline of the CVSA paper
(Appendix A.1, the blur on every image, normalised) and a light one (flip, colour jitter
p=0.8, grayscale p=0.2, to float; no blur), where the first step's cost shows most. The first
step is ``RandomResizedCrop`` (the baseline), ``SaliencySwap`` with boxes from a cache (the
sample carries its ``BoundingBoxes``, the backgrounds theirs), or ``SaliencySwap`` with boxes
detected on the fly by each still-image detector, the default first, with SaliencySwap's
defaults (the foreground detected at ``detect_size``; each background's box detected once per
process, here before timing with ``prepare_backgrounds``, as after the first epoch of a long
run). On 500x375 photos (bundled photos under random crops and resizes) decoded in memory; one
process, one torch thread, pipelines interleaved round by round so that drift affects all
alike; images per second and ratios to the baseline with the same tail. Then
``BatchSaliencySwap`` on a (256, 3, 224, 224) batch on the CPU, and on CUDA when available.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from saliencyaug._opencv import require_cv2
from saliencyaug.bench.environment import machine_header
from saliencyaug.boxes import BoxSearch
from saliencyaug.demo import PHOTOS, bundled_photos
from saliencyaug.saliency import (
    DEFAULT_DETECTOR,
    STILL_IMAGE_DETECTORS,
    get_detector,
    spectral_residual,
)
from saliencyaug.transforms import BatchSaliencySwap, SaliencySwap, moco_v2_view

TARGETS = {"cached": 1.3, "on the fly": 2.0}
TAILS = ("moco_v2", "light")
BASELINE = "RandomResizedCrop (baseline)"


def _view(first: Any, tail: str) -> Callable[..., Any]:
    """``first`` followed by the named tail."""
    import torch
    from torchvision.transforms import v2

    if tail == "moco_v2":
        return moco_v2_view(first, blur_p=1.0)
    return v2.Compose(
        [
            first,
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            v2.RandomGrayscale(p=0.2),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )


def _available(detector: str) -> bool:
    """False for a detector whose library is missing (OpenCV contrib's)."""
    try:
        get_detector(detector)(np.zeros((8, 8, 3), np.uint8))
    except ImportError:
        return False
    return True


def _photos(n: int, seed: int) -> list[np.ndarray]:
    cv2 = require_cv2()

    rng = np.random.default_rng(seed)
    base = [img for _, img in bundled_photos((*PHOTOS, "cat"))]
    out = []
    for i in range(n):
        img = base[i % len(base)]
        h, w = img.shape[:2]
        ch, cw = int(h * rng.uniform(0.7, 1)), int(w * rng.uniform(0.7, 1))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        out.append(
            cv2.resize(
                np.ascontiguousarray(img[y : y + ch, x : x + cw]),
                (500, 375),
                interpolation=cv2.INTER_AREA,
            )
        )
    return out


def run(n_images: int = 64, rounds: int = 5, batch: int = 256, seed: int = 0) -> dict[str, Any]:
    """Measure and return ``{"header", "rows", "batch", "targets"}``."""
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        detectors = [DEFAULT_DETECTOR] + [
            d for d in STILL_IMAGE_DETECTORS if d != DEFAULT_DETECTOR and _available(d)
        ]
        photos = _photos(n_images, seed)
        tensors = [
            tv_tensors.Image(torch.from_numpy(p).permute(2, 0, 1).contiguous()) for p in photos
        ]
        search = BoxSearch()
        boxes = [
            tv_tensors.BoundingBoxes(
                [list(search(spectral_residual(p)))], format="XYXY", canvas_size=(375, 500)
            )
            for p in photos
        ]  # the box cache, computed once (what `saliencyaug boxes` stores)
        cached_pool = list(zip(tensors, boxes, strict=True))
        firsts: dict[str, tuple[Callable[[], Any], Callable[[int], tuple[Any, ...]]]] = {
            BASELINE: (lambda: v2.RandomResizedCrop(224), lambda i: (tensors[i],)),
            "SaliencySwap, cached boxes": (
                lambda: SaliencySwap(cached_pool, size=224),
                lambda i: (tensors[i], boxes[i]),
            ),
        }
        for detector in detectors:  # the default first: what a user gets without boxes
            label = " (default)" if detector == DEFAULT_DETECTOR else ""
            firsts[f"SaliencySwap, {detector} on the fly{label}"] = (
                functools.partial(SaliencySwap, tensors, size=224, detector=detector),
                lambda i: (tensors[i],),
            )
        pipelines = {}
        for tail in TAILS:
            for name, (make, args) in firsts.items():
                first = make()
                if isinstance(first, SaliencySwap):
                    # every background's box known, as after the first epoch of a long run
                    first.prepare_backgrounds(progress=False)
                pipelines[(tail, name)] = (_view(first, tail), args)
        times: dict[tuple[str, str], list[float]] = {k: [] for k in pipelines}
        with torch.random.fork_rng(devices=[]):  # the caller's RNG is left as it was
            torch.manual_seed(seed)
            for fn, args in pipelines.values():  # warm up
                fn(*args(0))
            for _ in range(rounds):
                for key, (fn, args) in pipelines.items():
                    t0 = time.perf_counter()
                    for i in range(n_images):
                        fn(*args(i))
                    times[key].append((time.perf_counter() - t0) / n_images)
        rows: list[dict[str, Any]] = []
        for (tail, name), ts in times.items():
            med = float(np.median(ts))
            base = float(np.median(times[(tail, BASELINE)]))
            rows.append(
                {
                    "tail": tail,
                    "pipeline": name,
                    "ms_per_image": med * 1e3,
                    "images_per_s": 1 / med,
                    "vs_baseline": med / base,
                }
            )
        batch_rows = []
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for dev in devices:
            imgs = torch.randint(0, 256, (batch, 3, 224, 224), dtype=torch.uint8, device=dev)
            bx = torch.tensor([[40, 30, 200, 190]] * batch, device=dev)
            swap = BatchSaliencySwap()
            swap(imgs, bx)
            ts = []
            for _ in range(rounds):
                if dev == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                swap(imgs, bx)
                if dev == "cuda":
                    torch.cuda.synchronize()
                ts.append(time.perf_counter() - t0)
            med = float(np.median(ts))
            batch_rows.append(
                {
                    "device": dev,
                    "batch": batch,
                    "ms_per_batch": med * 1e3,
                    "ms_per_image": med * 1e3 / batch,
                }
            )
    finally:
        torch.set_num_threads(threads)

    def ratio(tail: str, name: str) -> float:
        return next(r["vs_baseline"] for r in rows if r["tail"] == tail and r["pipeline"] == name)

    default = f"SaliencySwap, {DEFAULT_DETECTOR} on the fly (default)"
    targets: list[dict[str, Any]] = [
        {
            "target": "SaliencySwap with cached boxes <= 1.3x RandomResizedCrop (MoCo v2 tail)",
            "value": ratio("moco_v2", "SaliencySwap, cached boxes"),
            "limit": TARGETS["cached"],
        }
    ] + [
        {
            "target": f"SaliencySwap on the fly, default detector ({DEFAULT_DETECTOR}) <= 2x "
            f"RandomResizedCrop ({tail} tail)",
            "value": ratio(tail, default),
            "limit": TARGETS["on the fly"],
        }
        for tail in TAILS
    ]
    for t in targets:
        t["met"] = t["value"] <= t["limit"]
    header = machine_header() | {"torch_threads": 1, "images": n_images, "rounds": rounds}
    return {"header": header, "rows": rows, "batch": batch_rows, "targets": targets}


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables."""
    lines = ["# view-pipeline benchmark", ""]
    lines += [f"- {k}: {v}" for k, v in report["header"].items()]
    lines += [
        "",
        "| tail | first step (500x375 -> 224) | ms/image | images/s | vs baseline |",
        "|---|---|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['tail']} | {r['pipeline']} | {r['ms_per_image']:.2f} | "
            f"{r['images_per_s']:.0f} | {r['vs_baseline']:.2f}x |"
        )
    lines += ["", "| BatchSaliencySwap | batch | ms/batch | ms/image |", "|---|---:|---:|---:|"]
    for b in report["batch"]:
        lines.append(
            f"| {b['device']} | {b['batch']} | {b['ms_per_batch']:.1f} | {b['ms_per_image']:.3f} |"
        )
    lines += ["", "| target | measured | met |", "|---|---:|---|"]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | {t['value']:.2f}x | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(lines)
