"""Fine-grained datasets whose samples carry their boxes.

Every dataset here yields ``(image, boxes, label)`` -- a ``tv_tensors.Image`` (uint8 RGB), a
``tv_tensors.BoundingBoxes`` (XYXY, one box; absent boxes give an empty set) and an int class
index -- or, with ``transform``, ``(transform(image, boxes), label)``. With a SaliencySwap
pipeline wrapped in :class:`saliencyaug.transforms.MultiView`, an item is
``([(image, mask), (image, mask)], label)``, ready for ``default_collate``.

Annotation conventions are converted to half-open XYXY pixel boxes:

* CUB-200-2011 and NABirds, ``bounding_boxes.txt`` with ``id x y width height``:
  ``[x, y, x + width, y + height]``.
* Stanford Cars, devkit ``.mat`` files with ``bbox_x1 bbox_y1 bbox_x2 bbox_y2`` (1-based,
  inclusive): ``[x1 - 1, y1 - 1, x2, y2]``.
* FGVC-Aircraft, ``images_box.txt`` with ``id xmin ymin xmax ymax`` (1-based, inclusive):
  ``[xmin - 1, ymin - 1, xmax, ymax]``.

Boxes are rounded and clipped to the image, which is read lazily (its size is known only once
it is opened).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from saliencyaug import _checks
from saliencyaug.data.box_file import BoxCache
from saliencyaug.image import list_images, load_image

Split = Literal["train", "test"]


@dataclass(frozen=True)
class Sample:
    """One image: its path, class index and annotation box (float XYXY, or None)."""

    path: Path
    label: int
    box: tuple[float, float, float, float] | None


class BoxedImageDataset(Dataset):
    """Images with class labels and optional XYXY boxes; the base of every loader here.

    Args:
        samples: the images.
        classes: class names, indexed by label.
        transform: called as ``transform(image, boxes)``; its result replaces the pair.

    Examples:
        >>> ds = BoxedImageDataset([], ["a"])
        >>> len(ds), ds.classes
        (0, ['a'])
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        classes: Sequence[str],
        transform: Callable[..., Any] | None = None,
    ) -> None:
        self.samples = list(samples)
        self.classes = list(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def has_boxes(self) -> bool:
        """True when every image has an annotation box."""
        return bool(self.samples) and all(s.box is not None for s in self.samples)

    def __getitem__(self, index: int) -> Any:
        sample = self.samples[index]
        image = tv_tensors.Image(load_image(sample.path))
        h, w = image.shape[-2:]
        boxes = tv_tensors.BoundingBoxes(
            _clip_boxes(sample.box, h, w), format="XYXY", canvas_size=(h, w)
        )
        if self.transform is None:
            return image, boxes, sample.label
        return self.transform(image, boxes), sample.label

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images, {len(self.classes)} classes)"


def _clip_boxes(box: tuple[float, float, float, float] | None, h: int, w: int) -> torch.Tensor:
    if box is None:
        return torch.zeros((0, 4))
    x0, y0, x1, y1 = box
    x0, x1 = max(0, min(round(x0), w)), max(0, min(round(x1), w))
    y0, y1 = max(0, min(round(y0), h)), max(0, min(round(y1), h))
    if x1 <= x0 or y1 <= y0:
        return torch.zeros((0, 4))
    return torch.tensor([[x0, y0, x1, y1]], dtype=torch.float32)


