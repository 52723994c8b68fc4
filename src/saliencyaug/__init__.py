"""saliencyaug: saliency-guided views and losses for fine-grained self-supervised learning.

Importing the package changes no global state (no OpenCV thread count, no RNG seed, no numba
thread count); heavy submodules are imported on first use.

Examples:
    >>> import numpy as np
    >>> from saliencyaug import best_box, get_detector
    >>> image = np.zeros((64, 64, 3), np.uint8); image[20:40, 10:30] = 255
    >>> box = best_box(get_detector("spectral_residual")(image))
    >>> box.area > 0
    True
"""

from __future__ import annotations

from saliencyaug._checks import DeferredChecks
from saliencyaug._version import __version__
from saliencyaug.boxes import Box, BoxSearch, best_box, best_boxes, brute_force_best_box
from saliencyaug.saliency import (
    ModuleSaliency,
    available_detectors,
    box_saliency,
    get_detector,
    register_detector,
)

__all__ = [
    "Box",
    "BoxSearch",
    "DeferredChecks",
    "ModuleSaliency",
    "__version__",
    "available_detectors",
    "best_box",
    "best_boxes",
    "box_saliency",
    "brute_force_best_box",
    "get_detector",
    "register_detector",
]
