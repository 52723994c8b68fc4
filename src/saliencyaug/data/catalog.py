"""Data sets by name: the fine-grained benchmarks with their official splits and boxes, and
the composite benchmark built from installable pictures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from saliencyaug import _checks
from saliencyaug.data.composite import CompositeEmoji
from saliencyaug.data.datasets import (
    CUB200,
    BoxedImageDataset,
    FGVCAircraft,
    NABirds,
    StanfordCars,
    _check_split,
)

FINE_GRAINED = ("cub", "nabirds", "cars", "aircraft")
DATASETS = (*FINE_GRAINED, "composite")


def open_dataset(
    name: str,
    root: str | Path | None,
    split: str = "train",
    transform: Callable[..., Any] | None = None,
    **options: Any,
) -> BoxedImageDataset:
    """A fine-grained dataset by name, with its annotation boxes.

    Args:
        name: ``"cub"`` (:class:`CUB200`), ``"nabirds"``, ``"cars"`` (:class:`StanfordCars`) or
            ``"aircraft"`` (:class:`FGVCAircraft`, variant level).
        root: the dataset folder as distributed.
        split: ``"train"`` or ``"test"``; FGVC-Aircraft also ``"val"`` and ``"trainval"``, and
            its ``"train"`` means ``"trainval"`` (the 6,667 training images the papers use).
            ``"composite"``: ``"pretrain"``, ``"train"`` or ``"test"``.
        transform: see :class:`BoxedImageDataset`.
        **options: for ``"composite"``, the knobs of
            :class:`~saliencyaug.data.CompositeEmoji` (``length``, ``size``, ``share``...);
            ``root`` is its assets folder.

    Raises:
        ValueError: an unknown name or split.
        FileNotFoundError: ``root`` does not hold the dataset's files (the message says which).

    Examples:
        >>> open_dataset("flowers", "/data")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: name must be one of (...), got 'flowers'
    """
    name = _checks.choice("name", name, DATASETS)
    if name == "composite":
        return CompositeEmoji(root, split, transform=transform, **options)
    if options:
        raise ValueError(f"data set {name!r} takes no options, got {sorted(options)}")
    if root is None:
        raise ValueError(f"data set {name!r} needs its root folder")
    if name == "aircraft":
        return FGVCAircraft(root, "trainval" if split == "train" else split, transform=transform)  # type: ignore[arg-type]
    _check_split(split, ("train", "test"))
    loaders: dict[str, Callable[..., BoxedImageDataset]] = {
        "cub": CUB200,
        "nabirds": NABirds,
        "cars": StanfordCars,
    }
    return loaders[name](root, split, transform=transform)


__all__ = ["DATASETS", "FINE_GRAINED", "open_dataset"]
