"""``SaliencySwap``: the CVSA paper's view generation as a torchvision ``transforms.v2`` transform.

Use it as the first entry of an ordinary pipeline, in place of ``RandomResizedCrop``::

    from torchvision.transforms import v2
    from saliencyaug.transforms import SaliencySwap

    pipeline = v2.Compose([
        SaliencySwap(backgrounds, size=224),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        v2.RandomGrayscale(0.2),
        v2.GaussianBlur(23, (0.1, 2.0)),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    image, mask = pipeline(pil_image)

The image of the sample becomes an ``(tv_tensors.Image, tv_tensors.Mask)`` pair, so every later
geometric v2 transform moves the mask with the image and photometric ones leave it alone. A
``tv_tensors.BoundingBoxes`` in the sample is taken as the foreground box (from a box cache or
the dataset's annotations) and replaced by the box of the foreground on the new canvas; other
items (labels, file names) pass through unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from saliencyaug.boxes import Box, BoxSearch
from saliencyaug.transforms import functional as F
from saliencyaug.transforms.backgrounds import (
    BackgroundPool,
    boxes_to_list,
    largest_box,
    to_image_tensor,
)


def _size_pair(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        pair = (size, size)
    elif (
        isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(v, int) for v in size)
    ):
        pair = (int(size[0]), int(size[1]))
    else:
        raise TypeError(f"size must be an int or an (H, W) pair of ints, got {size!r}")
    if min(pair) < 1:
        raise ValueError(f"size must be positive, got {pair}")
    return pair


def _check_range(
    name: str, value: Any, lo: float, hi: float, lo_open: bool = True
) -> tuple[float, float]:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{name} must be a (min, max) pair, got {value!r}")
    a, b = float(value[0]), float(value[1])
    ok_lo = (a > lo) if lo_open else (a >= lo)
    if not (ok_lo and b <= hi and a <= b and math.isfinite(a) and math.isfinite(b)):
        bracket = "(" if lo_open else "["
        raise ValueError(
            f"{name} must satisfy {lo} {'<' if lo_open else '<='} min <= max <= {hi} "
            f"(a range within {bracket}{lo}, {hi}]), got {value!r}"
        )
    return a, b


class SaliencySwap(v2.Transform):
    """Crop inside the salient box of an image and swap it onto a background (CVSA, 2.1).

    Args:
        backgrounds: the background pool: a dataset, an image folder, a
            :class:`saliencyaug.data.BoxCache` or a :class:`BackgroundPool`.
        size: output ``(H, W)`` (an int for a square).
        mode: ``"replace"`` (mode I: the patch covers the background's own salient box; pool =
            the same dataset) or ``"paste"`` (mode II: pasted at a random place of a scene image).
        scale: crop area as a fraction of the foreground box, drawn from U(scale); the paper's
            lambda = 0.5 gives the default ``(0.5, 1.0)``.
        ratio: crop aspect-ratio range ``w / h``, log-uniform.
        paste_scale: ``paste`` mode: pasted area as a fraction of the output, U(paste_scale).
        p: probability of a swap; otherwise a RandomResizedCrop of the image whose mask is its
            box's part inside the crop (same output structure).
        fallback_scale: the RandomResizedCrop scale range of that fallback.
        detector: saliency source when a sample carries no box: a registered name or a
            callable ``image -> map``; also used for backgrounds without boxes.
        box_search: the box objective applied to detector maps (default ``BoxSearch()``).
        antialias: antialiased resizing.

    Raises:
        ValueError / TypeError: out-of-range or mistyped arguments, an empty pool.

    Example:
        >>> import torch
        >>> bg = [torch.zeros(3, 40, 60, dtype=torch.uint8)]
        >>> fg = torch.full((3, 50, 50), 200, dtype=torch.uint8)
        >>> image, mask = SaliencySwap(bg, size=32, mode="paste")(fg)
        >>> tuple(image.shape), tuple(mask.shape), bool(mask.any())
        ((3, 32, 32), (1, 32, 32), True)
    """

    _transformed_types = (
        tv_tensors.Image,
        tv_tensors.BoundingBoxes,
        PIL.Image.Image,
        torch.Tensor,
        np.ndarray,
    )

    def __init__(
        self,
        backgrounds: Any,
        size: int | tuple[int, int] = 224,
        *,
        mode: str = "replace",
        scale: tuple[float, float] = (0.5, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        paste_scale: tuple[float, float] = (0.3, 1.0),
        p: float = 1.0,
        fallback_scale: tuple[float, float] = (0.08, 1.0),
        detector: str | Callable[[Any], np.ndarray] = "spectral_residual",
        box_search: BoxSearch | None = None,
        antialias: bool = True,
    ) -> None:
        super().__init__()
        from saliencyaug.saliency import get_detector

        if mode not in ("replace", "paste"):
            raise ValueError(f"mode must be 'replace' or 'paste', got {mode!r}")
        if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        self.pool = (
            backgrounds if isinstance(backgrounds, BackgroundPool) else BackgroundPool(backgrounds)
        )
        self.size = _size_pair(size)
        self.mode = mode
        self.scale = _check_range("scale", scale, 0.0, 1.0)
        self.paste_scale = _check_range("paste_scale", paste_scale, 0.0, 1.0)
        self.fallback_scale = _check_range("fallback_scale", fallback_scale, 0.0, 1.0)
        self.ratio = _check_range("ratio", ratio, 0.0, math.inf)
        self.p = float(p)
        get_detector(detector)  # validate now; resolved again at call time (picklable)
        self.detector = detector
        if box_search is not None and not isinstance(box_search, BoxSearch):
            raise TypeError(f"box_search must be a BoxSearch, got {type(box_search).__name__}")
        self.box_search = box_search or BoxSearch()
        self.antialias = antialias

    # -- v2.Transform hooks ------------------------------------------------------------

    def check_inputs(self, flat_inputs: list[Any]) -> None:
        for inpt in flat_inputs:
            if isinstance(inpt, (tv_tensors.Mask, tv_tensors.Video, tv_tensors.KeyPoints)):
                raise TypeError(
                    f"SaliencySwap builds the view's mask itself and cannot transform a "
                    f"{type(inpt).__name__}; pass an image (and optionally BoundingBoxes)"
                )

    def _needs_transform_list(self, flat_inputs: list[Any]) -> list[bool]:
        needs = super()._needs_transform_list(flat_inputs)
        # numpy arrays: only the first, and only when there is no other image
        has_image = any(
            n and not isinstance(x, (np.ndarray, tv_tensors.BoundingBoxes))
            for x, n in zip(flat_inputs, needs, strict=True)
        )
        seen_array = has_image
        for i, x in enumerate(flat_inputs):
            if isinstance(x, np.ndarray):
                needs[i] = not seen_array and x.ndim in (2, 3)
                seen_array = seen_array or needs[i]
        return needs

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        images = [x for x in flat_inputs if not isinstance(x, tv_tensors.BoundingBoxes)]
        if len(images) != 1:
            raise ValueError(
                f"SaliencySwap needs exactly one image per sample, found {len(images)}"
            )
        boxes = [x for x in flat_inputs if isinstance(x, tv_tensors.BoundingBoxes)]
        foreground = to_image_tensor(images[0], "image")
        fg_box = None
        if boxes:
            fg_box = largest_box(boxes_to_list(boxes[0]))
        if fg_box is None:
            fg_box = self._detect_box(foreground)
        image, mask = self.view(foreground, fg_box)
        return {"image": image, "mask": mask}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, tv_tensors.BoundingBoxes):
            return _mask_boxes(params["mask"], inpt.format)
        return tv_tensors.Image(params["image"]), tv_tensors.Mask(params["mask"])

    # -- the view ------------------------------------------------------------------------

    def view(
        self, foreground: torch.Tensor, foreground_box: Box
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One view of a ``(C, H, W)`` foreground with a known box: ``(image, mask)``."""
        if float(torch.rand(())) >= self.p:
            return F.resized_crop_with_box_mask(
                foreground,
                foreground_box,
                self.size,
                self.fallback_scale,
                self.ratio,
                self.antialias,
            )
        bg_image, bg_boxes = self.pool.sample()
        background = to_image_tensor(bg_image, "background")
        background = _match_dtype(background, foreground.dtype)
        bg_size = (background.shape[-2], background.shape[-1])
        background = TF.resize(background, list(self.size), antialias=self.antialias)
        bg_box = None
        if self.mode == "replace":
            if bg_boxes:
                from saliencyaug.data.box_cache import scale_box

                bg_box = scale_box(largest_box(bg_boxes), bg_size, self.size)  # type: ignore[arg-type]
            else:
                bg_box = self._detect_box(background)
        return F.saliency_swap(
            foreground,
            foreground_box,
            background,
            bg_box,
            self.mode,  # type: ignore[arg-type]
            self.scale,
            self.ratio,
            self.paste_scale,
            self.antialias,
        )

    def _detect_box(self, image: torch.Tensor) -> Box:
        from saliencyaug.saliency import get_detector

        return self.box_search(get_detector(self.detector)(image))