def _read_table(path: Path, name: str) -> list[list[str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{name}: expected {path}")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            rows.append(line.split())
            if len(rows[-1]) < 2:
                raise ValueError(f"{path}:{n}: malformed line {line!r}")
    return rows


def _check_split(split: str, allowed: Sequence[str]) -> None:
    _checks.choice("split", split, allowed)


def _find_root(root: str | Path, marker: str, subfolders: Sequence[str]) -> Path:
    """``root`` or one of its known subfolders that contains ``marker``."""
    root = Path(root)
    for candidate in (root, *(root / s for s in subfolders)):
        if (candidate / marker).exists():
            return candidate
    raise FileNotFoundError(f"no {marker} found in {root} or {[str(root / s) for s in subfolders]}")


# ----------------------------------------------------------------------------------------
# CUB-200-2011 and NABirds (the same file layout)
# ----------------------------------------------------------------------------------------


def _cub_style(root: Path, split: Split, name: str) -> tuple[list[Sample], list[str]]:
    images = {r[0]: r[1] for r in _read_table(root / "images.txt", name)}
    labels = {r[0]: r[1] for r in _read_table(root / "image_class_labels.txt", name)}
    is_train = {r[0]: r[1] == "1" for r in _read_table(root / "train_test_split.txt", name)}
    boxes = {}
    for r in _read_table(root / "bounding_boxes.txt", name):
        x, y, w, h = (float(v) for v in r[1:5])
        boxes[r[0]] = (x, y, x + w, y + h)
    class_names = {r[0]: " ".join(r[1:]) for r in _read_table(root / "classes.txt", name)}
    used = sorted({labels[i] for i in images}, key=int)  # NABirds: only leaf ids are used
    index = {c: k for k, c in enumerate(used)}
    samples = [
        Sample(root / "images" / rel, index[labels[i]], boxes.get(i))
        for i, rel in images.items()
        if is_train[i] == (split == "train")
    ]
    return samples, [class_names.get(c, c) for c in used]


class CUB200(BoxedImageDataset):
    """Caltech-UCSD Birds-200-2011 with its ground-truth boxes (the CVSA paper's default).

    Args:
        root: the ``CUB_200_2011`` folder or its parent.
        split: ``"train"`` or ``"test"`` (``train_test_split.txt``).
        transform: see :class:`BoxedImageDataset`.

    Raises:
        FileNotFoundError: a missing annotation file.
        ValueError: a bad split or a malformed file.
    """

    folder = "CUB_200_2011"
    title = "CUB-200-2011"

    def __init__(
        self, root: str | Path, split: Split = "train", transform: Callable[..., Any] | None = None
    ) -> None:
        _check_split(split, ("train", "test"))
        base = _find_root(root, "images.txt", [self.folder])
        super().__init__(*_cub_style(base, split, self.title), transform=transform)


class NABirds(CUB200):
    """NABirds (555 visual categories) with its boxes; labels index the leaf classes in use.

    Args:
        root: the ``nabirds`` folder or its parent.
        split: ``"train"`` or ``"test"``.
        transform: see :class:`BoxedImageDataset`.

    NABirds ships the same annotation files as CUB-200-2011 (its class ids are sparse), so it
    shares CUB200's loader.
    """

    folder = "nabirds"
    title = "NABirds"


# ----------------------------------------------------------------------------------------
# Stanford Cars
# ----------------------------------------------------------------------------------------


class StanfordCars(BoxedImageDataset):
    """Stanford Cars (196 classes) with its boxes, from the original devkit layout::

        root/devkit/cars_meta.mat, cars_train_annos.mat
        root/cars_test_annos_withlabels.mat   (or root/devkit/...)
        root/cars_train/*.jpg, root/cars_test/*.jpg

    Args:
        root: the dataset folder.
        split: ``"train"`` or ``"test"``.
        transform: see :class:`BoxedImageDataset`.
    """

    def __init__(
        self, root: str | Path, split: Split = "train", transform: Callable[..., Any] | None = None
    ) -> None:
        from scipy.io import loadmat

        _check_split(split, ("train", "test"))
        root = Path(root)
        devkit = root / "devkit"
        meta = loadmat(_must_exist(devkit / "cars_meta.mat", "Stanford Cars"), squeeze_me=True)
        classes = [str(c) for c in meta["class_names"]]
        if split == "train":
            annos_path, folder = devkit / "cars_train_annos.mat", root / "cars_train"
        else:
            annos_path = root / "cars_test_annos_withlabels.mat"
            if not annos_path.exists():
                annos_path = devkit / "cars_test_annos_withlabels.mat"
            folder = root / "cars_test"
        annos = loadmat(_must_exist(annos_path, "Stanford Cars"), squeeze_me=True)["annotations"]
        samples = []
        for rec in annos.ravel() if hasattr(annos, "ravel") else [annos]:
            x1, y1, x2, y2 = (float(rec[k]) for k in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"))
            samples.append(
                Sample(folder / str(rec["fname"]), int(rec["class"]) - 1, (x1 - 1, y1 - 1, x2, y2))
            )
        super().__init__(samples, classes, transform)


def _must_exist(path: Path, name: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{name}: expected {path}")
    return path


# ----------------------------------------------------------------------------------------
# FGVC-Aircraft
# ----------------------------------------------------------------------------------------


class FGVCAircraft(BoxedImageDataset):
    """FGVC-Aircraft 2013b with its boxes, at the ``variant`` (100), ``family`` (70) or
    ``manufacturer`` (30) level.

    Args:
        root: the ``fgvc-aircraft-2013b`` folder or its parent (must contain ``data/``).
        split: ``"train"``, ``"val"``, ``"trainval"`` or ``"test"``.
        level: annotation level.
        transform: see :class:`BoxedImageDataset`.

    Note:
        The images carry a 20-pixel copyright banner at the bottom, which the boxes exclude;
        the images are returned as stored.
    """

    def __init__(
        self,
        root: str | Path,
        split: Literal["train", "val", "trainval", "test"] = "trainval",
        level: Literal["variant", "family", "manufacturer"] = "variant",
        transform: Callable[..., Any] | None = None,
    ) -> None:
        _check_split(split, ("train", "val", "trainval", "test"))
        _checks.choice("level", level, ("variant", "family", "manufacturer"))
        base = _find_root(root, "data", ["fgvc-aircraft-2013b"]) / "data"
        names_file = {
            "variant": "variants.txt",
            "family": "families.txt",
            "manufacturer": "manufacturers.txt",
        }[level]
        classes = [
            line.strip()
            for line in _must_exist(base / names_file, "FGVC-Aircraft").read_text().splitlines()
            if line.strip()
        ]
        index = {c: k for k, c in enumerate(classes)}
        boxes = {}
        for r in _read_table(base / "images_box.txt", "FGVC-Aircraft"):
            xmin, ymin, xmax, ymax = (float(v) for v in r[1:5])
            boxes[r[0]] = (xmin - 1, ymin - 1, xmax, ymax)
        samples = []
        for line in (
            _must_exist(base / f"images_{level}_{split}.txt", "FGVC-Aircraft")
            .read_text()
            .splitlines()
        ):
            if not line.strip():
                continue
            image_id, _, name = line.strip().partition(" ")
            if name not in index:
                raise ValueError(f"FGVC-Aircraft: unknown {level} {name!r} for image {image_id}")
            samples.append(
                Sample(base / "images" / f"{image_id}.jpg", index[name], boxes.get(image_id))
            )
        super().__init__(samples, classes, transform)


# ----------------------------------------------------------------------------------------
# Any image folder with a box cache
# ----------------------------------------------------------------------------------------


class ImageFolderWithBoxes(BoxedImageDataset):
    """``root/<class>/<image>`` folders (as torchvision's ImageFolder) with boxes from a cache.

    Args:
        root: the image folder; each sub-folder is a class (images directly in ``root`` get
            class ``""``).
        cache: a :class:`saliencyaug.data.BoxCache` or the path(s) of box files built with
            ``saliencyaug boxes``.
        missing: images without a cached box: ``"skip"`` them (e.g. unreadable ones) or
            ``"detect"`` (no boxes; SaliencySwap then runs its detector).
        transform: see :class:`BoxedImageDataset`.
    """

    def __init__(
        self,
        root: str | Path,
        cache: Any,
        missing: Literal["skip", "detect"] = "skip",
        transform: Callable[..., Any] | None = None,
    ) -> None:
        _checks.choice("missing", missing, ("skip", "detect"))
        root = Path(root)
        if not isinstance(cache, (BoxCache, str, Path, list, tuple)):
            raise TypeError(
                f"cache must be a BoxCache or the path(s) of box files, got {type(cache).__name__}"
            )
        if not isinstance(cache, BoxCache):
            cache = BoxCache.load(cache, root=root)
        files = list_images(root)
        classes = sorted(
            {
                p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else ""
                for p in files
            }
        )
        index = {c: k for k, c in enumerate(classes)}
        samples = []
        self.skipped: list[str] = []
        for p in files:
            rel = p.relative_to(root)
            box = cache.get(rel.as_posix())
            if box is None and missing == "skip":
                self.skipped.append(rel.as_posix())
                continue
            label = index[rel.parts[0] if len(rel.parts) > 1 else ""]
            samples.append(Sample(p, label, None if box is None else tuple(map(float, box))))  # type: ignore[arg-type]
        if files and not samples and len(cache):
            # every image skipped although the file has boxes: it describes another folder
            raise ValueError(
                f"cache: none of the {len(files)} images below {root} has a box in the box "
                f"file ({len(cache)} records, e.g. {cache.records[0].path!r}); was it built "
                "for another folder? Build one for this folder (saliencyaug boxes), or pass "
                'missing="detect"'
            )
        super().__init__(samples, classes, transform)


__all__ = [
    "CUB200",
    "BoxedImageDataset",
    "FGVCAircraft",
    "ImageFolderWithBoxes",
    "NABirds",
    "Sample",
    "StanfordCars",
]
