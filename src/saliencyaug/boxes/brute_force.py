"""Brute-force best-box search over every box: the reference for tests and benchmarks.

It optimises the same fixed-point objective as :mod:`saliencyaug.boxes.search` (so ties are
exact in both) but enumerates all ``H(H+1)/2 * W(W+1)/2`` boxes with a summed-area table, with
no pruning and no size shortcut; the ``mean`` objective compares means as exact fractions.
``threshold`` is labelled with SciPy instead of OpenCV. O(H^2 W^2): about 0.7 s for a 224x224
map, fine for maps up to about 64x64 in tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from saliencyaug.boxes import _kernels
from saliencyaug.boxes.geometry import Box
from saliencyaug.boxes.objectives import Excess, Fixed, Mean, Objective, ObjectiveName
from saliencyaug.boxes.search import (
    BoxSearch,
    MapLike,
    as_saliency_array,
    excess_plan,
    fixed_plan,
    mean_plan,
    threshold_foreground,
)


def brute_force_best_box(
    saliency: MapLike, objective: ObjectiveName | Objective = "excess", **params: Any
) -> Box:
    """Best box by exhaustive enumeration; same arguments and result as :func:`best_box`.

    Args:
        saliency: ``(H, W)`` finite real map.
        objective: ``"excess"``, ``"mean"``, ``"threshold"``, ``"fixed"`` or an objective.
        **params: as for :class:`saliencyaug.boxes.BoxSearch`.

    Returns:
        The optimal :class:`Box` under the library's tie rule.

    Examples:
        >>> s = np.zeros((5, 5)); s[1:3, 2:4] = 1.0
        >>> brute_force_best_box(s)
        Box(x0=2, y0=1, x1=4, y1=3)
    """
    spec = BoxSearch(objective, **params).objective
    arr = as_saliency_array(saliency)
    h, w = arr.shape
    if isinstance(spec, Excess):
        prepared = excess_plan(spec, arr)
        if prepared is None:
            return Box(0, 0, w, h)
        _, _, y0, x0, y1, x1 = _kernels.brute_force_sum(prepared[0], 1, h, 1, w, 0)
    elif isinstance(spec, Mean):
        q, (hmin, _, wmin, _, amin) = mean_plan(spec, arr)
        y0, x0, y1, x1 = _kernels.brute_force_mean(q, hmin, wmin, amin)
    elif isinstance(spec, Fixed):
        q, bh, bw = fixed_plan(spec, arr)
        _, _, y0, x0, y1, x1 = _kernels.brute_force_sum(q, bh, bh, bw, bw, 0)
    else:
        return _largest_component_scipy(threshold_foreground(spec, arr))
    return Box(int(x0), int(y0), int(x1), int(y1))


def _largest_component_scipy(foreground: np.ndarray) -> Box:
    from scipy import ndimage

    h, w = foreground.shape
    labels, n = ndimage.label(foreground, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return Box(0, 0, w, h)
    best: tuple[int, int, int, int, int, int] | None = None
    for sl, lab in zip(ndimage.find_objects(labels), range(1, n + 1), strict=True):
        area = int((labels[sl] == lab).sum())
        y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
        key = (-area, (y1 - y0) * (x1 - x0), y0, x0, y1, x1)
        if best is None or key < best:
            best = key
    assert best is not None
    _, _, y0, x0, y1, x1 = best
    return Box(x0, y0, x1, y1)
