"""Deterministic kernels of SaliencySwap: every parameter is given, nothing is drawn.

:class:`~saliencyaug.transforms.SaliencySwap`,
:class:`~saliencyaug.transforms.RandomResizedCropWithMask` and
:class:`~saliencyaug.transforms.BatchSaliencySwap` draw their parameters in ``make_params``
(:mod:`saliencyaug.transforms.sampling`) and call these kernels, so a view can be replayed from
its parameters, and users can call the kernels with parameters of their own.

Single images are ``(C, H, W)`` tensors (uint8 or float), batches ``(B, C, H, W)``; boxes are
:class:`saliencyaug.boxes.Box` (integer XYXY, half-open) or int64 ``(B, 4)`` tensors.

Examples:
    >>> import torch
    >>> from saliencyaug.boxes import Box
    >>> bg = torch.zeros(3, 8, 8, dtype=torch.uint8)
    >>> fg = torch.full((3, 4, 4), 9, dtype=torch.uint8)
    >>> image, mask = saliency_swap(fg, Box(0, 0, 2, 2), bg, Box(1, 1, 5, 3))
    >>> int(image[0].sum()), int(mask.sum())
    (72, 8)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from saliencyaug.boxes.geometry import Box, box_mask


def resize(image: torch.Tensor, size: tuple[int, int], *, antialias: bool = True) -> torch.Tensor:
    """Bilinear resize of a ``(C, H, W)`` image to ``size``, keeping its dtype.

    torch's antialiased uint8 kernel fails on a 1x1 output (an internal assert), so that one
    case is computed in float and rounded back.
    """
    if image.dtype == torch.uint8 and antialias and tuple(size) == (1, 1):
        out = TF.resize(image.float(), list(size), antialias=True)
        return out.round().clamp_(0, 255).to(torch.uint8)
    return TF.resize(image, list(size), antialias=antialias)


def paste(
    background: torch.Tensor,
    foreground: torch.Tensor,
    crop: Box,
    target: Box,
    *,
    antialias: bool = True,
) -> torch.Tensor:
    """``background`` with ``foreground[crop]`` resized onto ``target`` (bilinear).

    Args:
        background: ``(C, H, W)`` canvas (not modified).
        foreground: ``(C, H', W')`` image of the same dtype and channels.
        crop: region of ``foreground`` to take.
        target: region of ``background`` to cover.
        antialias: antialiased resizing.

    Returns:
        The fused ``(C, H, W)`` image.
    """
    patch = foreground[:, crop.y0 : crop.y1, crop.x0 : crop.x1]
    if (patch.shape[-2], patch.shape[-1]) != (target.height, target.width):
        patch = resize(patch, (target.height, target.width), antialias=antialias)
    out = background.clone()
    out[:, target.y0 : target.y1, target.x0 : target.x1] = patch
    return out


def saliency_swap(
    foreground: torch.Tensor,
    crop: Box,
    background: torch.Tensor,
    target: Box,
    *,
    antialias: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One SaliencySwap view: ``foreground[crop]`` resized onto ``background[target]``.

    Args:
        foreground: ``(C, H', W')`` image.
        crop: the region of the foreground (inside its salient box).
        background: ``(C, H, W)`` background already at the output size, same dtype.
        target: the region it covers: the background's own salient box (``replace``) or a
            paste region (``paste``).
        antialias: antialiased resizing.

    Returns:
        ``(image, mask)``: ``(C, H, W)`` and the uint8 ``(1, H, W)`` mask of ``target``.
    """
    size = (background.shape[-2], background.shape[-1])
    image = paste(background, foreground, crop, target, antialias=antialias)
    return image, box_mask(target, size, background.device)


def resized_crop(
    image: torch.Tensor, crop: Box, size: tuple[int, int], *, antialias: bool = True
) -> torch.Tensor:
    """``image[crop]`` resized to ``size`` ``(H, W)`` (bilinear)."""
    return resize(image[:, crop.y0 : crop.y1, crop.x0 : crop.x1], size, antialias=antialias)


def resized_crop_box_mask(
    box: Box | None, image_size: tuple[int, int], crop: Box, size: tuple[int, int]
) -> torch.Tensor:
    """The uint8 ``(1, H, W)`` mask of ``box`` after :func:`resized_crop` with ``crop``
    (nearest neighbour; empty when the crop misses the box)."""
    mask = box_mask(box, image_size)
    return TF.resized_crop(
        mask,
        crop.y0,
        crop.x0,
        crop.height,
        crop.width,
        list(size),
        interpolation=TF.InterpolationMode.NEAREST,
    )