def _match_dtype(image: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if image.dtype == dtype:
        return image
    return TF.to_dtype(image, dtype, scale=True)


def _mask_boxes(mask: torch.Tensor, fmt: Any) -> tv_tensors.BoundingBoxes:
    """The bounding box of a mask's foreground as ``BoundingBoxes`` (an empty mask gives an
    empty set of boxes)."""
    h, w = mask.shape[-2:]
    ys = torch.nonzero(mask.reshape(h, w).any(dim=1)).flatten()
    xs = torch.nonzero(mask.reshape(h, w).any(dim=0)).flatten()
    if len(ys) == 0:
        data = torch.zeros((0, 4))
    else:
        data = torch.tensor(
            [[int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1]], dtype=torch.float32
        )
    out = tv_tensors.BoundingBoxes(data, format="XYXY", canvas_size=(h, w))
    if fmt != tv_tensors.BoundingBoxFormat.XYXY:
        out = TF.convert_bounding_box_format(out, new_format=fmt)
    return out


class MultiView:
    """Apply a view pipeline ``n`` times to one sample: ``[view_1, ..., view_n]``.

    Every call of the pipeline draws its own randomness, so with ``SaliencySwap`` first the
    views get independent crops and backgrounds (SPEC.md 3.4). The list of ``(image, mask)``
    pairs collates with ``default_collate``.

    Args:
        transform: the per-view pipeline (e.g. a ``v2.Compose`` starting with SaliencySwap).
        n: number of views (2 for BYOL/MoCo).
        keep_boxes: when a view is a tuple holding ``BoundingBoxes`` (SaliencySwap called on
            ``(image, boxes)`` returns ``((image, mask), boxes)``), the boxes are dropped by
            default and a lone remaining item is unwrapped, so each view is ``(image, mask)``
            and batches collate (the boxes can be empty after SaliencySwap's fallback).

    Example:
        >>> import torch
        >>> swap = SaliencySwap([torch.zeros(3, 16, 16, dtype=torch.uint8)], size=8, mode="paste")
        >>> views = MultiView(swap)(torch.full((3, 20, 20), 9, dtype=torch.uint8))
        >>> len(views), tuple(views[0][0].shape)
        (2, (3, 8, 8))
    """

    def __init__(self, transform: Callable[..., Any], n: int = 2, keep_boxes: bool = False) -> None:
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        if not (isinstance(n, int) and n >= 1):
            raise ValueError(f"n must be a positive int, got {n!r}")
        self.transform = transform
        self.n = n
        self.keep_boxes = keep_boxes

    def __call__(self, *inputs: Any) -> list[Any]:
        return [self._strip(self.transform(*inputs)) for _ in range(self.n)]

    def _strip(self, view: Any) -> Any:
        if self.keep_boxes or not isinstance(view, (tuple, list)):
            return view
        kept = [v for v in view if not isinstance(v, tv_tensors.BoundingBoxes)]
        if len(kept) == len(view):
            return view
        return kept[0] if len(kept) == 1 else type(view)(kept)

    def __repr__(self) -> str:
        return f"MultiView(n={self.n}, keep_boxes={self.keep_boxes}, transform={self.transform!r})"
