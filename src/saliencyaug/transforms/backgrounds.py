"""Background pools for SaliencySwap: datasets, image folders and box caches.

A pool is indexable; each item gives an image and, when known, its boxes (the paper's mode I
covers the background's own salient box, so boxes from a cache or from annotations save a
detector run). Items are drawn with torch's RNG at call time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from saliencyaug.boxes import Box

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def list_images(root: str | Path) -> list[Path]:
    """Image files below ``root`` (recursive, by extension), sorted by relative path.

    Raises:
        ValueError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} is not a directory")
    files = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def load_image(path: str | Path) -> torch.Tensor:
    """Decode an image file to a uint8 RGB ``(3, H, W)`` tensor (PIL; EXIF rotation ignored)."""
    with Image.open(path) as im:
        return TF.pil_to_tensor(im.convert("RGB"))


def to_image_tensor(image: Any, name: str = "image") -> torch.Tensor:
    """Any accepted image to a 3-channel ``(3, H, W)`` tensor, keeping uint8 or float dtype.

    PIL images and numpy ``(H, W[, C])`` arrays become uint8; tensors keep their dtype (float
    tensors are taken to be in [0, 1]); gray is replicated, alpha dropped.

    Raises:
        TypeError / ValueError: an unsupported type, shape or dtype (naming ``name``).
    """
    if isinstance(image, Image.Image):
        return TF.pil_to_tensor(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        from saliencyaug._image import to_rgb_uint8

        return torch.from_numpy(to_rgb_uint8(image, name)).permute(2, 0, 1).contiguous()
    if isinstance(image, torch.Tensor):
        t = image.as_subclass(torch.Tensor)
        if t.ndim == 2:
            t = t[None]
        if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
            raise ValueError(
                f"{name} must be (C, H, W) with C in (1, 3, 4), got {tuple(image.shape)}"
            )
        if t.shape[-1] == 0 or t.shape[-2] == 0:
            raise ValueError(f"{name} must not be empty, got {tuple(image.shape)}")
        if t.dtype != torch.uint8 and not t.is_floating_point():
            raise TypeError(f"{name} must be uint8 or float, got {t.dtype}")
        if t.shape[0] == 1:
            t = t.expand(3, -1, -1)
        elif t.shape[0] == 4:
            t = t[:3]
        return t
    raise TypeError(
        f"{name} must be a PIL image, numpy array or tensor, got {type(image).__name__}"
    )


def boxes_to_list(boxes: tv_tensors.BoundingBoxes) -> list[Box]:
    """Integer XYXY :class:`Box` es of a ``BoundingBoxes``, clipped to its canvas; empty ones
    (after rounding and clipping) are dropped."""
    from torchvision.ops import box_convert

    h, w = boxes.canvas_size
    data = boxes.as_subclass(torch.Tensor).reshape(-1, 4).double()
    fmt = boxes.format.name.lower()
    if fmt != "xyxy":
        data = box_convert(data, in_fmt=fmt, out_fmt="xyxy")
    out = []
    for x0, y0, x1, y1 in torch.round(data).long().tolist():
        x0, x1 = max(0, min(x0, w)), max(0, min(x1, w))
        y0, y1 = max(0, min(y0, h)), max(0, min(y1, h))
        if x1 > x0 and y1 > y0:
            out.append(Box(x0, y0, x1, y1))
    return out


def largest_box(boxes: Sequence[Box]) -> Box | None:
    """The box of largest area (the paper's choice for scene images), first on ties."""
    return max(boxes, key=lambda b: b.area) if boxes else None


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

    Example:
        >>> import torch
        >>> pool = BackgroundPool([torch.zeros(3, 8, 8, dtype=torch.uint8)])
        >>> image, boxes = pool.sample()
        >>> tuple(image.shape), boxes
        ((3, 8, 8), None)
    """

    def __init__(self, source: Any) -> None:
        from saliencyaug.data.box_cache import BoxCache

        self._files: list[Path] | None = None
        self._cache: BoxCache | None = None
        self._dataset: Any = None
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
