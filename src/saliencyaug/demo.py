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

from saliencyaug._opencv import require_cv2
from saliencyaug.boxes import BoxSearch
from saliencyaug.image import colorize
from saliencyaug.io import atomic_write_bytes
from saliencyaug.saliency import STILL_IMAGE_DETECTORS, get_detector
from saliencyaug.visualize import BOX_COLORS, TileCanvas

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
DEFAULT_DETECTORS = STILL_IMAGE_DETECTORS


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
    cv2 = require_cv2()

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
    search = search or BoxSearch()
    canvas = TileCanvas(len(images), len(detectors) + 2, tile)
    for r, (name, img) in enumerate(images):
        found = []
        for c, det_name in enumerate(detectors):
            s = get_detector(det_name)(img)
            found.append(search(s))
            color = BOX_COLORS[c % len(BOX_COLORS)]
            canvas.place(r, c + 1, colorize(s), det_name, [found[-1]], [color])
        canvas.place(r, 0, img, name)
        canvas.place(r, len(detectors) + 1, img, f"boxes ({search.name})", found)
    return canvas.to_array()


def run_demo(
    out: str | Path = "saliencyaug-demo.png",
    detectors: Sequence[str] = DEFAULT_DETECTORS,
    synthetic: bool = False,
    search: BoxSearch | None = None,
) -> Path:
    """Render the demo grid and write it atomically as a PNG; returns the path."""
    from PIL import Image

    images = synthetic_scenes() if synthetic else bundled_photos()
    grid = render_demo(images, detectors, search)
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG", optimize=True)
    path = Path(out)
    atomic_write_bytes(path, buf.getvalue())
    return path
