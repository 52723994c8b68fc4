"""SaliencySwap and its helpers: torchvision v2 transforms, kernels, sampler and presets.

Examples:
    >>> import torch
    >>> from saliencyaug.transforms import SaliencySwap
    >>> swap = SaliencySwap([torch.zeros(3, 30, 30, dtype=torch.uint8)], size=16, mode="paste")
    >>> image, mask = swap(torch.full((3, 24, 24), 255, dtype=torch.uint8))
    >>> image.shape, mask.dtype
    (torch.Size([3, 16, 16]), torch.uint8)
"""

from __future__ import annotations

from saliencyaug.transforms.backgrounds import BackgroundPool
from saliencyaug.transforms.batch_swap import BatchSaliencySwap, BatchSwapOutput, BatchSwapParams
from saliencyaug.transforms.multiview import MultiView, salient_mask_of
from saliencyaug.transforms.presets import IMAGENET_MEAN, IMAGENET_STD, eval_view, moco_v2_view
from saliencyaug.transforms.saliency_swap import (
    RandomResizedCropWithMask,
    SaliencySwap,
    ViewParams,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BackgroundPool",
    "BatchSaliencySwap",
    "BatchSwapOutput",
    "BatchSwapParams",
    "MultiView",
    "RandomResizedCropWithMask",
    "SaliencySwap",
    "ViewParams",
    "eval_view",
    "moco_v2_view",
    "salient_mask_of",
]
