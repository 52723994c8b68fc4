"""The training set of a recipe: images with their boxes, and the views each method trains on.

``training_dataset(recipe, run_folder)`` yields ``(views, label)`` where ``views`` is a dict of
tensors: ``view1``, ``mask1``, ``view2``, ``mask2`` (MoCo v2's augmentations with
RandomResizedCrop or SaliencySwap first, and the saliency mask of each view) and, for the
synthesized-pair objective, ``clean`` (the resized, centre-cropped image it reconstructs).

Boxes: ``data.boxes = "ground_truth"`` uses the dataset's annotations (the CVSA paper's
default); ``"detector"`` (and every image folder) uses boxes from ``views.detector`` and the
``views.objective`` box search, computed once into a box file whose name records the detector
and the objective, so that changing either builds a new one instead of reusing the old.
Detected boxes are built only when the recipe reads them (:func:`reads_boxes`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from saliencyaug.boxes import BoxSearch
from saliencyaug.data import (
    BoxCache,
    BoxedImageDataset,
    ImageFolderWithBoxes,
    Sample,
    build_box_cache,
    open_dataset,
)
from saliencyaug.demo import bundled_photos
from saliencyaug.distributed import on_main_first
from saliencyaug.image import to_image_tensor
from saliencyaug.training.recipe import Recipe, RecipeError
from saliencyaug.transforms import (
    MultiView,
    RandomResizedCropWithMask,
    SaliencySwap,
    eval_view,
    moco_v2_view,
)

BUNDLED = ("astronaut", "chelsea", "coffee", "rocket", "cat", "immunohistochemistry")


def bundled_folder(folder: Path) -> Path:
    """scikit-image's bundled photos as a two-class image folder (the smoke recipes' data)."""
    from PIL import Image

    for i, (name, img) in enumerate(bundled_photos(BUNDLED)):
        target = folder / ("a" if i % 2 == 0 else "b") / f"{name}.png"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(target)
    return folder


def box_search(recipe: Recipe) -> BoxSearch:
    """The recipe's box search (``views.objective`` with ``views.box_options``)."""
    views = recipe["views"]
    try:
        return BoxSearch(views["objective"], **views["box_options"])
    except (ValueError, TypeError) as err:
        raise RecipeError(f"views.objective / views.box_options: {err}") from None


def box_file(recipe: Recipe, images_root: Path, run_path: Path) -> Path:
    """Detected boxes for every image under ``images_root``, built (or brought up to date)
    into a box file named after the detector and the box objective."""
    views = recipe["views"]
    search = box_search(recipe)
    config = {"detector": views["detector"], "search": search.to_dict(), "root": str(images_root)}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    folder = (
        Path(recipe["data"]["box_cache"]) if recipe["data"]["box_cache"] else run_path / "boxes"
    )
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in views["detector"])
    path = folder / f"{safe}-{views['objective']}-{digest}.jsonl"
    on_main_first(
        lambda: build_box_cache(
            images_root, path, detector=views["detector"], search=search, progress=False
        )
    )
    return path


def reads_boxes(recipe: Recipe) -> bool:
    """True when the recipe's views or losses read salient boxes: SaliencySwap views
    (``views.first = "saliencyswap"``) or the CVSA loss (its masks come from the boxes).
    RandomResizedCrop views for BYOL, MoCo, SimSiam or the decoder-pair objective do not, and
    their detected boxes are never computed."""
    return recipe["views"]["first"] == "saliencyswap" or bool(recipe["cvsa"]["enabled"])


def training_images(
    recipe: Recipe, run_path: Path, transform: Callable[..., Any] | None = None
) -> BoxedImageDataset:
    """The recipe's training images with their boxes (see the module docstring)."""
    data = recipe["data"]
    kind = data["dataset"]
    if data["boxes"] not in ("ground_truth", "detector"):
        raise RecipeError(f"data.boxes must be 'ground_truth' or 'detector', got {data['boxes']!r}")
    if kind in ("folder", "bundled"):
        if kind == "folder" and not data["root"]:
            raise RecipeError("data.root must name the image folder (root/<class>/<image>)")
        root = Path(data["root"]) if kind == "folder" else run_path / "bundled"
        if kind == "bundled":
            on_main_first(lambda: bundled_folder(root))
        if not root.is_dir():
            raise RecipeError(f"data.root {root} is not a folder")
        if not reads_boxes(recipe):  # no detection: nothing reads the boxes
            return ImageFolderWithBoxes(root, BoxCache(root=root), "detect", transform)
        cache = BoxCache.load(box_file(recipe, root, run_path), root=root)
        return ImageFolderWithBoxes(root, cache, transform=transform)
    if kind == "composite":
        try:
            return open_dataset(
                "composite",
                data["root"] or None,
                data["split"] if data["split"] != "train" else "pretrain",
                transform=transform,
                size=data["size"] if "size" not in data["options"] else data["options"]["size"],
                with_boxes=data["boxes"] == "ground_truth",  # "detector": SaliencySwap detects
                **{k: v for k, v in data["options"].items() if k != "size"},
            )
        except (ValueError, TypeError) as err:
            raise RecipeError(f"data.options: {err}") from None
    try:
        ds = open_dataset(kind, data["root"], data["split"], transform=transform)
    except ValueError as err:
        raise RecipeError(f"data: {err}") from None
    except FileNotFoundError as err:
        raise RecipeError(f"data.root {data['root']!r}: {err}") from None
    if data["boxes"] == "detector" and reads_boxes(recipe):
        images_root = Path(os.path.commonpath([str(s.path.parent) for s in ds.samples]))
        cache = BoxCache.load(box_file(recipe, images_root, run_path), root=images_root)
        boxes = [cache.get(s.path.relative_to(images_root).as_posix()) for s in ds.samples]
        ds.samples = [
            Sample(s.path, s.label, None if b is None else (b.x0, b.y0, b.x1, b.y1))
            for s, b in zip(ds.samples, boxes, strict=True)
        ]
    return ds


