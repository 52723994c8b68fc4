"""Baselines the box-search benchmark times beside the library's search: the textbook
maximum-subarray search and one summed-area table (numba, float64).

Examples:
    >>> import numpy as np
    >>> s = np.array([[-1.0, 2.0], [3.0, -4.0]])
    >>> float(max_subarray_2d(s)[0]), float(integral_image(s)[-1, -1])
    (3.0, 0.0)
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def max_subarray_2d(s):
    """The textbook O(H^2 W) maximum-subarray (Kadane over row bands) in float64: the best
    ``(sum, y0, x0, y1, x1)`` of ``s``; no fixed point, no tie rule (a baseline)."""
    h, w = s.shape
    col = np.empty(w, dtype=np.float64)
    best = -np.inf
    by0 = bx0 = by1 = bx1 = 0
    for y0 in range(h):
        for x in range(w):
            col[x] = 0.0
        for y1 in range(y0 + 1, h + 1):
            run = 0.0
            start = 0
            for x in range(w):
                col[x] += s[y1 - 1, x]
                run += col[x]
                if run > best:
                    best = run
                    by0 = y0
                    by1 = y1
                    bx0 = start
                    bx1 = x + 1
                if run < 0.0:
                    run = 0.0
                    start = x + 1
    return best, by0, bx0, by1, bx1


@nb.njit(cache=True)
def integral_image(s):
    """A float64 summed-area table ``(H + 1, W + 1)`` of ``s`` (a baseline)."""
    h, w = s.shape
    ii = np.zeros((h + 1, w + 1), dtype=np.float64)
    for y in range(h):
        row = 0.0
        for x in range(w):
            row += s[y, x]
            ii[y + 1, x + 1] = ii[y, x + 1] + row
    return ii


__all__ = ["integral_image", "max_subarray_2d"]
