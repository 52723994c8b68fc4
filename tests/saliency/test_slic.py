"""Our numba SLIC (Achanta et al., TPAMI 2012) against its definition and scikit-image's:
connected, consecutive superpixels of about the asked number, that respect colour edges as
well as ``skimage.segmentation.slic`` does; adjacency against a direct numpy computation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage
from skimage.segmentation import find_boundaries, slic

from saliencyaug.saliency._slic import adjacent_pairs, slic_labels


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _regions(seed: int, h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Four colour blocks with noise, and their region map."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((h, w), np.int64)
    truth[: h // 2, w // 3 :] = 1
    truth[h // 2 :, : 2 * w // 3] = 2
    truth[h // 3 : 2 * h // 3, w // 4 : w // 2] = 3
    colors = rng.integers(0, 256, (4, 3))
    rgb = colors[truth] + rng.normal(0, 6, (h, w, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8), truth


@pytest.mark.parametrize("seed", range(3))
def test_superpixels_are_connected_consecutive_and_about_as_many_as_asked(seed: int) -> None:
    rgb, _ = _regions(seed)
    labels = slic_labels(_lab(rgb), 100, 10.0, 5, 0.5, 2.0)
    n = int(labels.max()) + 1
    assert sorted(np.unique(labels).tolist()) == list(range(n))
    assert 50 <= n <= 150
    for k in range(n):
        _, components = ndimage.label(labels == k)  # 4-connectivity, scipy's default
        assert components == 1, k


def _boundary_recall(labels: np.ndarray, truth: np.ndarray) -> float:
    edges = find_boundaries(truth, mode="inner")
    found = ndimage.binary_dilation(find_boundaries(labels, mode="inner"), iterations=1)
    return float((edges & found).sum() / edges.sum())


@pytest.mark.parametrize("seed", range(3))
def test_colour_edges_are_kept_as_well_as_by_scikit_image(seed: int) -> None:
    rgb, truth = _regions(seed)
    ours = slic_labels(_lab(rgb), 100, 10.0, 5, 0.5, 2.0)
    theirs = slic(rgb, n_segments=100, compactness=10, start_label=0)
    assert _boundary_recall(ours, truth) >= min(0.9, _boundary_recall(theirs, truth) - 0.05)


def test_adjacent_pairs_equal_a_direct_numpy_computation() -> None:
    rgb, _ = _regions(7)
    labels = slic_labels(_lab(rgb), 60, 10.0, 5, 0.5, 2.0)
    n = int(labels.max()) + 1
    pairs = np.concatenate(
        [
            np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
            np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], 1),
        ]
    )
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    want = np.unique(np.sort(pairs, axis=1), axis=0)
    np.testing.assert_array_equal(adjacent_pairs(labels, n), want)


def test_tiny_and_flat_images() -> None:
    one = slic_labels(np.zeros((1, 1, 3), np.float32), 250, 10.0, 5, 0.5, 2.0)
    assert one.tolist() == [[0]]
    flat = slic_labels(np.full((20, 30, 3), 50, np.float32), 12, 10.0, 5, 0.5, 2.0)
    assert flat.min() == 0 and 6 <= flat.max() + 1 <= 20  # a grid of compact cells
