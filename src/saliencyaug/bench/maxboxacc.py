"""MaxBoxAcc speed: ``saliencyaug bench maxboxacc``.

Per CUB-sized image (375x500), one thread: the reference implementation (the authors'
procedure, literally: a binarisation and contour tracing per threshold of the 1000-threshold
grid, once for v1 and once for V2) against the fast one (one union-find pass per map), side by
side, each image timed for both in turn. Every image's v1 and V2 scores are checked equal.

Two kinds of CAM: ``object`` -- 7x7 maps made from the spectral-residual saliency of bundled
photos (one or a few blobs, as a trained network's CAM of a bird); ``random`` -- 7x7 uniform
noise, many peaks and holes at every level (the hard case for the fast path).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from saliencyaug._opencv import require_cv2
from saliencyaug.bench.environment import machine_header
from saliencyaug.demo import PHOTOS, bundled_photos
from saliencyaug.evaluation.maxboxacc import (
    image_scores,
    normalize_scoremap,
    reference_image_scores,
)
from saliencyaug.saliency import spectral_residual

SIZE = (375, 500)  # (H, W): a typical CUB image


def _cams(kind: str, n: int, seed: int) -> list[np.ndarray]:
    cv2 = require_cv2()

    rng = np.random.default_rng(seed)
    if kind == "random":
        return [rng.random((7, 7)).astype(np.float32) for _ in range(n)]
    photos = [img for _, img in bundled_photos((*PHOTOS, "cat"))]
    cams = []
    for i in range(n):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        ch, cw = int(h * rng.uniform(0.6, 1)), int(w * rng.uniform(0.6, 1))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        saliency = spectral_residual(np.ascontiguousarray(img[y : y + ch, x : x + cw]))
        cams.append(cv2.resize(saliency.astype(np.float32), (7, 7), interpolation=cv2.INTER_AREA))
    return cams


def run(n_images: int = 12, seed: int = 0) -> dict[str, Any]:
    """Measure and return ``{"header", "rows"}``; raises ``AssertionError`` if the two
    implementations ever differ."""
    cv2 = require_cv2()
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        thresholds = np.arange(0, 1, 0.001)
        h, w = SIZE
        gt = np.array([[w * 0.2, h * 0.2, w * 0.8, h * 0.85]]).round()
        image_scores(np.zeros((8, 8)), gt, thresholds)  # compile the kernels first
        rows = []
        for kind in ("object", "random"):
            fast_t, ref_t, ratios = [], [], []
            for cam in _cams(kind, n_images, seed):
                scoremap = normalize_scoremap(
                    cv2.resize(cam, (w, h), interpolation=cv2.INTER_CUBIC)
                )
                start = time.perf_counter()
                fast = image_scores(scoremap, gt, thresholds)
                fast_t.append(time.perf_counter() - start)
                start = time.perf_counter()
                ref = reference_image_scores(scoremap, gt, thresholds)
                ref_t.append(time.perf_counter() - start)
                assert all(np.array_equal(a, b) for a, b in zip(fast, ref, strict=True))
                ratios.append(ref_t[-1] / fast_t[-1])
            rows.append(
                {
                    "cams": kind,
                    "images": n_images,
                    "reference_ms": 1e3 * statistics.median(ref_t),
                    "fast_ms": 1e3 * statistics.median(fast_t),
                    "ratio": statistics.median(ratios),
                    "identical": True,
                }
            )
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv2_threads)
    header = machine_header("per image, one thread; medians over images") | {
        "image": f"{h}x{w}",
        "thresholds": len(thresholds),
    }
    return {"header": header, "rows": rows}


def format_report(report: dict[str, Any]) -> str:
    """A Markdown table of :func:`run`'s report."""
    lines = [
        "| CAMs | images | reference (ms/image) | fast (ms/image) | speed-up | identical |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['cams']} | {r['images']} | {r['reference_ms']:.1f} | {r['fast_ms']:.2f} | "
            f"{r['ratio']:.1f}x | {'yes' if r['identical'] else 'no'} |"
        )
    head = ", ".join(f"{k}: {v}" for k, v in report["header"].items())
    return head + "\n\n" + "\n".join(lines)


__all__ = ["format_report", "run"]
