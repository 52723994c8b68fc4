"""Background pools for SaliencySwap: datasets, image folders and box caches.

A pool is indexable; each item gives an image and, when known, its boxes (the paper's mode I
covers the background's own salient box, so boxes from a cache or from annotations save a
detector run). Items are drawn with torch's RNG at call time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors

from saliencyaug.boxes.geometry import Box, boxes_to_list
from saliencyaug.data.box_file import BoxCache
from saliencyaug.image import list_images, load_image


def split_sample(item: Any) -> tuple[Any, tv_tensors.BoundingBoxes | None]:
    """Find the image and the (first) ``BoundingBoxes`` in a dataset item.

    The item may be an image, a tuple/list (e.g. ``(image, label)`` or ``(image, boxes,
    label)``) or a dict; the image is the first ``tv_tensors.Image``, PIL image, tensor or
    numpy array found depth-first.

    Raises:
        ValueError: no image in the item.
    """
    from torch.utils._pytree import tree_flatten

    leaves, _ = tree_flatten(item)
    image = None
    boxes = None
    for leaf in leaves:
        if isinstance(leaf, tv_tensors.BoundingBoxes):
            boxes = boxes if boxes is not None else leaf
        elif image is None and isinstance(leaf, (Image.Image, torch.Tensor, np.ndarray)):
            if isinstance(leaf, (tv_tensors.Mask, tv_tensors.Video)):
                continue
            if isinstance(leaf, (torch.Tensor, np.ndarray)) and leaf.ndim < 2:
                continue
            image = leaf
    if image is None:
        raise ValueError(f"no image found in background item of type {type(item).__name__}")
    return image, boxes


class BackgroundPool:
    """Backgrounds for SaliencySwap.

    Args:
        source: an indexable dataset (``__len__`` and ``__getitem__``; items as accepted by
            :func:`split_sample`), a folder of images (``str`` or ``Path``), or a
            :class:`saliencyaug.data.BoxCache` (its images, with their cached boxes).

    Raises:
        ValueError: an empty pool or a folder without images.
        TypeError: an unsupported source.

    Examples:
        >>> import torch
        >>> pool = BackgroundPool([torch.zeros(3, 8, 8, dtype=torch.uint8)])
        >>> image, boxes = pool.sample()
        >>> tuple(image.shape), boxes
        ((3, 8, 8), None)
    """

    def __init__(self, source: Any) -> None:
        self._files: list[Path] | None = None
        self._cache: BoxCache | None = None
        self._dataset: Any = None
        if isinstance(source, (torch.Tensor, np.ndarray, Image.Image)) and (
            isinstance(source, Image.Image) or source.ndim < 4
        ):
            raise TypeError(
                "backgrounds must be a collection of images (a list, a data set, an image "
                "folder, a BoxCache or a (N, C, H, W) batch), got a single image; wrap it in a "
                "list"
            )
        if isinstance(source, BackgroundPool):
            self._files, self._cache, self._dataset = source._files, source._cache, source._dataset
        elif isinstance(source, (str, Path)):
            self._files = list_images(source)
        elif isinstance(source, BoxCache):
            self._cache = source
        elif hasattr(source, "__len__") and hasattr(source, "__getitem__"):
            self._dataset = source
        else:
            raise TypeError(
                "backgrounds must be a dataset (with __len__ and __getitem__), an image folder "
                f"or a BoxCache, got {type(source).__name__}"
            )
        if len(self) == 0:
            raise ValueError("backgrounds is empty: SaliencySwap needs at least one background")

    def __len__(self) -> int:
        if self._files is not None:
            return len(self._files)
        if self._cache is not None:
            return len(self._cache)
        return len(self._dataset)

    def __getitem__(self, index: int) -> tuple[Any, list[Box] | None]:
        """``(image, boxes or None)`` of item ``index``."""
        if self._files is not None:
            return load_image(self._files[index]), None
        if self._cache is not None:
            record = self._cache.records[index]
            return load_image(self._cache.path_of(record)), [record.box]
        image, boxes = split_sample(self._dataset[index])
        return image, (boxes_to_list(boxes) if boxes is not None else None)

    def sample(self) -> tuple[Any, list[Box] | None]:
        """A uniformly random item, drawn with torch's RNG."""
        return self[int(torch.randint(len(self), ()))]

    def __repr__(self) -> str:
        kind = (
            "folder"
            if self._files is not None
            else "box cache"
            if self._cache is not None
            else "dataset"
        )
        return f"BackgroundPool({kind}, {len(self)} images)"


__all__ = ["BackgroundPool", "split_sample"]
