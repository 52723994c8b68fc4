"""Pictures: a tiled canvas with labels and boxes, saliency colour maps, SaliencySwap grids."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from saliencyaug._opencv import require_cv2
from saliencyaug.boxes.geometry import Box, mask_box
from saliencyaug.boxes.search import BoxSearch
from saliencyaug.image import colorize, to_hwc_uint8
from saliencyaug.memory import MemoryQueue
from saliencyaug.models import ResNetBackbone
from saliencyaug.saliency import get_detector
from saliencyaug.synthesized import (
    FeatureDecoder,
    GradCAMPerturber,
    VariancePerturber,
    pretrain_decoder,
)
from saliencyaug.transforms import SaliencySwap, salient_mask_of

BOX_COLORS = [(0, 230, 64), (255, 200, 0), (255, 64, 64), (64, 160, 255), (230, 0, 230)]


class TileCanvas:
    """A grid of square tiles, each an image scaled to fit, with a label and boxes.

    Args:
        rows: number of rows.
        cols: number of columns.
        tile: tile side in pixels.

    Examples:
        >>> canvas = TileCanvas(1, 2, tile=32)
        >>> canvas.place(0, 1, np.zeros((10, 20, 3), np.uint8), "x", [Box(1, 1, 5, 5)])
        >>> canvas.to_array().shape
        (50, 64, 3)
    """

    label_height = 18

    def __init__(self, rows: int, cols: int, tile: int = 224) -> None:
        from PIL import Image, ImageDraw

        self.tile = tile
        self.image = Image.new(
            "RGB", (cols * tile, rows * (tile + self.label_height)), (255, 255, 255)
        )
        self.draw = ImageDraw.Draw(self.image)

    def place(
        self,
        row: int,
        col: int,
        rgb: np.ndarray,
        label: str = "",
        boxes: Sequence[Box] = (),
        colors: Sequence[tuple[int, int, int]] = BOX_COLORS,
    ) -> None:
        """Draw ``rgb`` (uint8 ``(H, W, 3)``) in a tile, with ``boxes`` in its own pixel units."""
        cv2 = require_cv2()
        from PIL import Image

        h, w = rgb.shape[:2]
        f = self.tile / max(h, w)
        size = (max(1, round(w * f)), max(1, round(h * f)))
        top = row * (self.tile + self.label_height) + self.label_height
        ox, oy = col * self.tile + (self.tile - size[0]) // 2, top + (self.tile - size[1]) // 2
        small = cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA)
        self.image.paste(Image.fromarray(small), (ox, oy))
        for k, box in enumerate(boxes):
            self.draw.rectangle(
                [ox + box.x0 * f, oy + box.y0 * f, ox + box.x1 * f - 1, oy + box.y1 * f - 1],
                outline=colors[k % len(colors)],
                width=3,
            )
        self.draw.text((col * self.tile + 4, top - self.label_height + 3), label, fill=(0, 0, 0))

    def to_array(self) -> np.ndarray:
        """The canvas as uint8 RGB."""
        return np.asarray(self.image)

    def to_png(self) -> bytes:
        """The canvas encoded as PNG."""
        import io

        buf = io.BytesIO()
        self.image.save(buf, format="PNG", optimize=True)
        return buf.getvalue()


def render_swap_grid(
    images: Sequence[tuple[str, np.ndarray]],
    swap: SaliencySwap,
    search: BoxSearch | None = None,
    boxes: Sequence[Box | None] | None = None,
    tile: int = 192,
) -> TileCanvas:
    """One row per image: the image with its box, its saliency map with the box, and two
    SaliencySwap views with their masks outlined.

    Args:
        images: ``(name, uint8 RGB (H, W, 3))`` pairs.
        swap: the transform that makes the views (its detector draws the maps).
        search: box objective for the maps (default: the transform's).
        boxes: known boxes (e.g. from a cache) per image; None entries are detected.
        tile: tile side.
    """
    import torch
    from torchvision import tv_tensors

    search = search or swap.box_search
    detector = get_detector(swap.detector)
    canvas = TileCanvas(len(images), 4, tile)
    for r, (name, rgb) in enumerate(images):
        saliency = detector(rgb)
        known = boxes[r] if boxes is not None else None
        box = known if known is not None else search(saliency)
        canvas.place(r, 0, rgb, name, [box])
        canvas.place(
            r,
            1,
            colorize(saliency),
            f"{swap.detector if isinstance(swap.detector, str) else 'map'}",
            [box],
        )
        tensor = tv_tensors.Image(torch.from_numpy(rgb).permute(2, 0, 1))
        bb = tv_tensors.BoundingBoxes([list(box)], format="XYXY", canvas_size=rgb.shape[:2])
        for c in (2, 3):
            view, _, mask = swap(tensor, bb, salient_mask_of(tensor, bb))
            outline = mask_box(mask)
            canvas.place(
                r,
                c,
                to_hwc_uint8(view),
                f"view {c - 1} ({swap.mode})",
                [outline] if outline else [],
            )
    return canvas


def render_synthesized_pairs(
    images: Sequence[tuple[str, np.ndarray]],
    size: int = 64,
    steps: int = 300,
    eps_scales: Sequence[float] = (1.0, 3.0),
    seed: int = 0,
    tile: int = 128,
) -> tuple[TileCanvas, list[float]]:
    """Clean images, their reconstructions from a pre-trained decoder, and reconstructions of
    perturbed features (second paper, Fig. 1), one row per image.

    No weights are downloaded: the encoder is a randomly initialised ResNet-18, frozen, and the
    decoder is pre-trained on these images for ``steps`` Adam steps (the paper pre-trains the
    decoder with the encoder frozen). Perturbations use the paper's Grad-CAM and variance
    noise (``eps_g = 0.1``, ``eps_var = 0.05``), times each of ``eps_scales``.

    Returns:
        The canvas and the pre-training loss history.
    """
    import torch

    with torch.random.fork_rng(devices=[]):  # seeded here, the caller's RNG left as it was
        torch.manual_seed(seed)
        return _render_synthesized_pairs(images, size, steps, eps_scales, tile)


def _render_synthesized_pairs(
    images: Sequence[tuple[str, np.ndarray]],
    size: int,
    steps: int,
    eps_scales: Sequence[float],
    tile: int,
) -> tuple[TileCanvas, list[float]]:
    cv2 = require_cv2()
    import torch

    x = (
        torch.stack(
            [
                torch.from_numpy(
                    cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
                ).permute(2, 0, 1)
                for _, img in images
            ]
        ).float()
        / 255
    )
    backbone = ResNetBackbone("resnet18").eval()
    projector = torch.nn.Sequential(
        torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 128)
    )

    def encode(b: torch.Tensor) -> torch.Tensor:
        return backbone(b).pooled

    decoder = FeatureDecoder(512, size)
    history = pretrain_decoder(encode, decoder, [x], epochs=steps, lr=3e-3)
    decoder.eval()
    with torch.no_grad():
        v = encode(x)
        v_aug = encode(x.flip(-1))
        bank = MemoryQueue(512, 64)
        bank.add(v)
        bank.add(v_aug)
    with torch.no_grad():
        columns = [("clean", x), ("reconstructed", decoder(v))]
    for scale in eps_scales:
        noise = GradCAMPerturber(0.1 * scale)(v, v_aug, projector) + VariancePerturber(
            0.05 * scale
        )(v, bank)
        with torch.no_grad():
            columns.append((f"perturbed (eps x{scale:g})", decoder(v + noise)))
    canvas = TileCanvas(len(images), len(columns), tile)
    for r, (name, _) in enumerate(images):
        for c, (label, batch) in enumerate(columns):
            canvas.place(r, c, to_hwc_uint8(batch[r]), f"{name}: {label}" if c == 0 else label)
    return canvas, history
