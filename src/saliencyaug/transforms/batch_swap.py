"""``BatchSaliencySwap``: SaliencySwap between the images of a batch, on their device.

For GPU pipelines that load plain crops and augment on the device: output ``i`` is image ``i``
(the background) with a crop of another image's salient box resized onto image ``i``'s own
salient box (``replace``, the paper's mode I) or onto a random region (``paste``). The
foreground sources form a random cyclic derangement of the batch (no image keeps its own
foreground when B > 1). Every draw is recorded in a :class:`BatchSwapParams`, so that a swap
can be replayed on other tensors (e.g. feature maps or a second copy of the batch).

Resampling is one ``affine_grid`` + ``grid_sample`` (bilinear, no antialiasing) for the whole
batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class BatchSwapParams:
    """The random draws of one :class:`BatchSaliencySwap` call (tensors on the batch's device).

    Attributes:
        source: ``(B,)`` index of the image each output takes its foreground from.
        crop: ``(B, 4)`` XYXY crop in the source image.
        target: ``(B, 4)`` XYXY region it covers in the output.
        swapped: ``(B,)`` bool; False where the ``1 - p`` draw kept the image unchanged.
    """

    source: torch.Tensor
    crop: torch.Tensor
    target: torch.Tensor
    swapped: torch.Tensor


def _check_boxes(boxes: torch.Tensor, b: int, h: int, w: int) -> torch.Tensor:
    if not isinstance(boxes, torch.Tensor) or boxes.shape != (b, 4):
        shape = tuple(boxes.shape) if isinstance(boxes, torch.Tensor) else type(boxes).__name__
        raise ValueError(f"boxes must be a (B, 4) = ({b}, 4) XYXY tensor, got {shape}")
    boxes = boxes.round().long()
    x0, y0, x1, y1 = boxes.unbind(1)
    if bool(((x0 < 0) | (y0 < 0) | (x1 > w) | (y1 > h) | (x1 <= x0) | (y1 <= y0)).any()):
        raise ValueError(f"boxes must be non-empty XYXY boxes inside the {h}x{w} images")
    return boxes


class BatchSaliencySwap(nn.Module):
    """Swap salient crops between the images of a ``(B, C, H, W)`` batch.

    Args:
        mode: ``"replace"`` (cover each image's own box) or ``"paste"`` (random region).
        scale: crop area fraction of the source box, U(scale).
        ratio: crop aspect-ratio range, log-uniform (restricted to ratios that fit).
        paste_scale: ``paste`` mode: pasted area fraction of the image, U(paste_scale).
        p: probability that an image is swapped (else left as it is, mask = its box).

    Example:
        >>> import torch
        >>> images = torch.rand(4, 3, 32, 32)
        >>> boxes = torch.tensor([[4, 4, 28, 28]] * 4)
        >>> out, masks, params = BatchSaliencySwap()(images, boxes)
        >>> out.shape, masks.shape, params.source.tolist() != [0, 1, 2, 3]
        (torch.Size([4, 3, 32, 32]), torch.Size([4, 1, 32, 32]), True)
    """

    def __init__(
        self,
        mode: str = "replace",
        scale: tuple[float, float] = (0.5, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        paste_scale: tuple[float, float] = (0.3, 1.0),
        p: float = 1.0,
    ) -> None:
        super().__init__()
        from saliencyaug.transforms.saliency_swap import _check_range

        if mode not in ("replace", "paste"):
            raise ValueError(f"mode must be 'replace' or 'paste', got {mode!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        self.mode = mode
        self.scale = _check_range("scale", scale, 0.0, 1.0)
        self.ratio = _check_range("ratio", ratio, 0.0, math.inf)
        self.paste_scale = _check_range("paste_scale", paste_scale, 0.0, 1.0)
        self.p = float(p)

    def make_params(self, boxes: torch.Tensor, image_size: tuple[int, int]) -> BatchSwapParams:
        """Draw sources, crops and targets for ``(B, 4)`` boxes (torch RNG, boxes' device)."""
        h, w = image_size
        b = boxes.shape[0]
        dev = boxes.device
        boxes = _check_boxes(boxes, b, h, w)
        if b > 1:  # cyclic derangement: nobody keeps their own foreground
            perm = torch.randperm(b, device=dev)
            source = torch.empty_like(perm)
            source[perm] = perm.roll(-1)
        else:
            source = torch.zeros(1, dtype=torch.long, device=dev)
        src_box = boxes[source]
        crop = _sample_crops(src_box, self.scale, self.ratio)
        if self.mode == "replace":
            target = boxes.clone()
        else:
            target = _sample_paste(crop, (h, w), self.paste_scale)
        swapped = torch.rand(b, device=dev) < self.p
        return BatchSwapParams(source, crop, target, swapped)

    def apply(
        self, images: torch.Tensor, params: BatchSwapParams
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Replay a swap: ``(images, masks)`` with float ``(B, 1, H, W)`` masks."""
        if images.ndim != 4:
            raise ValueError(f"images must be (B, C, H, W), got {tuple(images.shape)}")
        b, _, h, w = images.shape
        src = images[params.source].float()
        theta = _affine(params.crop.float(), params.target.float(), h, w)
        grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
        sampled = F.grid_sample(
            src, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        masks = _box_masks(params.target, h, w, images.device)
        swap = masks.bool() & params.swapped.view(b, 1, 1, 1)
        if images.dtype == torch.uint8:
            sampled = sampled.round().clamp_(0, 255).to(torch.uint8)
        else:
            sampled = sampled.to(images.dtype)
        out = torch.where(swap, sampled, images)
        return out, masks

    def forward(
        self, images: torch.Tensor, boxes: torch.Tensor, params: BatchSwapParams | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, BatchSwapParams]:
        """Swap foregrounds; returns ``(images, masks, params)``.

        Args:
            images: ``(B, C, H, W)`` uint8 or float.
            boxes: ``(B, 4)`` XYXY salient boxes of the images (on any device; moved).
            params: replay these draws instead of drawing new ones.
        """
        if images.ndim != 4:
            raise ValueError(f"images must be (B, C, H, W), got {tuple(images.shape)}")
        if params is None:
            b, _, h, w = images.shape
            _check_boxes(boxes, b, h, w)
            params = self.make_params(boxes.to(images.device), (h, w))
        out, masks = self.apply(images, params)
        return out, masks, params


def _uniform(lo: float, hi: float, n: int, device: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, device=device, dtype=torch.float64)


def _sample_crops(
    box: torch.Tensor, scale: tuple[float, float], ratio: tuple[float, float]
) -> torch.Tensor:
    """Vectorised :func:`saliencyaug.transforms.functional.sample_crop_box`."""
    n = box.shape[0]
    dev = box.device
    bw = (box[:, 2] - box[:, 0]).double()
    bh = (box[:, 3] - box[:, 1]).double()
    area = bw * bh * _uniform(*scale, n, dev)
    lo = torch.clamp(torch.log(area / bh**2), min=math.log(ratio[0]))
    hi = torch.clamp(torch.log(bw**2 / area), max=math.log(ratio[1]))
    u = torch.rand(n, device=dev, dtype=torch.float64)
    fits = lo <= hi
    nearest = torch.where(torch.log(bw**2 / area) < math.log(ratio[0]), hi, lo)
    log_r = torch.where(fits, lo + (hi - lo) * u, nearest)
    r = torch.exp(log_r)
    w = torch.minimum(bw, torch.clamp(torch.round(torch.sqrt(area * r)), min=1))
    h = torch.minimum(bh, torch.clamp(torch.round(torch.sqrt(area / r)), min=1))
    x0 = box[:, 0].double() + torch.floor(
        torch.rand(n, device=dev, dtype=torch.float64) * (bw - w + 1)
    )
    y0 = box[:, 1].double() + torch.floor(
        torch.rand(n, device=dev, dtype=torch.float64) * (bh - h + 1)
    )
    return torch.stack([x0, y0, x0 + w, y0 + h], 1).long()


def _sample_paste(
    crop: torch.Tensor, size: tuple[int, int], paste_scale: tuple[float, float]
) -> torch.Tensor:
    """Vectorised :func:`saliencyaug.transforms.functional.sample_paste_box`."""
    ch, cw = size
    n = crop.shape[0]
    dev = crop.device
    pw = (crop[:, 2] - crop[:, 0]).double()
    ph = (crop[:, 3] - crop[:, 1]).double()
    area = ch * cw * _uniform(*paste_scale, n, dev)
    h = torch.sqrt(area * ph / pw)
    w = h * pw / ph
    shrink = torch.clamp(torch.minimum(ch / h, cw / w), max=1.0)
    h = torch.clamp(torch.round(h * shrink), 1, ch)
    w = torch.clamp(torch.round(w * shrink), 1, cw)
    x0 = torch.floor(torch.rand(n, device=dev, dtype=torch.float64) * (cw - w + 1))
    y0 = torch.floor(torch.rand(n, device=dev, dtype=torch.float64) * (ch - h + 1))
    return torch.stack([x0, y0, x0 + w, y0 + h], 1).long()


def _affine(crop: torch.Tensor, target: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``theta`` mapping output normalised coordinates to source ones, per sample.

    A pixel centre ``x + 0.5`` of the target maps to ``crop.x0 + (x + 0.5 - target.x0) * s``
    in the source, ``s = crop width / target width`` (align_corners=False convention).
    """
    sx = (crop[:, 2] - crop[:, 0]) / (target[:, 2] - target[:, 0])
    sy = (crop[:, 3] - crop[:, 1]) / (target[:, 3] - target[:, 1])
    tx = 2 * (crop[:, 0] - target[:, 0] * sx) / w + sx - 1
    ty = 2 * (crop[:, 1] - target[:, 1] * sy) / h + sy - 1
    zero = torch.zeros_like(sx)
    return torch.stack([torch.stack([sx, zero, tx], 1), torch.stack([zero, sy, ty], 1)], 1)


def _box_masks(boxes: torch.Tensor, h: int, w: int, device: torch.device) -> torch.Tensor:
    ys = torch.arange(h, device=device).view(1, h, 1)
    xs = torch.arange(w, device=device).view(1, 1, w)
    b = boxes.to(device).view(-1, 4, 1, 1)
    inside = (xs >= b[:, 0]) & (xs < b[:, 2]) & (ys >= b[:, 1]) & (ys < b[:, 3])
    return inside.unsqueeze(1).float()
