"""Best-box search on saliency maps: box geometry, objectives and the exact search.

Examples:
    >>> import numpy as np
    >>> from saliencyaug.boxes import best_box
    >>> s = np.zeros((10, 10), np.float32); s[2:6, 3:8] = 1
    >>> best_box(s)
    Box(x0=3, y0=2, x1=8, y1=6)
"""

from __future__ import annotations

from saliencyaug.boxes.brute_force import brute_force_best_box
from saliencyaug.boxes.geometry import (
    Box,
    box_mask,
    boxes_to_list,
    largest_box,
    mask_box,
    scale_box,
    to_bounding_boxes,
)
from saliencyaug.boxes.objectives import (
    OBJECTIVES,
    Excess,
    Fixed,
    Mean,
    Objective,
    ObjectiveName,
    Threshold,
    make_objective,
)
from saliencyaug.boxes.search import BoxSearch, best_box, best_boxes
from saliencyaug.boxes.thresholds import largest_component_box, otsu_threshold

__all__ = [
    "OBJECTIVES",
    "Box",
    "BoxSearch",
    "Excess",
    "Fixed",
    "Mean",
    "Objective",
    "ObjectiveName",
    "Threshold",
    "best_box",
    "best_boxes",
    "box_mask",
    "boxes_to_list",
    "brute_force_best_box",
    "largest_box",
    "largest_component_box",
    "make_objective",
    "mask_box",
    "otsu_threshold",
    "scale_box",
    "to_bounding_boxes",
]
