"""Box geometry: the :class:`Box` type and conversions between boxes, masks and
``tv_tensors.BoundingBoxes``.

Boxes are integer XYXY pixel coordinates, half-open (``x0 <= x < x1``, ``y0 <= y < y1``), the
meaning of ``torchvision.tv_tensors.BoundingBoxes(format="XYXY")``; a :class:`Box` is never
empty.

Examples:
    >>> box = Box(2, 1, 5, 4)
    >>> box.width, box.height, box.area
    (3, 3, 9)
    >>> scale_box(box, (10, 10), (20, 40))
    Box(x0=8, y0=2, x1=20, y1=8)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from saliencyaug import _checks

if TYPE_CHECKING:
    import torch
    from torchvision import tv_tensors


class Box(NamedTuple):
    """An integer XYXY half-open box: ``x0 <= x < x1``, ``y0 <= y < y1``.

    Examples:
        >>> Box(0, 0, 4, 2).area
        8
    """

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        """``x1 - x0``."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """``y1 - y0``."""
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        """Number of pixels inside the box."""
        return self.width * self.height


def scale_box(box: Box, from_size: tuple[int, int], to_size: tuple[int, int]) -> Box:
    """Map a box between resolutions ``(H, W)``, rounding outwards, clipped and never empty.

    Examples:
        >>> scale_box(Box(1, 1, 2, 2), (4, 4), (2, 2))
        Box(x0=0, y0=0, x1=1, y1=1)
    """
    from_size = _checks.size_pair("from_size", from_size)
    to_size = _checks.size_pair("to_size", to_size)
    fy, fx = to_size[0] / from_size[0], to_size[1] / from_size[1]
    x0 = min(to_size[1] - 1, max(0, math.floor(box.x0 * fx)))
    y0 = min(to_size[0] - 1, max(0, math.floor(box.y0 * fy)))
    x1 = max(x0 + 1, min(to_size[1], math.ceil(box.x1 * fx)))
    y1 = max(y0 + 1, min(to_size[0], math.ceil(box.y1 * fy)))
    return Box(x0, y0, x1, y1)


def largest_box(boxes: Sequence[Box]) -> Box | None:
    """The box of largest area (the CVSA paper's choice for scene images), first on ties.

    Examples:
        >>> largest_box([Box(0, 0, 2, 2), Box(0, 0, 3, 1), Box(1, 1, 3, 3)])
        Box(x0=0, y0=0, x1=2, y1=2)
    """
    return max(boxes, key=lambda b: b.area) if boxes else None


def xyxy_array(
    boxes: Any, canvas_size: tuple[int, int] | None, name: str = "boxes"
) -> tuple[np.ndarray, tuple[int, int]]:
    """Integer XYXY boxes ``(N, 4)`` and the canvas ``(H, W)`` from any box input.

    Args:
        boxes: a ``tv_tensors.BoundingBoxes`` (any format; its ``canvas_size`` is used), or XYXY
            boxes as a sequence of 4 numbers or an ``(N, 4)`` array/tensor.
        canvas_size: ``(H, W)``; required unless ``boxes`` is ``BoundingBoxes``.
        name: argument name for messages.

    Raises:
        ValueError: no canvas size, a malformed, non-finite or empty set of boxes, or a box
            outside the canvas or empty after rounding.
    """
    from torchvision import tv_tensors

    if isinstance(boxes, tv_tensors.BoundingBoxes):
        canvas_size = (int(boxes.canvas_size[0]), int(boxes.canvas_size[1]))
        arr = _xyxy_float(boxes)
    else:
        if _checks.is_tensor(boxes):
            boxes = boxes.detach().cpu().numpy()
        try:
            arr = np.asarray(boxes, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be XYXY numbers, got {type(boxes).__name__}") from err
        if arr.ndim == 1:
            arr = arr[None]
    if canvas_size is None:
        raise ValueError(
            "canvas_size=(H, W) is required unless boxes is a tv_tensors.BoundingBoxes"
        )
    h, w = _checks.size_pair("canvas_size", canvas_size)
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be XYXY of shape (4,) or (N, 4), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    xyxy = np.rint(arr).astype(np.int64)
    bad = (
        (xyxy[:, 0] < 0)
        | (xyxy[:, 1] < 0)
        | (xyxy[:, 2] > w)
        | (xyxy[:, 3] > h)
        | (xyxy[:, 2] <= xyxy[:, 0])
        | (xyxy[:, 3] <= xyxy[:, 1])
    )
    if bad.any():
        raise ValueError(
            f"{name} must be non-empty XYXY boxes inside the {h}x{w} canvas, "
            f"got {arr[bad][0].tolist()}"
        )
    return xyxy, (h, w)


def _xyxy_float(boxes: tv_tensors.BoundingBoxes) -> np.ndarray:
    import torch
    from torchvision.ops import box_convert

    data = boxes.as_subclass(torch.Tensor).reshape(-1, 4).double()
    fmt = boxes.format.name.lower()
    if fmt != "xyxy":
        data = box_convert(data, in_fmt=fmt, out_fmt="xyxy")
    return np.asarray(data.cpu().numpy())


def boxes_to_list(boxes: tv_tensors.BoundingBoxes) -> list[Box]:
    """Integer XYXY boxes of a ``BoundingBoxes`` (any format), rounded and clipped to its
    canvas; boxes that are empty after that are dropped.

    Examples:
        >>> from torchvision import tv_tensors
        >>> bb = tv_tensors.BoundingBoxes([[1, 2, 5, 9], [3, 3, 3, 4]], format="XYXY",
        ...                               canvas_size=(8, 8))
        >>> boxes_to_list(bb)
        [Box(x0=1, y0=2, x1=5, y1=8)]
    """
    h, w = boxes.canvas_size
    arr = _xyxy_float(boxes)
    out = []
    for x0, y0, x1, y1 in np.rint(np.nan_to_num(arr, nan=-1.0)).astype(np.int64).tolist():
        x0, x1 = max(0, min(x0, w)), max(0, min(x1, w))
        y0, y1 = max(0, min(y0, h)), max(0, min(y1, h))
        if x1 > x0 and y1 > y0:
            out.append(Box(x0, y0, x1, y1))
    return out


def to_bounding_boxes(
    box: Box | None, canvas_size: tuple[int, int], fmt: Any = "XYXY"
) -> tv_tensors.BoundingBoxes:
    """One box (or none) as ``BoundingBoxes`` on a canvas, in format ``fmt``.

    Examples:
        >>> to_bounding_boxes(Box(1, 2, 3, 4), (5, 5)).tolist()
        [[1.0, 2.0, 3.0, 4.0]]
    """
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import functional as TF

    data = torch.zeros((0, 4)) if box is None else torch.tensor([list(box)], dtype=torch.float32)
    out = tv_tensors.BoundingBoxes(data, format="XYXY", canvas_size=canvas_size)
    target = tv_tensors.BoundingBoxFormat[fmt] if isinstance(fmt, str) else fmt
    if target != tv_tensors.BoundingBoxFormat.XYXY:
        out = TF.convert_bounding_box_format(out, new_format=target)
    return out


def box_mask(
    box: Box | None, canvas_size: tuple[int, int], device: torch.device | None = None
) -> torch.Tensor:
    """uint8 ``(1, H, W)`` mask, 1 inside ``box`` (all zeros for None).

    Examples:
        >>> int(box_mask(Box(1, 1, 3, 2), (4, 4)).sum())
        2
    """
    import torch

    mask = torch.zeros((1, *canvas_size), dtype=torch.uint8, device=device)
    if box is not None:
        mask[:, box.y0 : box.y1, box.x0 : box.x1] = 1
    return mask


def mask_box(mask: Any) -> Box | None:
    """Bounding box of the non-zero pixels of a ``(1, H, W)`` or ``(H, W)`` mask (tensor or
    array), or None if it is empty.

    Examples:
        >>> m = np.zeros((4, 5)); m[1:3, 2:4] = 1
        >>> mask_box(m)
        Box(x0=2, y0=1, x1=4, y1=3)
    """
    if _checks.is_tensor(mask):
        mask = mask.detach().cpu().numpy()
    arr = np.asarray(mask)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[0] != 1):
        raise ValueError(f"mask must be (1, H, W) or (H, W), got shape {arr.shape}")
    if np.iscomplexobj(arr) or arr.dtype.kind not in "biuf":
        raise TypeError(f"mask must hold real numbers or bools, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("mask contains NaN or inf")
    arr = arr.reshape(arr.shape[-2:]).astype(bool)
    ys, xs = np.nonzero(arr.any(1))[0], np.nonzero(arr.any(0))[0]
    if len(ys) == 0:
        return None
    return Box(int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)


__all__ = [
    "Box",
    "box_mask",
    "boxes_to_list",
    "largest_box",
    "mask_box",
    "scale_box",
    "to_bounding_boxes",
    "xyxy_array",
]
