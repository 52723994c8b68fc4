"""Batched box search: numba ``prange`` over the maps of a ``(B, H, W)`` array.

Each map is converted to fixed point with its own scale exactly as the single-map path in
:mod:`saliencyaug.boxes.search` does, so a batch returns the same boxes as a loop over
:func:`saliencyaug.boxes.best_box`. Work is spread over numba's thread pool
(``numba.set_num_threads`` / ``NUMBA_NUM_THREADS`` choose its size).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from saliencyaug.boxes import _kernels


@nb.njit(cache=True, parallel=True)
def batch_excess(maps, taus, budget_fraction):
    """``excess`` boxes (XYXY int64 ``(B, 4)``) of finite maps.

    ``taus[i]`` is map i's level; NaN means the map's (order-independent) mean.
    """
    b, h, w = maps.shape
    out = np.empty((b, 4), dtype=np.int64)
    for i in nb.prange(b):
        _, lo, hi = _kernels.map_stats(maps[i])
        out[i, 0] = 0
        out[i, 1] = 0
        out[i, 2] = w
        out[i, 3] = h
        if hi == lo:
            continue
        tau = taus[i]
        if np.isnan(tau):  # tau='mean'
            tau = _kernels.exact_mean(maps[i], max(abs(lo), abs(hi)))
        span = max(hi - tau, tau - lo)
        if hi <= tau:
            continue
        q, ry0, ry1, rx0, rx1 = _kernels.quantize_support(
            maps[i], tau, span, _kernels.excess_scale(h, w)
        )
        if ry0 == h:
            continue
        _, y0, x0, y1, x1, _ = _kernels.excess_box(q, ry0, ry1, rx0, rx1, budget_fraction)
        out[i, 0] = x0
        out[i, 1] = y0
        out[i, 2] = x1
        out[i, 3] = y1
    return out


@nb.njit(cache=True, parallel=True)
def batch_fixed(maps, bh, bw):
    """``fixed`` boxes of size ``bh x bw`` (XYXY int64 ``(B, 4)``)."""
    b = maps.shape[0]
    out = np.empty((b, 4), dtype=np.int64)
    for i in nb.prange(b):
        _, lo, hi = _kernels.map_stats(maps[i])
        span = hi - lo if hi > lo else 1.0
        q = _kernels.quantize(maps[i], lo, span, _kernels.fixed_scale(bh, bw))
        y0, x0, y1, x1 = _kernels.fixed_size_box(q, bh, bw)
        out[i, 0] = x0
        out[i, 1] = y0
        out[i, 2] = x1
        out[i, 3] = y1
    return out


@nb.njit(cache=True, parallel=True)
def batch_mean(maps, hmin, hmax, wmin, wmax, amin, sh, sw, budget_fraction):
    """``mean`` boxes under size limits (XYXY int64 ``(B, 4)``); ``sh x sw`` is admissible."""
    b, h, w = maps.shape
    out = np.empty((b, 4), dtype=np.int64)
    for i in nb.prange(b):
        _, lo, hi = _kernels.map_stats(maps[i])
        span = hi - lo if hi > lo else 1.0
        q = _kernels.quantize(maps[i], lo, span, _kernels.mean_scale(h, w, hmax * wmax))
        y0, x0, y1, x1 = _kernels.fixed_size_box(q, sh, sw)
        y0, x0, y1, x1, _ = _kernels.mean_box(
            q, hmin, hmax, wmin, wmax, amin, y0, x0, y1, x1, budget_fraction
        )
        out[i, 0] = x0
        out[i, 1] = y0
        out[i, 2] = x1
        out[i, 3] = y1
    return out
