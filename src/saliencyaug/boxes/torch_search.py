"""Batched best-box search in torch, for maps that already live on a GPU.

:func:`best_boxes_torch` runs the ``excess`` and ``fixed`` objectives on the tensor's device
with the same fixed-point maps, the same order-independent mean and the same tie rule as the
numba path, so both return identical boxes (the tests check this against brute force on CPU
tensors; CUDA is the intended device).

``excess`` is solved exhaustively and exactly: for each top row ``y0`` every band
``[y0, y1)`` is handled at once, its best column interval found with prefix sums and running
minima (``cummin``), in int64. That is the O(H^2 W) maximum-subarray work, spread over the
GPU instead of pruned by branch and bound, which suits a GPU's lack of branching; it is the
wrong algorithm on a CPU, where :meth:`BoxSearch.batch` uses numba instead. ``fixed`` is a
summed-area table and one ``argmax``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from saliencyaug.boxes.objectives import Excess, Fixed

if TYPE_CHECKING:
    import torch

_MAX_SIDE = 8191  # keys pack (area, x0, y1) into 26 + 13 + 13 bits


def _round_half_up(v: torch.Tensor) -> torch.Tensor:
    """``floor(v + 0.5)`` as int64, the rounding of the numba kernels."""
    import torch

    return torch.floor(v + 0.5).to(torch.int64)


def _ldexp(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``v * 2**k`` exactly, in two steps so that ``2**k`` itself never overflows."""
    import torch

    k1 = torch.div(k, 2, rounding_mode="floor")
    k2 = k - k1
    two = torch.tensor(2.0, dtype=torch.float64, device=v.device)
    return v * torch.pow(two, k1) * torch.pow(two, k2)


def exact_mean_torch(maps: torch.Tensor, absmax: torch.Tensor) -> torch.Tensor:
    """Per-map mean equal bit for bit to ``_kernels.exact_mean`` (order-independent).

    Args:
        maps: float64 ``(B, H, W)``.
        absmax: float64 ``(B,)``, the largest absolute value of each map.

    Returns:
        float64 ``(B,)``.
    """
    import torch

    b, h, w = maps.shape
    n = h * w
    e = torch.frexp(absmax).exponent.to(torch.int64)
    k = (61 - n.bit_length() - e).view(b, 1, 1)
    total = _round_half_up(_ldexp(maps, k)).sum(dim=(1, 2))
    mean = _ldexp(total.to(torch.float64) / n, -k.view(b))
    return torch.where(absmax == 0, torch.zeros_like(mean), mean)


def _quantize(
    maps: torch.Tensor, offset: torch.Tensor, span: torch.Tensor, scale: float
) -> torch.Tensor:
    """As ``_kernels.quantize``: ``rint((maps - offset) / span * scale)`` per map."""
    return _round_half_up((maps - offset.view(-1, 1, 1)) / span.view(-1, 1, 1) * scale)


