"""Best-box search on saliency maps (SPEC.md section 2).

Example:
    >>> import numpy as np
    >>> from saliencyaug.boxes import best_box
    >>> s = np.zeros((10, 10), np.float32); s[2:6, 3:8] = 1
    >>> best_box(s)
    Box(x0=3, y0=2, x1=8, y1=6)
"""

from __future__ import annotations

from saliencyaug.boxes.brute_force import brute_force_best_box
from saliencyaug.boxes.search import (
    OBJECTIVES,
    Box,
    BoxSearch,
    Objective,
    best_box,
    best_boxes,
    largest_component_box,
    otsu_threshold,
)

__all__ = [
    "OBJECTIVES",
    "Box",
    "BoxSearch",
    "Objective",
    "best_box",
    "best_boxes",
    "brute_force_best_box",
    "largest_component_box",
    "otsu_threshold",
]
