"""The one place that imports OpenCV.

saliencyaug works with whichever single OpenCV wheel is installed (``opencv-python``,
``opencv-python-headless`` or their ``-contrib`` builds): the core needs a few common ``cv2``
functions; only the ``spectral_residual`` and ``fine_grained`` detectors need the contrib
``saliency`` module. It declares none of them as a dependency, since two OpenCV wheels in one
environment overwrite each other's ``cv2`` folder; ``pip install 'saliencyaug[opencv]'`` adds
the contrib headless build for environments that have no OpenCV yet.
"""

from __future__ import annotations

from typing import Any

INSTALL = (
    "install exactly one OpenCV wheel: pip install 'saliencyaug[opencv]' (the contrib headless "
    "build), or keep the opencv-python / opencv-python-headless you already have"
)

CONTRIB = (
    "it needs OpenCV's contrib modules (cv2.saliency), which this environment's OpenCV lacks: "
    "replace the wheel with its contrib build, e.g. pip uninstall -y opencv-python "
    "opencv-python-headless && pip install opencv-contrib-python-headless (never two OpenCV "
    "wheels side by side); or use the rbd or geodesic detectors, which need no contrib module"
)


def require_cv2() -> Any:
    """The ``cv2`` module, or an ``ImportError`` that says how to install OpenCV."""
    try:
        import cv2
    except ImportError as err:
        raise ImportError(f"saliencyaug needs OpenCV for this: {INSTALL}") from err
    return cv2


def saliency_factory(name: str, detector: str) -> Any:
    """``cv2.saliency.<name>``, or an ``ImportError`` that names the wheel to install.

    Availability is checked through the factory itself, not ``hasattr(cv2, "saliency")``: a
    plain OpenCV wheel installed beside the contrib one can shadow the module.
    """
    cv2 = require_cv2()
    factory = getattr(getattr(cv2, "saliency", None), name, None)
    if factory is None:
        raise ImportError(
            f"the {detector!r} detector (cv2.saliency.{name}) is unavailable: {CONTRIB}"
        )
    return factory


__all__ = ["CONTRIB", "INSTALL", "require_cv2", "saliency_factory"]
