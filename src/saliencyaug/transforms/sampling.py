"""The random draws of SaliencySwap, vectorised: one sampler for a single sample and a batch.

:class:`~saliencyaug.transforms.SaliencySwap` draws with ``N = 1`` and
:class:`~saliencyaug.transforms.BatchSaliencySwap` with ``N = B``, through the same functions,
so both follow the same distribution (CVSA paper, section 2.1; ``docs/method.md``):

1. :func:`sample_crop_boxes` -- a crop inside each foreground box: area fraction of the box
   ~ U(``scale``) (the paper's U(lambda, 1)); aspect ratio ``w / h`` log-uniform over the part
   of ``ratio`` that lets a crop of that area fit inside the box (the nearest fitting ratio when
   none does), so the area fraction stays uniform up to integer rounding; position uniform.
2. The target on the output canvas: the background's own box (``replace``, the paper's mode I)
   or :func:`sample_paste_boxes` (``paste``, mode II): area fraction of the canvas
   ~ U(``paste_scale``) with the crop's aspect ratio, shrunk until it fits, position uniform.

Random numbers come from torch's global RNG (on the boxes' device) at call time, so DataLoader
workers differ and ``torch.manual_seed`` reproduces a run. Boxes are int64 ``(N, 4)`` XYXY.

Examples:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> crops = sample_crop_boxes(torch.tensor([[10, 10, 110, 60]]), (0.5, 1.0), (3 / 4, 4 / 3))
    >>> x0, y0, x1, y1 = crops[0].tolist()
    >>> 10 <= x0 < x1 <= 110 and 10 <= y0 < y1 <= 60
    True
"""

from __future__ import annotations

import math
from typing import Literal

import torch

SwapMode = Literal["replace", "paste"]


def _uniform(lo: float, hi: float, n: int, device: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, device=device, dtype=torch.float64)


def _position(start: torch.Tensor, room: torch.Tensor) -> torch.Tensor:
    """Uniform integer offsets ``start + {0, ..., room}``."""
    u = torch.rand(start.shape[0], device=start.device, dtype=torch.float64)
    return start + torch.minimum(torch.floor(u * (room + 1)), room)


def sample_crop_boxes(
    boxes: torch.Tensor, scale: tuple[float, float], ratio: tuple[float, float]
) -> torch.Tensor:
    """A random crop inside each box (step 1 of SaliencySwap).

    Args:
        boxes: int64 ``(N, 4)`` non-empty XYXY boxes.
        scale: range of the crop's area as a fraction of its box, within (0, 1].
        ratio: range of the aspect ratio ``w / h``.

    Returns:
        int64 ``(N, 4)`` non-empty crops, each inside its box.
    """
    n = boxes.shape[0]
    dev = boxes.device
    bw = (boxes[:, 2] - boxes[:, 0]).double()
    bh = (boxes[:, 3] - boxes[:, 1]).double()
    area = bw * bh * _uniform(*scale, n, dev)
    fit_lo = torch.log(area / bh**2)  # narrower crops would be taller than the box
    fit_hi = torch.log(bw**2 / area)  # wider crops would be wider than the box
    lo = torch.clamp(fit_lo, min=math.log(ratio[0]))
    hi = torch.clamp(fit_hi, max=math.log(ratio[1]))
    u = torch.rand(n, device=dev, dtype=torch.float64)
    # no ratio in range fits: take the fitting ratio nearest to the range
    nearest = torch.where(fit_hi < math.log(ratio[0]), hi, lo)
    log_r = torch.where(lo <= hi, lo + (hi - lo) * u, nearest)
    r = torch.exp(log_r)
    w = torch.minimum(bw, torch.clamp(torch.round(torch.sqrt(area * r)), min=1))
    h = torch.minimum(bh, torch.clamp(torch.round(torch.sqrt(area / r)), min=1))
    x0 = _position(boxes[:, 0].double(), bw - w)
    y0 = _position(boxes[:, 1].double(), bh - h)
    return torch.stack([x0, y0, x0 + w, y0 + h], 1).long()


def sample_paste_boxes(
    patch_sizes: torch.Tensor, canvas_size: tuple[int, int], paste_scale: tuple[float, float]
) -> torch.Tensor:
    """Where to paste each patch on a canvas (SaliencySwap mode II).

    Args:
        patch_sizes: ``(N, 2)`` patch ``(height, width)``, positive.
        canvas_size: ``(H, W)``.
        paste_scale: range of the pasted area as a fraction of the canvas, within (0, 1].

    Returns:
        int64 ``(N, 4)`` boxes fully inside the canvas, with the patches' aspect ratios (up
        to rounding).
    """
    ch, cw = canvas_size
    n = patch_sizes.shape[0]
    dev = patch_sizes.device
    ph = patch_sizes[:, 0].double()
    pw = patch_sizes[:, 1].double()
    area = ch * cw * _uniform(*paste_scale, n, dev)
    h = torch.sqrt(area * ph / pw)
    w = h * pw / ph
    shrink = torch.clamp(torch.minimum(ch / h, cw / w), max=1.0)
    h = torch.clamp(torch.round(h * shrink), 1, ch)
    w = torch.clamp(torch.round(w * shrink), 1, cw)
    x0 = _position(torch.zeros(n, dtype=torch.float64, device=dev), cw - w)
    y0 = _position(torch.zeros(n, dtype=torch.float64, device=dev), ch - h)
    return torch.stack([x0, y0, x0 + w, y0 + h], 1).long()


def sample_swap_boxes(
    foreground_boxes: torch.Tensor,
    background_boxes: torch.Tensor | None,
    canvas_size: tuple[int, int],
    mode: SwapMode,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    paste_scale: tuple[float, float],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The crop in each foreground and the target it covers on the canvas.

    Args:
        foreground_boxes: int64 ``(N, 4)`` salient boxes of the foregrounds.
        background_boxes: int64 ``(N, 4)`` salient boxes of the backgrounds on the canvas
            (``replace`` mode; ignored by ``paste``).
        canvas_size: ``(H, W)`` of the output.
        mode: ``"replace"`` or ``"paste"``.
        scale: crop area range, see :func:`sample_crop_boxes`.
        ratio: crop aspect-ratio range, see :func:`sample_crop_boxes`.
        paste_scale: pasted-size range, see :func:`sample_paste_boxes`.

    Returns:
        ``(crop, target)``, int64 ``(N, 4)`` each.
    """
    crop = sample_crop_boxes(foreground_boxes, scale, ratio)
    if mode == "replace":
        if background_boxes is None:
            raise ValueError("mode='replace' needs the backgrounds' boxes")
        return crop, background_boxes.to(crop.device)
    sizes = torch.stack([crop[:, 3] - crop[:, 1], crop[:, 2] - crop[:, 0]], 1)
    return crop, sample_paste_boxes(sizes, canvas_size, paste_scale)


def sample_derangement(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """A random cyclic derangement of ``0..n-1`` (nobody maps to itself) for ``n > 1``; the
    identity ``[0]`` for ``n = 1``.

    Examples:
        >>> d = sample_derangement(5)
        >>> bool((d != torch.arange(5)).all()), sorted(d.tolist())
        (True, [0, 1, 2, 3, 4])
    """
    if n <= 1:
        return torch.zeros(n, dtype=torch.long, device=device)
    perm = torch.randperm(n, device=device)
    out = torch.empty_like(perm)
    out[perm] = perm.roll(-1)
    return out


__all__ = [
    "SwapMode",
    "sample_crop_boxes",
    "sample_derangement",
    "sample_paste_boxes",
    "sample_swap_boxes",
]
