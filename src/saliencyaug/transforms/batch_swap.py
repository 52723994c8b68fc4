"""``BatchSaliencySwap``: SaliencySwap between the images of a batch, on their device.

For GPU pipelines that load plain crops and augment on the device. Output ``i`` shows a crop
of image ``i``'s salient box (its **foreground**, so labels and identities stay with ``i``)
resized onto the salient box of another image ``j`` (``replace``, the paper's mode I) or onto a
random region of image ``j`` (``paste``); the backgrounds ``j`` form a random cyclic
derangement of the batch. With probability ``1 - p`` an output is image ``i`` unchanged, and
its mask is its own box.

:meth:`BatchSaliencySwap.views` makes several views of the same foregrounds with independent
backgrounds and crops: the positive pairs of CVSA. Draws use the same vectorised sampler as the
per-sample :class:`~saliencyaug.transforms.SaliencySwap` (:mod:`.sampling`); every draw is
recorded in :class:`BatchSwapParams`, so a swap can be replayed
(:meth:`~BatchSaliencySwap.replay`) on other tensors, e.g. feature maps of another resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from saliencyaug import _checks
from saliencyaug.transforms import functional as F
from saliencyaug.transforms.sampling import SwapMode, sample_derangement, sample_swap_boxes


@dataclass
class BatchSwapParams:
    """The random draws of one :class:`BatchSaliencySwap` call (tensors on the batch's device).

    Attributes:
        image_size: ``(H, W)`` the boxes refer to.
        background: ``(B,)`` index of the image whose background output ``i`` uses.
        crop: ``(B, 4)`` XYXY crop of image ``i`` (inside its box).
        target: ``(B, 4)`` XYXY region it covers on the output.
        swapped: ``(B,)`` bool; False where the ``1 - p`` draw kept image ``i`` unchanged.
        boxes: ``(B, 4)`` the images' own salient boxes (the masks of unswapped outputs).
    """

    image_size: tuple[int, int]
    background: torch.Tensor
    crop: torch.Tensor
    target: torch.Tensor
    swapped: torch.Tensor
    boxes: torch.Tensor

    def to(self, device: torch.device | str) -> BatchSwapParams:
        """The same draws on another device."""
        return BatchSwapParams(
            self.image_size,
            self.background.to(device),
            self.crop.to(device),
            self.target.to(device),
            self.swapped.to(device),
            self.boxes.to(device),
        )


class BatchSwapOutput(NamedTuple):
    """``images`` ``(B, C, H, W)``, float ``masks`` ``(B, 1, H, W)`` and the draws."""

    images: torch.Tensor
    masks: torch.Tensor
    params: BatchSwapParams


def _check_images(images: torch.Tensor) -> None:
    _checks.tensor("images", images, ndim=4, shape="(B, C, H, W)")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"images must be uint8 or floating point, got {images.dtype}")
    _checks.finite_values("images", images)


def check_boxes(boxes: torch.Tensor, b: int, h: int, w: int) -> torch.Tensor:
    """Validate ``(B, 4)`` XYXY boxes inside ``h x w`` images; returns them as int64."""
    if not isinstance(boxes, torch.Tensor) or boxes.shape != (b, 4):
        shape = tuple(boxes.shape) if isinstance(boxes, torch.Tensor) else type(boxes).__name__
        raise ValueError(
            f"boxes must be a (B, 4) = ({b}, 4) XYXY tensor, one box per image of images, got "
            f"{shape}"
        )
    if boxes.is_floating_point() and not bool(torch.isfinite(boxes).all()):
        raise ValueError("boxes contains NaN or inf")
    boxes = boxes.round().long()
    x0, y0, x1, y1 = boxes.unbind(1)
    if bool(((x0 < 0) | (y0 < 0) | (x1 > w) | (y1 > h) | (x1 <= x0) | (y1 <= y0)).any()):
        raise ValueError(f"boxes must be non-empty XYXY boxes inside the {h}x{w} images")
    return boxes


class BatchSaliencySwap(nn.Module):
    """Swap salient crops between the images of a ``(B, C, H, W)`` batch.

    Args:
        mode: ``"replace"`` (cover the background image's box) or ``"paste"`` (random region).
        scale: crop area fraction of the foreground box, U(scale).
        ratio: crop aspect-ratio range, log-uniform (restricted to ratios that fit).
        paste_scale: ``paste`` mode: pasted area fraction of the image, U(paste_scale).
        p: probability that an output is swapped (else image ``i`` unchanged, mask = its box).

    Examples:
        >>> images = torch.rand(4, 3, 32, 32)
        >>> boxes = torch.tensor([[4, 4, 28, 28]] * 4)
        >>> out, masks, params = BatchSaliencySwap()(images, boxes)
        >>> out.shape, masks.shape, bool((params.background != torch.arange(4)).all())
        (torch.Size([4, 3, 32, 32]), torch.Size([4, 1, 32, 32]), True)
        >>> (v1, m1, p1), (v2, m2, p2) = BatchSaliencySwap().views(images, boxes)  # CVSA pairs
    """

    def __init__(
        self,
        mode: SwapMode = "replace",
        scale: tuple[float, float] = (0.5, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        paste_scale: tuple[float, float] = (0.3, 1.0),
        p: float = 1.0,
    ) -> None:
        super().__init__()
        self.mode: SwapMode = _checks.choice("mode", mode, ("replace", "paste"))
        self.scale = _checks.range_pair("scale", scale, 0.0, 1.0)
        self.ratio = _checks.range_pair("ratio", ratio, 0.0, float("inf"))
        self.paste_scale = _checks.range_pair("paste_scale", paste_scale, 0.0, 1.0)
        self.p = _checks.probability("p", p)

    def make_params(self, boxes: torch.Tensor, image_size: tuple[int, int]) -> BatchSwapParams:
        """Draw backgrounds, crops, targets and the swap decisions for ``(B, 4)`` boxes
        (torch RNG, on the boxes' device)."""
        h, w = _checks.size_pair("image_size", image_size)
        b = int(boxes.shape[0]) if isinstance(boxes, torch.Tensor) and boxes.ndim == 2 else -1
        if b < 1:
            raise ValueError(f"boxes must be a non-empty (B, 4) tensor, got {boxes!r}")
        boxes = check_boxes(boxes, b, h, w)
        dev = boxes.device
        swapped = torch.rand(b, device=dev) < self.p
        background = sample_derangement(b, dev)
        crop, target = sample_swap_boxes(
            boxes,
            boxes[background],
            (h, w),
            self.mode,
            self.scale,
            self.ratio,
            self.paste_scale,
        )
        return BatchSwapParams((h, w), background, crop, target, swapped, boxes)

    def replay(
        self, images: torch.Tensor, params: BatchSwapParams
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Replay a swap on ``images`` ``(B, C, H', W')`` (any size: the boxes are scaled from
        ``params.image_size``); returns ``(images, masks)`` with float ``(B, 1, H', W')`` masks."""
        _check_images(images)
        if images.shape[0] != params.background.shape[0]:
            raise ValueError(
                f"images has batch {images.shape[0]}, but params were drawn for "
                f"{params.background.shape[0]}"
            )
        return F.batch_saliency_swap(
            images,
            params.background,
            params.crop,
            params.target,
            params.swapped,
            params.boxes,
            params.image_size,
        )

    def forward(
        self,
        images: torch.Tensor,
        boxes: torch.Tensor | None,
        params: BatchSwapParams | None = None,
    ) -> BatchSwapOutput:
        """One view: ``(images, masks, params)``.

        Args:
            images: ``(B, C, H, W)`` uint8 or float.
            boxes: ``(B, 4)`` XYXY salient boxes of the images (moved to their device);
                ignored when ``params`` is given.
            params: replay these draws instead of drawing new ones.
        """
        _check_images(images)
        if params is None:
            if boxes is None:
                raise ValueError("boxes are needed unless params are given")
            b, _, h, w = images.shape
            params = self.make_params(check_boxes(boxes, b, h, w).to(images.device), (h, w))
        out, masks = self.replay(images, params)
        return BatchSwapOutput(out, masks, params)

    def views(self, images: torch.Tensor, boxes: torch.Tensor, n: int = 2) -> list[BatchSwapOutput]:
        """``n`` views of the same foregrounds (output ``i`` of every view shows image ``i``'s
        object) with independent backgrounds and crops: CVSA's positive pairs."""
        n = _checks.integer("n", n, minimum=1)
        return [self(images, boxes) for _ in range(n)]


__all__ = ["BatchSaliencySwap", "BatchSwapOutput", "BatchSwapParams"]