def first_transform(recipe: Recipe, pool: Dataset) -> Any:
    """RandomResizedCrop (with its mask) or SaliencySwap over ``pool``'s backgrounds."""
    size, views = recipe["data"]["size"], recipe["views"]
    if views["first"] == "saliencyswap":
        return SaliencySwap(
            pool,
            size=size,
            mode=views["mode"],
            scale=tuple(views["scale"]),
            p=views["p"],
            detector=views["detector"],
            box_search=box_search(recipe),
        )
    if views["first"] == "rrc":
        return RandomResizedCropWithMask(size, scale=tuple(views["rrc_scale"]))
    raise RecipeError(f"views.first must be 'rrc' or 'saliencyswap', got {views['first']!r}")


class TrainingViews:
    """``(image, boxes) -> {"view1", "mask1", "view2", "mask2"[, "clean"]}``."""

    def __init__(self, views: MultiView, clean_size: int | None) -> None:
        self.views = views
        self.clean = None if clean_size is None else eval_view(clean_size, resize=clean_size)

    def __call__(self, image: Any, boxes: Any = None) -> dict[str, torch.Tensor]:
        (view1, mask1), (view2, mask2) = self.views(image, boxes)
        out = {"view1": view1, "mask1": mask1, "view2": view2, "mask2": mask2}
        if self.clean is not None:
            out["clean"] = self.clean(to_image_tensor(image))
        return out


def training_dataset(recipe: Recipe, run_path: str | Path) -> BoxedImageDataset:
    """The recipe's training set yielding ``(views, label)`` (see the module docstring)."""
    run_path = Path(run_path)
    pool = training_images(recipe, run_path)
    first = first_transform(recipe, pool)
    blur = recipe["views"]
    views = MultiView(
        moco_v2_view(
            first,
            size=recipe["data"]["size"],
            blur_p=blur["blur_p"],
            blur_sigma=tuple(blur["blur_sigma"]),
            blur_kernel=blur["blur_kernel"],
        )
    )
    clean = recipe["data"]["size"] if recipe["pairs"]["enabled"] else None
    return training_images(recipe, run_path, TrainingViews(views, clean))


class CleanImage:
    """``(image, boxes) -> (3, size, size)`` float image in [0, 1]: shorter side resized to
    ``size``, centre-cropped, no augmentation (what the decoder learns to reconstruct)."""

    def __init__(self, size: int) -> None:
        from torchvision.transforms import v2

        self.transform = v2.Compose(
            [v2.Resize(size), v2.CenterCrop(size), v2.ToDtype(torch.float32, scale=True)]
        )

    def __call__(self, image: Any, boxes: Any = None) -> torch.Tensor:
        return self.transform(to_image_tensor(image))


def clean_images(recipe: Recipe, run_path: str | Path) -> BoxedImageDataset:
    """The recipe's training images as ``(clean image in [0, 1], label)`` (decoder
    pre-training)."""
    return training_images(recipe, Path(run_path), CleanImage(recipe["data"]["size"]))


def check_queue_length(queue_size: int, dataset_size: int, batch_size: int) -> bool:
    """Warn when a MoCo queue is so long that keys of a query's own image, from an earlier
    epoch, are still in it as negatives (more than ``dataset_size - batch_size`` keys).
    Returns True when the length is safe."""
    import warnings

    limit = dataset_size - batch_size
    if queue_size <= limit:
        return True
    per_query = queue_size / dataset_size
    suggestion = max(batch_size, limit // batch_size * batch_size)
    warnings.warn(
        f"moco.queue = {queue_size} keys against {dataset_size} training images: keys of a "
        f"query's own image from earlier epochs stay in the queue as negatives (about "
        f"{per_query:.1f} per query). Use a queue of at most {limit} (e.g. {suggestion})",
        stacklevel=2,
    )
    return False


__all__ = [
    "CleanImage",
    "TrainingViews",
    "box_file",
    "bundled_folder",
    "check_queue_length",
    "clean_images",
    "first_transform",
    "reads_boxes",
    "training_dataset",
    "training_images",
]
