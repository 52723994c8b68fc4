"""Saliency detectors (docs/method.md, section 1) and a registry by name.

A detector is a callable ``image -> float32 (H, W) map in [0, 1]`` at the input's
resolution; images may be PIL, ``(H, W[, C])`` numpy (uint8 or float in [0, 1]) or
``(C, H, W)`` tensors, gray, RGB or RGBA.

========================  ====================================================================
name                      source
========================  ====================================================================
``spectral_residual``     OpenCV contrib, Hou & Zhang 2007 (about 0.1 ms at 224 px)
``fine_grained``          OpenCV contrib, Montabone & Soto 2010, the paper's "VSFs"
``rbd``                   robust background detection, Zhu et al. CVPR 2014 (SLIC superpixels)
``geodesic``              geodesic saliency, Wei et al. ECCV 2012 (SLIC superpixels)
``motion``                refuses: OpenCV motion saliency ("FST") needs video frames
========================  ====================================================================

Ground-truth boxes enter through :func:`box_saliency`, a user's network through
:class:`ModuleSaliency`.

Examples:
    >>> import numpy as np
    >>> detect = get_detector("spectral_residual")
    >>> detect(np.zeros((24, 32, 3), np.uint8)).shape
    (24, 32)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from saliencyaug.saliency.geodesic import geodesic
from saliencyaug.saliency.opencv import (
    fine_grained,
    motion_saliency,
    opencv_saliency_factory,
    spectral_residual,
)
from saliencyaug.saliency.rbd import rbd
from saliencyaug.saliency.sources import ModuleSaliency, box_saliency

Detector = Callable[[Any], np.ndarray]

_REGISTRY: dict[str, Detector] = {
    "spectral_residual": spectral_residual,
    "fine_grained": fine_grained,
    "rbd": rbd,
    "geodesic": geodesic,
    "motion": motion_saliency,
}


def register_detector(name: str, detector: Detector, *, overwrite: bool = False) -> None:
    """Make ``detector`` available as ``get_detector(name)``.

    Raises:
        TypeError: ``detector`` is not callable.
        ValueError: the name is taken and ``overwrite`` is False.
    """
    if not callable(detector):
        raise TypeError(f"detector must be callable, got {type(detector).__name__}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"a detector named {name!r} exists; pass overwrite=True to replace it")
    _REGISTRY[name] = detector


def available_detectors() -> list[str]:
    """Names accepted by :func:`get_detector` (``motion`` is listed but refuses stills)."""
    return sorted(_REGISTRY)


def get_detector(detector: str | Detector, **params: Any) -> Detector:
    """A detector by name (with keyword parameters bound), or a callable passed through.

    Args:
        detector: a registered name or a callable ``image -> map``.
        **params: keyword arguments bound to the named detector (e.g. ``n_segments=300``).

    Raises:
        ValueError: an unknown name, or ``motion`` (which needs video).
        TypeError: neither a name nor a callable.
    """
    if callable(detector):
        return partial(detector, **params) if params else detector
    if not isinstance(detector, str):
        raise TypeError(f"detector must be a name or a callable, got {type(detector).__name__}")
    if detector == "motion":
        motion_saliency(None)
    if detector not in _REGISTRY:
        raise ValueError(f"unknown detector {detector!r}; available: {available_detectors()}")
    fn = _REGISTRY[detector]
    return partial(fn, **params) if params else fn


STILL_IMAGE_DETECTORS = ("spectral_residual", "fine_grained", "rbd", "geodesic")
"""The built-in detectors that work on a still image (``motion`` needs video)."""

DEFAULT_DETECTOR = "geodesic"
"""The detector used where none is named (SaliencySwap, box files, recipes, the CLI).

Chosen by ``saliencyaug bench box-quality`` (docs/study.md): on 2,000 composite images it
found boxes with mean IoU 0.72 against the exact box (``spectral_residual``: 0.63), and it
needs no OpenCV contrib build. It costs a few milliseconds per image on one core (about 5 ms
at 128 px, 10-15 ms for 400-600 px photos, processed at 256 px); for the fastest pipelines,
precompute a box file or pass ``"spectral_residual"``.
"""

__all__ = [
    "DEFAULT_DETECTOR",
    "STILL_IMAGE_DETECTORS",
    "Detector",
    "ModuleSaliency",
    "available_detectors",
    "box_saliency",
    "fine_grained",
    "geodesic",
    "get_detector",
    "motion_saliency",
    "opencv_saliency_factory",
    "rbd",
    "register_detector",
    "spectral_residual",
]
