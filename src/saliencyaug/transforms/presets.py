"""Ready-made pipelines: the MoCo v2 view of both papers, the evaluation view, ImageNet stats.

MoCo v2 augmentations (Chen et al. 2020; CVSA paper Appendix A.1): a crop (RandomResizedCrop
with scale (0.2, 1.0), or SaliencySwap in its place), horizontal flip, ColorJitter
(0.4, 0.4, 0.4, 0.1) with p = 0.8, grayscale with p = 0.2, Gaussian blur with a 23-pixel kernel
and sigma ~ U(0.1, 2.0) with p = 0.5 (MoCo v2's probability; the CVSA paper gives no
probability), then float conversion and ImageNet normalisation. Evaluation: resize the
shorter side to 256, centre crop 224 (scaled with ``size``).

Examples:
    >>> import torch
    >>> image, mask = moco_v2_view(size=32)(torch.zeros(3, 48, 48, dtype=torch.uint8))
    >>> image.dtype, tuple(image.shape), mask.dtype
    (torch.float32, (3, 32, 32), torch.uint8)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.transforms import v2

from saliencyaug import _checks
from saliencyaug.transforms.saliency_swap import RandomResizedCropWithMask

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def moco_v2_view(
    first: v2.Transform | None = None,
    *,
    size: int = 224,
    blur_p: float = 0.5,
    blur_sigma: tuple[float, float] = (0.1, 2.0),
    blur_kernel: int = 23,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """The MoCo v2 view pipeline with ``first`` as its first step.

    Args:
        first: the crop step, e.g. a :class:`~saliencyaug.transforms.SaliencySwap` (default:
            :class:`~saliencyaug.transforms.RandomResizedCropWithMask` with MoCo v2's scale
            (0.2, 1.0) at ``size``).
        size: the view's side when ``first`` is the default.
        blur_p: probability of the Gaussian blur.
        blur_sigma: range of the blur's sigma in pixels (MoCo v2's (0.1, 2.0) is for 224 px;
            scale it with the image side for small images).
        blur_kernel: the blur's kernel side (odd; MoCo v2's 23 is a tenth of 224 px).
        mean: per-channel normalisation mean.
        std: per-channel normalisation standard deviation.

    Returns:
        A ``v2.Compose``; masks pass through it untouched by the photometric steps.
    """
    size = _checks.integer("size", size, minimum=1)
    blur_p = _checks.probability("blur_p", blur_p)
    low, high = _checks.range_pair("blur_sigma", blur_sigma, 0.0, float("inf"))
    blur_kernel = _checks.integer("blur_kernel", blur_kernel, minimum=1)
    if blur_kernel % 2 == 0:
        raise ValueError(f"blur_kernel must be odd, got {blur_kernel}")
    crop = first if first is not None else RandomResizedCropWithMask(size, scale=(0.2, 1.0))
    return v2.Compose(
        [
            crop,
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            v2.RandomGrayscale(0.2),
            v2.RandomApply([v2.GaussianBlur(blur_kernel, (low, high))], p=blur_p),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


def eval_view(
    size: int = 224,
    *,
    resize: int | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """The evaluation view: resize the shorter side to ``resize`` (default ``size * 256 /
    224``, the papers' 256 for 224), centre crop ``size``, float, normalise."""
    size = _checks.integer("size", size, minimum=1)
    side = (
        round(size * 256 / 224) if resize is None else _checks.integer("resize", resize, minimum=1)
    )
    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(side),
            v2.CenterCrop(size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "eval_view", "moco_v2_view"]
