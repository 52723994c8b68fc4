"""OpenCV contrib static saliency detectors (docs/method.md, section 1).

* :func:`spectral_residual` -- Hou & Zhang, "Saliency Detection: A Spectral Residual
  Approach", CVPR 2007 (``cv2.saliency.StaticSaliencySpectralResidual``). Works internally at
  64x64, so its maps carry no detail finer than that.
* :func:`fine_grained` -- Montabone & Soto, "Human detection using a mobile platform and novel
  features derived from a visual saliency mechanism", IVC 2010, the CVSA paper's "VSFs"
  (``cv2.saliency.StaticSaliencyFineGrained``). It is always fed uint8: given a float image
  OpenCV silently returns a map uncorrelated with the right one (a bug found in public
  SaliencyMix code).

OpenCV's motion saliency (the paper's "FST", ``MotionSaliencyBinWangApr2014``) models a video's
background over many frames; on a still image it has nothing to model, so
:func:`motion_saliency` refuses rather than return a constant map.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from saliencyaug._opencv import require_cv2, saliency_factory
from saliencyaug.image import to_rgb_uint8


def opencv_saliency_factory(name: str) -> Any:
    """Return ``cv2.saliency.<name>`` (a factory function), or raise an error saying which
    OpenCV wheel to install and which to remove (see :mod:`saliencyaug._opencv`).

    Raises:
        ImportError: OpenCV is missing or lacks the contrib saliency module.
    """
    detector = {
        "StaticSaliencySpectralResidual_create": "spectral_residual",
        "StaticSaliencyFineGrained_create": "fine_grained",
    }.get(name, name)
    return saliency_factory(name, detector)


def _normalise(saliency_map: np.ndarray) -> np.ndarray:
    out = np.asarray(saliency_map, dtype=np.float32)
    if not np.isfinite(out).all():
        raise RuntimeError("OpenCV returned a saliency map with NaN or inf")
    lo, hi = float(out.min()), float(out.max())
    out = (out - lo) / (hi - lo) if hi > lo else np.zeros_like(out)
    return np.ascontiguousarray(out, dtype=np.float32)


def _run(factory_name: str, image: Any) -> np.ndarray:
    detector = opencv_saliency_factory(factory_name)()  # cheap; objects are not thread-safe
    cv2 = require_cv2()
    rgb = to_rgb_uint8(image)
    ok, saliency_map = detector.computeSaliency(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"cv2.saliency.{factory_name} failed on an image of shape {rgb.shape}")
    return _normalise(saliency_map)


def spectral_residual(image: Any) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) via OpenCV contrib.

    Args:
        image: PIL image, ``(H, W[, C])`` uint8/float numpy array or ``(C, H, W)`` tensor.

    Returns:
        float32 ``(H, W)`` map in [0, 1] (min-max normalised; zeros for a flat image).

    Raises:
        ImportError: OpenCV contrib is not installed (the message says how to fix it).

    Examples:
        >>> import numpy as np
        >>> spectral_residual(np.zeros((32, 48, 3), np.uint8)).shape
        (32, 48)
    """
    return _run("StaticSaliencySpectralResidual_create", image)


def fine_grained(image: Any) -> np.ndarray:
    """Fine-grained static saliency (Montabone & Soto 2010), the CVSA paper's "VSFs".

    The image is converted to uint8 BGR before OpenCV sees it, so a float image in [0, 1] and
    its uint8 version give the same map.

    Args:
        image: PIL image, ``(H, W[, C])`` uint8/float numpy array or ``(C, H, W)`` tensor.

    Returns:
        float32 ``(H, W)`` map in [0, 1].

    Raises:
        ImportError: OpenCV contrib is not installed.
    """
    return _run("StaticSaliencyFineGrained_create", image)


def motion_saliency(image: Any) -> np.ndarray:
    """Always raises: OpenCV's motion saliency (the paper's "FST") needs a video.

    ``MotionSaliencyBinWangApr2014`` learns a background model from a sequence of frames; fed
    a single still image it returns a map with no information. Use ``spectral_residual``,
    ``fine_grained``, ``rbd`` or ``geodesic`` for still images.

    Raises:
        ValueError: always.
    """
    raise ValueError(
        "motion saliency (OpenCV MotionSaliencyBinWangApr2014, the paper's 'FST') needs a "
        "sequence of video frames and is not a detector for still images; use "
        "'spectral_residual', 'fine_grained', 'rbd' or 'geodesic'"
    )
