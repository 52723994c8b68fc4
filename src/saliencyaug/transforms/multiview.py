"""``MultiView``: several independent views of one sample, each with its saliency mask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils._pytree import tree_flatten
from torchvision import tv_tensors

from saliencyaug import _checks
from saliencyaug.boxes.geometry import boxes_to_list
from saliencyaug.image import image_size, is_image_leaf


def salient_mask_of(*inputs: Any) -> tv_tensors.Mask:
    """A ``tv_tensors.Mask`` for a sample: 1 inside its ``BoundingBoxes`` (all zeros without
    boxes), at the size of its image. SaliencySwap fills it with the view's mask; other v2
    geometric transforms move it with the image."""
    flat, _ = tree_flatten(list(inputs))
    images = [x for x in flat if is_image_leaf(x)]
    if not images:
        raise ValueError("the sample holds no image")
    h, w = image_size(images[0])
    mask = torch.zeros((1, h, w), dtype=torch.uint8)
    for x in flat:
        if isinstance(x, tv_tensors.BoundingBoxes) and tuple(x.canvas_size) == (h, w):
            for box in boxes_to_list(x):
                mask[:, box.y0 : box.y1, box.x0 : box.x1] = 1
    return tv_tensors.Mask(mask)


class MultiView:
    """Apply a view pipeline ``n`` times to one sample: ``[view_1, ..., view_n]``.

    Every call of the pipeline draws its own randomness, so with ``SaliencySwap`` first the
    views get independent crops and backgrounds. With ``with_mask`` (default) a sample without
    a ``tv_tensors.Mask`` gets one (:func:`salient_mask_of`) before each call, so every view
    carries its saliency mask: with SaliencySwap or RandomResizedCropWithMask first, and with
    any other v2 pipeline (the mask of the sample's boxes is moved with the image). Each view
    is then ``(image, mask)``, and lists of views collate with ``default_collate``.

    Args:
        transform: the per-view pipeline (e.g. :func:`saliencyaug.transforms.moco_v2_view`).
        n: number of views (2 for BYOL/MoCo).
        with_mask: give the sample a mask to fill (see above).
        keep_boxes: keep the ``BoundingBoxes`` in each view (by default they are dropped and a
            lone remaining item is unwrapped, since a view's boxes can be empty and would not
            collate).

    Examples:
        >>> from saliencyaug.transforms import SaliencySwap
        >>> swap = SaliencySwap([torch.zeros(3, 16, 16, dtype=torch.uint8)], size=8, mode="paste")
        >>> views = MultiView(swap)(torch.full((3, 20, 20), 9, dtype=torch.uint8))
        >>> len(views), tuple(views[0][0].shape), tuple(views[0][1].shape)
        (2, (3, 8, 8), (1, 8, 8))
    """

    def __init__(
        self,
        transform: Callable[..., Any],
        n: int = 2,
        *,
        with_mask: bool = True,
        keep_boxes: bool = False,
    ) -> None:
        self.transform = _checks.callable_("transform", transform)
        self.n = _checks.integer("n", n, minimum=1)
        self.with_mask = _checks.boolean("with_mask", with_mask)
        self.keep_boxes = _checks.boolean("keep_boxes", keep_boxes)

    def __call__(self, *inputs: Any) -> list[Any]:
        if self.with_mask:
            flat, _ = tree_flatten(list(inputs))
            if not any(isinstance(x, tv_tensors.Mask) for x in flat):
                inputs = (*inputs, salient_mask_of(*inputs))
        return [self._strip(self.transform(*inputs)) for _ in range(self.n)]

    def _strip(self, view: Any) -> Any:
        if self.keep_boxes or not isinstance(view, (tuple, list)):
            return view
        kept = [v for v in view if not isinstance(v, tv_tensors.BoundingBoxes)]
        if len(kept) == len(view):
            return view
        return kept[0] if len(kept) == 1 else type(view)(kept)

    def __repr__(self) -> str:
        return (
            f"MultiView(n={self.n}, with_mask={self.with_mask}, keep_boxes={self.keep_boxes}, "
            f"transform={self.transform!r})"
        )


__all__ = ["MultiView", "salient_mask_of"]
