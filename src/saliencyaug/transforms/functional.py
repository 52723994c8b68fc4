"""Functional core of SaliencySwap (SPEC.md section 3; CVSA paper section 2.1).

Pure tensor functions: the random ones draw from torch's global RNG at call time (so
DataLoader workers differ and ``torch.manual_seed`` reproduces a run); the deterministic ones
take every parameter explicitly. :class:`saliencyaug.transforms.SaliencySwap` is a thin
``transforms.v2`` wrapper around them.

Images are ``(C, H, W)`` tensors (uint8 or float); boxes are :class:`saliencyaug.boxes.Box`
(integer XYXY, half-open).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torchvision.transforms.v2 import functional as TF

from saliencyaug.boxes import Box

SwapMode = Literal["replace", "paste"]


def _uniform(lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(()))


def _randint(lo: int, hi_inclusive: int) -> int:
    return int(torch.randint(lo, hi_inclusive + 1, ()))


def sample_crop_box(
    box: Box,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Box:
    """A random sub-box of ``box`` (step 1 of SaliencySwap).

    The area fraction of ``box`` is drawn from U(``scale``) (the paper's U(lambda, 1)); the
    aspect ratio ``w / h`` is log-uniform over the part of ``ratio`` that lets a box of that
    area fit inside ``box`` (the nearest fitting ratio when none does, for boxes much more
    elongated than ``ratio``), so the area fraction is exactly uniform up to integer rounding;
    the position is uniform inside ``box``.

    Args:
        box: the foreground box.
        scale: range of the area fraction, within (0, 1].
        ratio: range of the aspect ratio ``w / h``.

    Returns:
        A non-empty :class:`Box` inside ``box``.

    Example:
        >>> import torch; _ = torch.manual_seed(0)
        >>> crop = sample_crop_box(Box(10, 10, 110, 60))
        >>> 10 <= crop.x0 < crop.x1 <= 110 and 10 <= crop.y0 < crop.y1 <= 60
        True
    """
    bw, bh = box.width, box.height
    area = box.area * _uniform(*scale)
    lo = max(math.log(ratio[0]), math.log(area / bh**2))
    hi = min(math.log(ratio[1]), math.log(bw**2 / area))
    if lo <= hi:
        log_r = _uniform(lo, hi)
    else:  # no ratio in range fits: take the fitting ratio nearest to the range
        log_r = lo if math.log(ratio[1]) < lo else hi
        float(torch.rand(()))  # keep the number of draws independent of the branch
    r = math.exp(log_r)
    w = min(bw, max(1, round(math.sqrt(area * r))))
    h = min(bh, max(1, round(math.sqrt(area / r))))
    x0 = box.x0 + _randint(0, bw - w)
    y0 = box.y0 + _randint(0, bh - h)
    return Box(x0, y0, x0 + w, y0 + h)


def sample_paste_box(
    canvas_size: tuple[int, int],
    patch_size: tuple[int, int],
    paste_scale: tuple[float, float] = (0.3, 1.0),
) -> Box:
    """Where to paste a patch on a canvas (SaliencySwap mode II).

    The pasted area is a fraction ~ U(``paste_scale``) of the canvas, with the patch's aspect
    ratio; if that does not fit, the patch is scaled down (same aspect) until it does. The
    position is uniform over the places where it lies fully inside.

    Args:
        canvas_size: ``(H, W)`` of the background.
        patch_size: ``(h, w)`` of the foreground crop.
        paste_scale: range of the area fraction, within (0, 1].

    Returns:
        The :class:`Box` on the canvas.
    """
    ch, cw = canvas_size
    ph, pw = patch_size
    area = ch * cw * _uniform(*paste_scale)
    h = math.sqrt(area * ph / pw)
    w = h * pw / ph
    shrink = min(1.0, ch / h, cw / w)
    h = min(ch, max(1, round(h * shrink)))
    w = min(cw, max(1, round(w * shrink)))
    x0 = _randint(0, cw - w)
    y0 = _randint(0, ch - h)
    return Box(x0, y0, x0 + w, y0 + h)


def box_mask(
    box: Box, canvas_size: tuple[int, int], device: torch.device | None = None
) -> torch.Tensor:
    """uint8 ``(1, H, W)`` mask, 1 inside ``box``."""
    mask = torch.zeros((1, *canvas_size), dtype=torch.uint8, device=device)
    mask[:, box.y0 : box.y1, box.x0 : box.x1] = 1
    return mask


def paste_patch(
    background: torch.Tensor,
    foreground: torch.Tensor,
    crop: Box,
    target: Box,
    antialias: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize ``foreground[crop]`` onto ``background[target]`` (step 2 of SaliencySwap).

    Args:
        background: ``(C, H, W)`` canvas (not modified).
        foreground: ``(C, H', W')`` image of the same dtype and channels.
        crop: region of ``foreground`` to take.
        target: region of ``background`` to cover.
        antialias: antialiased bilinear resizing.

    Returns:
        ``(image, mask)``: the fused ``(C, H, W)`` image and its uint8 ``(1, H, W)`` mask of
        ``target``.

    Example:
        >>> bg = torch.zeros(3, 8, 8, dtype=torch.uint8)
        >>> fg = torch.full((3, 4, 4), 9, dtype=torch.uint8)
        >>> img, mask = paste_patch(bg, fg, Box(0, 0, 2, 2), Box(1, 1, 5, 3))
        >>> int(img[0].sum()), int(mask.sum())
        (72, 8)
    """
    patch = foreground[:, crop.y0 : crop.y1, crop.x0 : crop.x1]
    if (patch.shape[-2], patch.shape[-1]) != (target.height, target.width):
        patch = TF.resize(patch, [target.height, target.width], antialias=antialias)
    out = background.clone()
    out[:, target.y0 : target.y1, target.x0 : target.x1] = patch
    return out, box_mask(target, (background.shape[-2], background.shape[-1]), background.device)


def saliency_swap(
    foreground: torch.Tensor,
    foreground_box: Box,
    background: torch.Tensor,
    background_box: Box | None,
    mode: SwapMode = "replace",
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    paste_scale: tuple[float, float] = (0.3, 1.0),
    antialias: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One SaliencySwap view from a foreground and an already-resized background.

    Args:
        foreground: ``(C, H', W')`` image.
        foreground_box: the foreground's salient box.
        background: ``(C, H, W)`` image at the output size, same dtype and channels.
        background_box: the background's salient box (``replace`` mode; ignored by ``paste``).
        mode: ``"replace"`` (cover the background's own salient box) or ``"paste"``.
        scale: crop area fraction range inside ``foreground_box``.
        ratio: crop aspect-ratio range.
        paste_scale: pasted area fraction range of the output (``paste`` mode).
        antialias: antialiased resizing.

    Returns:
        ``(image, mask)``, ``(C, H, W)`` and uint8 ``(1, H, W)``.

    Raises:
        ValueError: an unknown mode or a missing background box in ``replace`` mode.
    """
    crop = sample_crop_box(foreground_box, scale, ratio)
    size = (background.shape[-2], background.shape[-1])
    if mode == "replace":
        if background_box is None:
            raise ValueError("mode='replace' needs background_box")
        target = background_box
    elif mode == "paste":
        target = sample_paste_box(size, (crop.height, crop.width), paste_scale)
    else:
        raise ValueError(f"mode must be 'replace' or 'paste', got {mode!r}")
    return paste_patch(background, foreground, crop, target, antialias)


def resized_crop_with_box_mask(
    image: torch.Tensor,
    box: Box,
    size: tuple[int, int],
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    antialias: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RandomResizedCrop of ``image`` with the part of ``box`` inside the crop as the mask.

    SaliencySwap's fallback (probability ``1 - p``): same output structure as a swap. The
    crop is torchvision's ``RandomResizedCrop`` sampling; the mask may be empty when the crop
    misses the box.

    Returns:
        ``(image, mask)`` at ``size``.
    """
    from torchvision.transforms import v2

    top, left, h, w = v2.RandomResizedCrop.get_params(image, list(scale), list(ratio))
    out = TF.resized_crop(image, top, left, h, w, list(size), antialias=antialias)
    mask = box_mask(box, (image.shape[-2], image.shape[-1]), image.device)
    mask = TF.resized_crop(
        mask, top, left, h, w, list(size), interpolation=TF.InterpolationMode.NEAREST
    )
    return out, mask
