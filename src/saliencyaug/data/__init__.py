"""Box files (precomputed boxes), their parallel builder, and fine-grained dataset loaders."""

from __future__ import annotations

from saliencyaug.data.box_builder import BuildReport, build_box_cache
from saliencyaug.data.box_file import BoxCache, BoxRecord
from saliencyaug.data.datasets import (
    CUB200,
    FINE_GRAINED,
    BoxedImageDataset,
    FGVCAircraft,
    ImageFolderWithBoxes,
    NABirds,
    Sample,
    StanfordCars,
    open_dataset,
)

__all__ = [
    "CUB200",
    "FINE_GRAINED",
    "BoxCache",
    "BoxRecord",
    "BoxedImageDataset",
    "BuildReport",
    "FGVCAircraft",
    "ImageFolderWithBoxes",
    "NABirds",
    "Sample",
    "StanfordCars",
    "build_box_cache",
    "open_dataset",
]
