"""Box files (precomputed boxes), their parallel builder, fine-grained dataset loaders, and
epoch loaders with per-sample augmentation seeds."""

from __future__ import annotations

from saliencyaug.data.assets import Manifest, collect_assets, default_assets_dir
from saliencyaug.data.box_builder import BuildReport, build_box_cache
from saliencyaug.data.box_file import BoxCache, BoxRecord
from saliencyaug.data.catalog import DATASETS, FINE_GRAINED, open_dataset
from saliencyaug.data.composite import DISTINCT_FACES, CompositeEmoji
from saliencyaug.data.datasets import (
    CUB200,
    BoxedImageDataset,
    FGVCAircraft,
    ImageFolderWithBoxes,
    NABirds,
    Sample,
    StanfordCars,
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
    "DATASETS",
    "DISTINCT_FACES",
    "FINE_GRAINED",
    "BoxCache",
    "BoxRecord",
    "BoxedImageDataset",
    "BuildReport",
    "CompositeEmoji",
    "EpochShardSampler",
    "Epochs",
    "FGVCAircraft",
    "ImageFolderWithBoxes",
    "Manifest",
    "NABirds",
    "Sample",
    "SeededSamples",
    "StanfordCars",
    "build_box_cache",
    "collect_assets",
    "default_assets_dir",
    "epoch_loader",
    "open_dataset",
    "sample_seed",
]
