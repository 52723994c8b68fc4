"""``saliencyaug demo``: saliency maps and best boxes on bundled photos, as one PNG.

The photos come from scikit-image's bundled data at run time (astronaut, cat, coffee, rocket);
``synthetic=True`` uses procedurally generated scenes instead (that is how the picture in the
README is made, so that no third-party image is committed).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from saliencyaug.boxes import Box, BoxSearch
from saliencyaug.saliency import get_detector

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
DEFAULT_DETECTORS = ("spectral_residual", "fine_grained", "rbd", "geodesic")
_BOX_COLORS = [(0, 230, 64), (255, 200, 0), (255, 64, 64), (64, 160, 255), (230, 0, 230)]


def bundled_photos(names: Sequence[str] = PHOTOS) -> list[tuple[str, np.ndarray]]:
    """RGB uint8 photos bundled with scikit-image (no download)."""
    import skimage.data

    out = []
    for name in names:
        img = getattr(skimage.data, name)()
        if img.ndim == 2:
            img = np.dstack([img] * 3)
        out.append((name, np.ascontiguousarray(img[:, :, :3])))
    return out


def synthetic_scenes(n: int = 3, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Procedural scenes: a textured background with one smooth coloured object."""
    import cv2

    rng = np.random.default_rng(seed)
    scenes = []
    for i in range(n):
        h, w = 240, 320
        noise = rng.random((h // 8, w // 8, 3)).astype(np.float32)
        bg = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
        bg = 0.25 + 0.4 * bg + 0.02 * rng.random((h, w, 3)).astype(np.float32)
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx = rng.uniform(0.35, 0.65) * h, rng.uniform(0.3, 0.7) * w
        ry, rx = rng.uniform(0.15, 0.28) * h, rng.uniform(0.12, 0.25) * w
        body = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        head = ((yy - (cy - ry)) / (ry * 0.45)) ** 2 + (
            (xx - (cx + rx * 0.6)) / (rx * 0.45)
        ) ** 2 < 1
        color = np.array(rng.choice([[0.9, 0.3, 0.1], [0.95, 0.85, 0.2], [0.2, 0.4, 0.95]]))
        img = bg.copy()
        img[body | head] = color * (0.8 + 0.2 * rng.random(((body | head).sum(), 1)))
        scenes.append((f"scene {i + 1}", np.clip(img * 255, 0, 255).astype(np.uint8)))
    return scenes


def _colorize(saliency: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.applyColorMap((saliency * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[:, :, ::-1]


def render_demo(
    images: Sequence[tuple[str, np.ndarray]],
    detectors: Sequence[str] = DEFAULT_DETECTORS,
    search: BoxSearch | None = None,
    tile: int = 224,
) -> np.ndarray:
    """A grid: one row per image; the photo, each detector's map with its best box, and the
    photo with every detector's box.

    Returns:
        uint8 RGB ``(rows * (tile + 18), (len(detectors) + 2) * tile, 3)``.
    """
    import cv2
    from PIL import Image, ImageDraw

    search = search or BoxSearch()
    label_h = 18
    cols = len(detectors) + 2
    canvas = Image.new("RGB", (cols * tile, len(images) * (tile + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, (name, img) in enumerate(images):
        h, w = img.shape[:2]
        f = tile / max(h, w)
        size = (max(1, round(w * f)), max(1, round(h * f)))
        top = r * (tile + label_h) + label_h

        def place(
            col: int,
            arr: np.ndarray,
            label: str,
            boxes: list[tuple[Box, tuple]],
            size: tuple[int, int] = size,
            top: int = top,
            f: float = f,
        ) -> None:
            small = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
            ox, oy = col * tile + (tile - size[0]) // 2, top + (tile - size[1]) // 2
            canvas.paste(Image.fromarray(small), (ox, oy))
            for box, color in boxes:
                draw.rectangle(
                    [ox + box.x0 * f, oy + box.y0 * f, ox + box.x1 * f - 1, oy + box.y1 * f - 1],
                    outline=color,
                    width=3,
                )
            draw.text((col * tile + 4, top - label_h + 3), label, fill=(0, 0, 0))

        place(0, img, name, [])
        all_boxes = []
        for c, det_name in enumerate(detectors):
            s = get_detector(det_name)(img)
            box = search(s)
            color = _BOX_COLORS[c % len(_BOX_COLORS)]
            all_boxes.append((box, color))
            place(c + 1, _colorize(s), det_name, [(box, color)])
        place(cols - 1, img, f"boxes ({search.objective})", all_boxes)
    return np.asarray(canvas)


def run_demo(
    out: str | Path = "saliencyaug-demo.png",
    detectors: Sequence[str] = DEFAULT_DETECTORS,
    synthetic: bool = False,
    objective: str = "excess",
) -> Path:
    """Render the demo grid and write it atomically as a PNG; returns the path."""
    from PIL import Image

    from saliencyaug.io import atomic_write_bytes

    images = synthetic_scenes() if synthetic else bundled_photos()
    search = BoxSearch(objective) if objective != "mean" else BoxSearch("mean", min_area=0.1)
    grid = render_demo(images, detectors, search)
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG", optimize=True)
    path = Path(out)
    atomic_write_bytes(path, buf.getvalue())
    return path
