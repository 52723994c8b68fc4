"""Box quality: ``saliencyaug bench box-quality``.

Which detector and box objective find the object? On composite images
(:class:`~saliencyaug.data.CompositeEmoji`, probe-test split: photographs the pre-training never
sees), every detector's map is computed once per image and every objective's best box is
compared with the exact box from the alpha channel: mean IoU, the share of images with
IoU >= 0.5, and the time per image (detector + box search, one thread).

The objectives are the library's: ``excess`` with tau = the map's mean (default) and with
Otsu's threshold, ``threshold`` at Otsu's threshold (the largest connected component's box),
and ``mean`` with a minimum area of 10 % of the image.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from saliencyaug.bench.environment import machine_header
from saliencyaug.boxes import Box, BoxSearch
from saliencyaug.data import CompositeEmoji
from saliencyaug.saliency import STILL_IMAGE_DETECTORS, get_detector

DETECTORS = STILL_IMAGE_DETECTORS
OBJECTIVES: dict[str, dict[str, Any]] = {
    "excess (tau mean)": {"objective": "excess"},
    "excess (tau otsu)": {"objective": "excess", "tau": "otsu"},
    "threshold (otsu)": {"objective": "threshold", "threshold": "otsu"},
    "mean (min area 10 %)": {"objective": "mean", "min_area": 0.1},
}


def box_iou(a: Box, b: tuple[float, float, float, float]) -> float:
    """IoU of two half-open XYXY boxes."""
    ix = max(0.0, min(a.x1, b[2]) - max(a.x0, b[0]))
    iy = max(0.0, min(a.y1, b[3]) - max(a.y0, b[1]))
    inter = ix * iy
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def run(images: int = 500, size: int = 128, assets: str | Path | None = None) -> dict[str, Any]:
    """Measure and return ``{"header", "rows"}`` (one row per detector and objective)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = CompositeEmoji(assets, "test", images, size, seed=7)
        pictures, truth = [], []
        for i in range(images):
            image, mask, _ = data.render(i)
            ys, xs = np.nonzero(mask)
            pictures.append(image)
            truth.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
        searches = {name: BoxSearch(**spec) for name, spec in OBJECTIVES.items()}
        rows = []
        for detector in DETECTORS:
            detect = get_detector(detector)
            detect(pictures[0])  # warm up (numba, OpenCV)
            maps, detect_ms = [], []
            for image in pictures:
                start = time.perf_counter()
                maps.append(detect(image))
                detect_ms.append(1e3 * (time.perf_counter() - start))
            for name, search in searches.items():
                ious, search_ms = [], []
                for saliency, box in zip(maps, truth, strict=True):
                    start = time.perf_counter()
                    found = search(saliency)
                    search_ms.append(1e3 * (time.perf_counter() - start))
                    ious.append(box_iou(found, box))
                rows.append(
                    {
                        "detector": detector,
                        "objective": name,
                        "mean_iou": float(np.mean(ious)),
                        "iou_at_least_0.5": float(np.mean(np.asarray(ious) >= 0.5)),
                        "ms_per_image": statistics.median(detect_ms) + statistics.median(search_ms),
                    }
                )
        # the whole image as the box: what no detector at all gives
        whole = [box_iou(Box(0, 0, size, size), box) for box in truth]
        rows.append(
            {
                "detector": "(none: whole image)",
                "objective": "-",
                "mean_iou": float(np.mean(whole)),
                "iou_at_least_0.5": float(np.mean(np.asarray(whole) >= 0.5)),
                "ms_per_image": 0.0,
            }
        )
    finally:
        torch.set_num_threads(threads)
    header = machine_header("medians per image, one thread") | {
        "images": images,
        "size": size,
        "data": repr(data),
    }
    return {"header": header, "rows": rows}


def format_report(report: dict[str, Any]) -> str:
    """A Markdown table of :func:`run`'s report, best mean IoU first."""
    lines = [
        "| detector | objective | mean IoU | IoU >= 0.5 | ms / image |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in sorted(report["rows"], key=lambda r: -r["mean_iou"]):
        lines.append(
            f"| {r['detector']} | {r['objective']} | {r['mean_iou']:.3f} | "
            f"{100 * r['iou_at_least_0.5']:.1f} % | {r['ms_per_image']:.2f} |"
        )
    head = ", ".join(f"{k}: {v}" for k, v in report["header"].items())
    return head + "\n\n" + "\n".join(lines)


__all__ = ["DETECTORS", "OBJECTIVES", "box_iou", "format_report", "run"]