def resized_crop_with_box_mask(
    image: torch.Tensor,
    box: Box | None,
    crop: Box,
    size: tuple[int, int],
    *,
    antialias: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A resized crop of ``image`` and the mask of the part of ``box`` it shows.

    The fallback of SaliencySwap (probability ``1 - p``) and the kernel of
    :class:`~saliencyaug.transforms.RandomResizedCropWithMask`.

    Returns:
        ``(image, mask)`` at ``size``.
    """
    h, w = image.shape[-2:]
    mask = resized_crop_box_mask(box, (h, w), crop, size).to(image.device)
    return resized_crop(image, crop, size, antialias=antialias), mask


# ----------------------------------------------------------------------------------------
# Batches
# ----------------------------------------------------------------------------------------


def _affine(crop: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``theta`` mapping output normalised coordinates to source ones, per sample, from boxes
    given as fractions of their image's width and height.

    A point ``u`` (fraction of the width) of the target maps to ``crop.x0 + (u - target.x0) *
    s``, ``s = crop width / target width``; in ``[-1, 1]`` coordinates (align_corners=False)
    that is ``x_src = s * x_out + (2 * (crop.x0 - target.x0 * s) + s - 1)``.
    """
    sx = (crop[:, 2] - crop[:, 0]) / (target[:, 2] - target[:, 0])
    sy = (crop[:, 3] - crop[:, 1]) / (target[:, 3] - target[:, 1])
    tx = 2 * (crop[:, 0] - target[:, 0] * sx) + sx - 1
    ty = 2 * (crop[:, 1] - target[:, 1] * sy) + sy - 1
    zero = torch.zeros_like(sx)
    return torch.stack([torch.stack([sx, zero, tx], 1), torch.stack([zero, sy, ty], 1)], 1)


def box_masks(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Float ``(B, 1, H, W)`` masks of boxes given as fractions ``(x0, y0, x1, y1)`` of the
    width and height: a pixel is inside when its centre is."""
    h, w = size
    dev = boxes.device
    ys = ((torch.arange(h, device=dev, dtype=torch.float64) + 0.5) / h).view(1, h, 1)
    xs = ((torch.arange(w, device=dev, dtype=torch.float64) + 0.5) / w).view(1, 1, w)
    b = boxes.double().view(-1, 4, 1, 1)
    inside = (xs >= b[:, 0]) & (xs < b[:, 2]) & (ys >= b[:, 1]) & (ys < b[:, 3])
    return inside.unsqueeze(1).float()


def batch_saliency_swap(
    images: torch.Tensor,
    background: torch.Tensor,
    crop: torch.Tensor,
    target: torch.Tensor,
    swapped: torch.Tensor,
    boxes: torch.Tensor,
    image_size: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """SaliencySwap between the images of a batch, with given parameters.

    Output ``i`` shows a crop of image ``i`` (its foreground) resized onto ``target[i]`` of image
    ``background[i]``; where ``swapped[i]`` is False it is image ``i`` unchanged with its own
    box as the mask. Boxes are pixel XYXY on ``image_size`` ``(H, W)``; on a batch of another
    size (e.g. feature maps) they are scaled, so the same swap is replayed at that resolution.
    Resampling is one bilinear ``grid_sample`` (no antialiasing).

    Args:
        images: ``(B, C, H', W')`` uint8 or float.
        background: ``(B,)`` index of each output's background image.
        crop: ``(B, 4)`` crop of each image (its foreground).
        target: ``(B, 4)`` region it covers on the output.
        swapped: ``(B,)`` bool.
        boxes: ``(B, 4)`` the images' own salient boxes.
        image_size: the ``(H, W)`` the boxes refer to.

    Returns:
        ``(images, masks)``: ``(B, C, H', W')`` of the input's dtype and float
        ``(B, 1, H', W')`` masks.
    """
    b, _, h, w = images.shape
    dev = images.device
    scale = torch.tensor(
        [image_size[1], image_size[0], image_size[1], image_size[0]],
        dtype=torch.float64,
        device=dev,
    )
    crop_f = crop.to(dev).double() / scale
    target_f = target.to(dev).double() / scale
    own_f = boxes.to(dev).double() / scale
    theta = _affine(crop_f, target_f).to(torch.float32)
    grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
    source = images.float() if images.dtype == torch.uint8 else images
    sampled = F.grid_sample(
        source, grid.to(source.dtype), mode="bilinear", padding_mode="border", align_corners=False
    )
    if images.dtype == torch.uint8:
        sampled = sampled.round().clamp_(0, 255).to(torch.uint8)
    else:
        sampled = sampled.to(images.dtype)
    swapped = swapped.to(dev).view(b, 1, 1, 1)
    target_masks = box_masks(target_f, (h, w))
    fused = torch.where(target_masks.bool(), sampled, images[background.to(dev)])
    out = torch.where(swapped, fused, images)
    masks = torch.where(swapped, target_masks, box_masks(own_f, (h, w)))
    return out, masks


__all__ = [
    "batch_saliency_swap",
    "box_masks",
    "paste",
    "resize",
    "resized_crop",
    "resized_crop_box_mask",
    "resized_crop_with_box_mask",
    "saliency_swap",
]
