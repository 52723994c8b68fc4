"""Box files (precomputed boxes), their parallel builder, fine-grained dataset loaders, and
epoch loaders with per-sample augmentation seeds."""

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
from saliencyaug.data.loader import (
    Epochs,
    EpochShardSampler,
    SeededSamples,
    epoch_loader,
    sample_seed,
)

__all__ = [
    "CUB200",
    "FINE_GRAINED",
    "BoxCache",
    "BoxRecord",
    "BoxedImageDataset",
    "BuildReport",
    "EpochShardSampler",
    "Epochs",
    "FGVCAircraft",
    "ImageFolderWithBoxes",
    "NABirds",
    "Sample",
    "SeededSamples",
    "StanfordCars",
    "build_box_cache",
    "epoch_loader",
    "open_dataset",
    "sample_seed",
]
