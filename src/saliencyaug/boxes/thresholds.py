"""Thresholding a saliency map: Otsu's level and the largest connected component's box.

Examples:
    >>> import numpy as np
    >>> m = np.zeros((6, 6)); m[1:3, 1:4] = 1; m[4, 5] = 1
    >>> largest_component_box(m > 0.5)
    Box(x0=1, y0=1, x1=4, y1=3)
"""

from __future__ import annotations

import numpy as np

from saliencyaug._opencv import require_cv2
from saliencyaug.boxes.geometry import Box


def otsu_threshold(saliency: np.ndarray) -> float:
    """Otsu's threshold of a map (scikit-image, 256 bins); the map's value if it is constant.

    The map is normalised to [0, 1] first so that very large values cannot overflow Otsu's
    between-class variance.

    Examples:
        >>> 0.0 < otsu_threshold(np.array([[0.0, 0.1], [0.9, 1.0]])) < 0.9
        True
    """
    from skimage.filters import threshold_otsu

    lo = float(saliency.min())
    hi = float(saliency.max())
    if lo == hi:
        return lo
    unit = (np.asarray(saliency, dtype=np.float64) - lo) / (hi - lo)
    return lo + float(threshold_otsu(unit)) * (hi - lo)


def largest_component_box(foreground: np.ndarray) -> Box:
    """Bounding box of the largest 8-connected component of a boolean mask.

    Ties between equally large components go to the smaller bounding box, then the first in
    row-major order. An all-false mask gives the whole image.

    Args:
        foreground: bool ``(H, W)``.

    Returns:
        The component's bounding :class:`Box`.
    """
    cv2 = require_cv2()

    h, w = foreground.shape
    if not foreground.any():
        return Box(0, 0, w, h)
    n, _, stats, _ = cv2.connectedComponentsWithStats(
        foreground.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    comps = stats[1:n].astype(np.int64)
    x0, y0, cw, ch, area = comps.T
    order = np.lexsort((x0 + cw, y0 + ch, x0, y0, cw * ch, -area))
    i = order[0]
    return Box(int(x0[i]), int(y0[i]), int(x0[i] + cw[i]), int(y0[i] + ch[i]))


__all__ = ["largest_component_box", "otsu_threshold"]
