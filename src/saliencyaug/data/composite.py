"""A controlled fine-grained benchmark: emoji composited onto real photographs, with the exact
box and mask of every object from its alpha channel.

Classes are face emoji (about a hundred, which differ only in eyes, mouth and props); each
class has one exemplar per art style (Twemoji, OpenMoji, Noto when installed). Backgrounds are
square crops of real photographs. Every image is a function of ``(seed, split, index)`` and is
made on the fly (about a millisecond at 64 px), so DataLoader workers, processes and reruns
produce the same pictures.

Knobs:

* ``share`` (``r``): how many images of the split use one identical background crop (with
  different, random classes). At ``r = 1`` every image has its own background, which then
  identifies the instance: two views of one image share background texture more often than
  they share the object, a shortcut for instance discrimination. A large ``r`` removes it.
* ``backgrounds``: which photographs the split draws from; ``"train"`` and ``"test"`` are
  disjoint sets (the pre-training and probe-training splits use ``"train"``, the probe-test
  split ``"test"``), so that memorising backgrounds cannot help a probe.
* ``styles`` / ``held_out_style``: the art styles used, and one kept out of the split.
* ``scale``: the object's longest side as a fraction of the image side; ``distractors``: extra
  emoji of other classes pasted small, behind the object (no box).

Items are ``(image, boxes, label)`` -- a ``tv_tensors.Image`` (uint8 RGB), a
``tv_tensors.BoundingBoxes`` (XYXY, the object's exact box) and the class index -- or, with
``transform``, ``(transform(image, boxes), label)``, like every loader of
:mod:`saliencyaug.data`; :meth:`CompositeEmoji.mask` gives the exact mask.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors

from saliencyaug import _checks
from saliencyaug._opencv import require_cv2
from saliencyaug.data.assets import Manifest, default_assets_dir
from saliencyaug.data.datasets import BoxedImageDataset, Sample

SPLITS = {"pretrain": 0, "train": 1, "test": 2}
BACKGROUND_SETS = ("train", "test")

#: Ten face emoji that differ in more than eyes and mouth (colour, props, shape): horns, heart
#: eyes, sunglasses, scream, medical mask, cowboy hat, clown, nauseated (green), party hat,
#: cold (blue). Code points, as the assets name them; ``classes=DISTINCT_FACES`` selects them.
#: The first classes in code-point order are near-duplicate grinning faces, which a 14-29 px
#: sprite barely tells apart.
DISTINCT_FACES: tuple[str, ...] = (
    "1f608",
    "1f60d",
    "1f60e",
    "1f631",
    "1f637",
    "1f920",
    "1f921",
    "1f922",
    "1f973",
    "1f976",
)


def _rgba(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGBA"), np.float32) / 255.0


class _Pictures:
    """Emoji sprites (float RGBA) and background photographs (uint8 RGB) of an assets folder,
    loaded once per process."""

    def __init__(self, folder: Path, styles: Sequence[str] | None) -> None:
        from PIL import Image

        manifest = Manifest.load(folder)
        available = manifest.styles()
        if not available:
            raise FileNotFoundError(
                f"{folder} holds no emoji: run `saliencyaug assets --out {folder}`"
            )
        chosen = list(styles) if styles is not None else available
        unknown = sorted(set(chosen) - set(available))
        if unknown:
            raise ValueError(f"styles {unknown} are not in {folder} (it has {available})")
        by_label: dict[str, dict[str, Path]] = {}
        for f in manifest.files:
            if f["kind"] == "emoji" and f["style"] in chosen:
                by_label.setdefault(f["label"], {})[f["style"]] = folder / f["path"]
        # classes: the emoji present in every chosen style, in code-point order
        self.labels = sorted(k for k, v in by_label.items() if len(v) == len(chosen))
        self.styles = chosen
        self.sprites = {
            (label, style): _rgba(by_label[label][style])
            for label in self.labels
            for style in chosen
        }
        photos = sorted(
            (f["name"], folder / f["path"]) for f in manifest.files if f["kind"] == "background"
        )
        if len(photos) < 4:
            raise FileNotFoundError(f"{folder} holds fewer than 4 backgrounds")
        # every fourth photograph is a test background: the two sets never share a picture
        self.backgrounds = {
            "train": [p for i, p in enumerate(photos) if i % 4 != 3],
            "test": [p for i, p in enumerate(photos) if i % 4 == 3],
        }
        self.images = {name: np.asarray(Image.open(path).convert("RGB")) for name, path in photos}


_CACHE: dict[tuple[str, tuple[str, ...] | None], _Pictures] = {}


def _pictures(folder: Path, styles: Sequence[str] | None) -> _Pictures:
    key = (str(folder.resolve()), tuple(styles) if styles is not None else None)
    if key not in _CACHE:
        _CACHE[key] = _Pictures(folder, styles)
    return _CACHE[key]


class CompositeEmoji(BoxedImageDataset):
    """Face emoji on real photographs, with exact boxes (see the module docstring).

    Args:
        root: the assets folder (default ``$SALIENCYAUG_ASSETS`` or
            ``~/.cache/saliencyaug/assets``; fill it with ``saliencyaug assets``).
        split: ``"pretrain"``, ``"train"`` or ``"test"`` (each its own stream of images).
        length: number of images.
        size: image side in pixels.
        seed: the data set's seed.
        share: ``r``, images per background crop.
        backgrounds: ``"train"`` or ``"test"`` photographs (default: ``"test"`` for the test
            split, ``"train"`` otherwise).
        styles: art styles to use (default: all in the folder).
        held_out_style: a style left out of this split.
        scale: range of the object's longest side, as a fraction of ``size``.
        distractors: small emoji of other classes pasted behind the object.
        classes: the face emoji to use: a number ``n`` (the first ``n`` in code-point order),
            a sequence of code points (e.g. :data:`DISTINCT_FACES`; class indices follow its
            order), or None (all).
        with_boxes: return the exact boxes (False: empty boxes, so that SaliencySwap detects).
        transform: called as ``transform(image, boxes)``.

    Examples:
        >>> ds = CompositeEmoji(split="train", length=4, size=64)  # doctest: +SKIP
        >>> image, boxes, label = ds[0]  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "pretrain",
        length: int = 10_000,
        size: int = 64,
        seed: int = 0,
        share: int = 1,
        backgrounds: str | None = None,
        styles: Sequence[str] | None = None,
        held_out_style: str | None = None,
        scale: tuple[float, float] = (0.3, 0.6),
        distractors: int = 0,
        classes: int | Sequence[str] | None = None,
        with_boxes: bool = True,
        transform: Callable[..., Any] | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else default_assets_dir()
        self.split = _checks.choice("split", split, tuple(SPLITS))
        self.length = _checks.integer("length", length, minimum=1)
        self.size = _checks.integer("size", size, minimum=16)
        self.seed = _checks.integer("seed", seed, minimum=0)
        self.share = _checks.integer("share", share, minimum=1)
        self.background_set = _checks.choice(
            "backgrounds",
            backgrounds if backgrounds is not None else ("test" if split == "test" else "train"),
            BACKGROUND_SETS,
        )
        self.scale = _checks.range_pair("scale", scale, 0.0, 1.0)
        self.distractors = _checks.integer("distractors", distractors, minimum=0)
        self.with_boxes = _checks.boolean("with_boxes", with_boxes)
        pictures = _pictures(self.root, styles)
        if held_out_style is not None and held_out_style not in pictures.styles:
            raise ValueError(
                f"held_out_style must be one of {pictures.styles}, got {held_out_style!r}"
            )
        self.styles = [s for s in pictures.styles if s != held_out_style]
        if not self.styles:
            raise ValueError("no style left after holding one out")
        self._style_filter = tuple(styles) if styles is not None else None
        labels = list(pictures.labels)
        if isinstance(classes, (str, bytes)) or (
            classes is not None and not isinstance(classes, (int, Sequence))
        ):
            raise TypeError(
                "classes must be a number of classes or a sequence of emoji code points, got "
                f"{classes!r}"
            )
        if isinstance(classes, Sequence):
            chosen = [str(c) for c in classes]
            missing = [c for c in chosen if c not in labels]
            if missing:
                raise ValueError(
                    f"classes names emoji not in every style of {self.root}: {missing} "
                    f"(there are {len(labels)}, e.g. {labels[:3]})"
                )
            if len(set(chosen)) != len(chosen) or len(chosen) < 2:
                raise ValueError(f"classes must name at least 2 distinct emoji, got {chosen}")
            labels = chosen
        elif classes is not None:
            count = _checks.integer("classes", classes, minimum=2)
            if count > len(labels):
                raise ValueError(f"classes must be at most {len(labels)}, got {count}")
            labels = labels[:count]
        self.classes = labels
        self.transform = transform
        self._samples: list[Sample] | None = None

    # -- the generator -------------------------------------------------------------------

    @property
    def _pictures(self) -> _Pictures:
        return _pictures(self.root, self._style_filter)

    def _rng(self, *parts: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, SPLITS[self.split], *parts])

    def label_of(self, index: int) -> int:
        """The class of image ``index`` (drawn without making the image)."""
        return int(self._rng(index, 1).integers(len(self.classes)))

    def style_of(self, index: int) -> str:
        """The art style of image ``index``."""
        return self.styles[int(self._rng(index, 2).integers(len(self.styles)))]

    def background_of(self, index: int) -> str:
        """The name of the photograph behind image ``index``."""
        names = self._pictures.backgrounds[self.background_set]
        return names[int(self._rng(index // self.share, 3).integers(len(names)))][0]

    @property
    def samples(self) -> list[Sample]:
        """Labels without the images (the boxes are known once an image is made: here the
        placeholder ``(0, 0, 0, 0)`` says that every image has one)."""
        if self._samples is None:
            box = (0.0, 0.0, 0.0, 0.0) if self.with_boxes else None
            self._samples = [
                Sample(Path(f"composite/{self.split}/{i}.png"), self.label_of(i), box)
                for i in range(self.length)
            ]
        return self._samples

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        self._samples = value

    def __len__(self) -> int:
        return self.length

    def _background(self, index: int) -> np.ndarray:
        cv2 = require_cv2()

        rng = self._rng(index // self.share, 4)
        name = self.background_of(index)
        photo = self._pictures.images[name]
        h, w = photo.shape[:2]
        side = int(min(h, w) * rng.uniform(0.4, 1.0))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = photo[y : y + side, x : x + side]
        return (
            cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA).astype(
                np.float32
            )
            / 255.0
        )

    def _sprite(
        self, label: int, style: str, longest: float, rng: np.random.Generator
    ) -> np.ndarray:
        cv2 = require_cv2()

        sprite = self._pictures.sprites[(self.classes[label], style)]
        if rng.random() < 0.5:
            sprite = sprite[:, ::-1]
        h, w = sprite.shape[:2]
        factor = longest / max(h, w)
        out_w, out_h = max(2, round(w * factor)), max(2, round(h * factor))
        sprite = cv2.resize(
            np.ascontiguousarray(sprite), (out_w, out_h), interpolation=cv2.INTER_AREA
        )
        angle = float(rng.uniform(-15, 15))
        diagonal = math.ceil(math.hypot(out_w, out_h)) + 2
        matrix = cv2.getRotationMatrix2D((out_w / 2, out_h / 2), angle, 1.0)
        matrix[:, 2] += ((diagonal - out_w) / 2, (diagonal - out_h) / 2)
        return cv2.warpAffine(
            sprite,
            matrix,
            (diagonal, diagonal),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )

    @staticmethod
    def _paste(canvas: np.ndarray, sprite: np.ndarray, y: int, x: int) -> np.ndarray:
        """Alpha-composite ``sprite`` at ``(y, x)`` (clipped); returns its alpha on the canvas."""
        size = canvas.shape[0]
        alpha_full = np.zeros((size, size), np.float32)
        h, w = sprite.shape[:2]
        y0, x0 = max(0, y), max(0, x)
        y1, x1 = min(size, y + h), min(size, x + w)
        if y1 <= y0 or x1 <= x0:
            return alpha_full
        part = sprite[y0 - y : y1 - y, x0 - x : x1 - x]
        alpha = part[..., 3:4]
        canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1 - alpha) + part[..., :3] * alpha
        alpha_full[y0:y1, x0:x1] = alpha[..., 0]
        return alpha_full

    def render(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Image ``index``: ``(uint8 RGB (size, size, 3), bool mask (size, size), label)``."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} images")
        rng = self._rng(index, 5)
        canvas = self._background(index)
        label = self.label_of(index)
        for _ in range(self.distractors):
            other = int(rng.integers(len(self.classes) - 1))
            other += other >= label
            sprite = self._sprite(other, self.style_of(index), self.size * 0.15, rng)
            y, x = (int(v) for v in rng.integers(-sprite.shape[0] // 2, self.size, 2))
            self._paste(canvas, sprite, y, x)
        longest = self.size * rng.uniform(*self.scale)
        sprite = self._sprite(label, self.style_of(index), longest, rng)
        h, w = sprite.shape[:2]
        y = int(rng.integers(-h // 8, max(1, self.size - h + h // 8 + 1)))
        x = int(rng.integers(-w // 8, max(1, self.size - w + w // 8 + 1)))
        alpha = self._paste(canvas, sprite, y, x)
        image = np.clip(np.rint(canvas * 255.0), 0, 255).astype(np.uint8)
        return image, alpha > 0.5, label

    def mask(self, index: int) -> np.ndarray:
        """The exact object mask of image ``index`` (alpha > 0.5)."""
        return self.render(index)[1]

    def __getitem__(self, index: int) -> Any:
        image, mask, label = self.render(index)
        boxes = torch.zeros((0, 4))
        if self.with_boxes and mask.any():
            ys, xs = np.nonzero(mask)
            boxes = torch.tensor(
                [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=torch.float32
            )
        item = (
            tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1).contiguous()),
            tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(self.size, self.size)),
        )
        if self.transform is None:
            return (*item, label)
        return self.transform(*item), label

    def __repr__(self) -> str:
        return (
            f"CompositeEmoji({self.split}, {self.length} images, {len(self.classes)} classes, "
            f"styles {self.styles}, share {self.share}, {self.background_set} backgrounds)"
        )


__all__ = ["CompositeEmoji"]
