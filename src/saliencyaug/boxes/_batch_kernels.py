"""Batched box search: serial numba kernels over a slice ``[start, stop)`` of a ``(B, H, W)``
array, releasing the GIL, so that :mod:`saliencyaug.boxes.search` can run slices on a plain
thread pool.

Each map is converted to fixed point with its own scale exactly as the single-map path does, so
a batch returns the same boxes as a loop over :func:`saliencyaug.boxes.best_box`. numba's own
parallel layer (OpenMP, TBB or workqueue) is deliberately not used: OpenMP aborts forked
DataLoader workers once the parent has used it and shares its thread count with torch, and the
workqueue layer aborts when called from several threads.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from saliencyaug.boxes import _kernels


@nb.njit(cache=True, nogil=True)
def batch_excess(maps, taus, budget_fraction, out, start, stop):
    """``excess`` boxes (XYXY) of maps ``start..stop-1`` into ``out``; ``taus[i]`` is map i's
    level, NaN meaning the map's (order-independent) mean."""
    _, h, w = maps.shape
    for i in range(start, stop):
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


@nb.njit(cache=True, nogil=True)
def batch_fixed(maps, bh, bw, out, start, stop):
    """``fixed`` boxes of size ``bh x bw`` of maps ``start..stop-1`` into ``out``."""
    for i in range(start, stop):
        _, lo, hi = _kernels.map_stats(maps[i])
        span = hi - lo if hi > lo else 1.0
        q = _kernels.quantize(maps[i], lo, span, _kernels.fixed_scale(bh, bw))
        y0, x0, y1, x1 = _kernels.fixed_size_box(q, bh, bw)
        out[i, 0] = x0
        out[i, 1] = y0
        out[i, 2] = x1
        out[i, 3] = y1


@nb.njit(cache=True, nogil=True)
def batch_mean(maps, hmin, hmax, wmin, wmax, amin, sh, sw, budget_fraction, out, start, stop):
    """``mean`` boxes under size limits of maps ``start..stop-1`` into ``out``; ``sh x sw`` is
    admissible."""
    _, h, w = maps.shape
    for i in range(start, stop):
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