def best_boxes_torch(search: Any, saliency: torch.Tensor) -> torch.Tensor:
    """Best ``excess`` or ``fixed`` boxes of a ``(B, H, W)`` tensor, computed on its device.

    Args:
        search: a :class:`~saliencyaug.boxes.BoxSearch` (or an objective) of ``excess`` or
            ``fixed``.
        saliency: real ``(B, H, W)`` tensor, finite.

    Returns:
        int64 ``(B, 4)`` XYXY boxes on the same device.

    Raises:
        ValueError: another objective, a wrong shape, NaN/inf, or a side over 8191 pixels.
    """
    import torch

    objective = getattr(search, "objective", search)
    if not isinstance(objective, (Excess, Fixed)):
        name = getattr(objective, "name", type(objective).__name__)
        raise ValueError(f"best_boxes_torch runs 'excess' and 'fixed', not {name!r}")
    if not isinstance(saliency, torch.Tensor):
        raise TypeError(f"saliency must be a torch.Tensor, got {type(saliency).__name__}")
    if saliency.ndim != 3 or saliency.numel() == 0:
        raise ValueError(
            f"saliency must have shape (B, H, W), non-empty; got {tuple(saliency.shape)}"
        )
    if saliency.is_complex():
        raise TypeError(f"saliency must have a real dtype, got {saliency.dtype}")
    maps = saliency.detach().to(torch.float64)
    b, h, w = maps.shape
    if h > _MAX_SIDE or w > _MAX_SIDE:
        raise ValueError(f"best_boxes_torch supports sides up to {_MAX_SIDE}, got {(h, w)}")
    finite = torch.isfinite(maps).flatten(1).all(dim=1)
    if not bool(finite.all()):
        bad = int(torch.nonzero(~finite)[0])
        raise ValueError(f"saliency[{bad}] contains NaN or inf; a saliency map must be finite")
    lo = maps.flatten(1).amin(dim=1)
    hi = maps.flatten(1).amax(dim=1)
    overflow = ~torch.isfinite(hi - lo)
    if bool(overflow.any()):
        bad = int(torch.nonzero(overflow)[0])
        raise ValueError(f"saliency[{bad}]'s range max - min overflows float64; rescale the map")

    if isinstance(objective, Fixed):
        bh, bw = objective.window(h, w)
        span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        q = _quantize(maps, lo, span, float(2**61 // (bh * bw)))
        return _fixed(q, bh, bw)

    levels = objective.levels(b, lambda: maps.cpu().numpy())
    tau = torch.from_numpy(levels).to(maps.device)
    if bool(np.isnan(levels).any()):
        tau = torch.where(
            torch.isnan(tau), exact_mean_torch(maps, torch.maximum(lo.abs(), hi.abs())), tau
        )
    span = torch.maximum(hi - tau, tau - lo)
    degenerate = (hi == lo) | (hi <= tau)
    span = torch.where(degenerate, torch.ones_like(span), span)
    q = _quantize(maps, tau, span, float(2**61 // (h * w)))
    degenerate |= q.flatten(1).amax(dim=1) <= 0
    boxes = _excess(q)
    whole = torch.tensor([0, 0, w, h], dtype=torch.int64, device=maps.device)
    return torch.where(degenerate.view(b, 1), whole.view(1, 4), boxes)


def _fixed(q: torch.Tensor, bh: int, bw: int) -> torch.Tensor:
    import torch

    b, h, w = q.shape
    ii = torch.zeros((b, h + 1, w + 1), dtype=torch.int64, device=q.device)
    ii[:, 1:, 1:] = q.cumsum(1).cumsum(2)
    sums = ii[:, bh:, bw:] - ii[:, :-bh, bw:] - ii[:, bh:, :-bw] + ii[:, :-bh, :-bw]
    idx = sums.flatten(1).argmax(dim=1)  # first maximum in row-major order
    nx = w - bw + 1
    y0 = torch.div(idx, nx, rounding_mode="floor")
    x0 = idx - y0 * nx
    return torch.stack([x0, y0, x0 + bw, y0 + bh], dim=1)


def _excess(q: torch.Tensor) -> torch.Tensor:
    """Exhaustive exact max-sum box per map with the library's tie rule."""
    import torch

    b, h, w = q.shape
    dev = q.device
    cq = torch.zeros((b, h + 1, w), dtype=torch.int64, device=dev)
    cq[:, 1:] = q.cumsum(1)
    xs = torch.arange(w + 1, device=dev)
    best_v = torch.full((b,), -(2**62), dtype=torch.int64, device=dev)
    best_area = torch.zeros(b, dtype=torch.int64, device=dev)
    best_box = torch.zeros((b, 4), dtype=torch.int64, device=dev)
    big = torch.iinfo(torch.int64).max
    for y0 in range(h):
        cols = cq[:, y0 + 1 :] - cq[:, y0 : y0 + 1]  # (b, bands, w): bands y1 = y0+1..h
        nb = cols.shape[1]
        prefix = torch.zeros((b, nb, w + 1), dtype=torch.int64, device=dev)
        prefix[..., 1:] = cols.cumsum(-1)
        run_min = prefix.cummin(-1).values  # min over prefix[0..k]
        # last index attaining the running minimum: the shortest interval on ties
        at_min = torch.where(prefix == run_min, xs, torch.full_like(prefix, -1))
        last_min = at_min.cummax(-1).values
        vals = prefix[..., 1:] - run_min[..., :-1]  # interval ending at x1 = 1..w
        x0 = last_min[..., :-1]
        x1 = xs[1:].view(1, 1, w)
        heights = torch.arange(1, nb + 1, device=dev).view(1, nb, 1)
        area = heights * (x1 - x0)
        v_max = vals.flatten(1).amax(dim=1)
        y1 = (heights + y0).expand_as(vals)
        key = (area << 26) | (x0 << 13) | y1
        key = torch.where(vals == v_max.view(b, 1, 1), key, torch.full_like(key, big))
        kmin = key.flatten(1).amin(dim=1)
        c_area = kmin >> 26
        c_x0 = (kmin >> 13) & _MAX_SIDE
        c_y1 = kmin & _MAX_SIDE
        c_x1 = c_x0 + torch.div(c_area, c_y1 - y0, rounding_mode="floor")
        # earlier y0 wins remaining ties, so a later chunk must be strictly better
        better = (v_max > best_v) | ((v_max == best_v) & (c_area < best_area))
        cand = torch.stack([c_x0, torch.full_like(c_x0, y0), c_x1, c_y1], dim=1)
        best_box = torch.where(better.view(b, 1), cand, best_box)
        best_v = torch.where(better, v_max, best_v)
        best_area = torch.where(better, c_area, best_area)
    return best_box


__all__ = ["best_boxes_torch", "exact_mean_torch"]
