"""SaliencySwap and its helpers (SPEC.md section 3).

Example:
    >>> import torch
    >>> from saliencyaug.transforms import SaliencySwap
    >>> swap = SaliencySwap([torch.zeros(3, 30, 30, dtype=torch.uint8)], size=16, mode="paste")
    >>> image, mask = swap(torch.full((3, 24, 24), 255, dtype=torch.uint8))
    >>> image.shape, mask.dtype
    (torch.Size([3, 16, 16]), torch.uint8)
"""

from __future__ import annotations

from saliencyaug.transforms.backgrounds import BackgroundPool, list_images, load_image
from saliencyaug.transforms.saliency_swap import MultiView, SaliencySwap

__all__ = ["BackgroundPool", "MultiView", "SaliencySwap", "list_images", "load_image"]
