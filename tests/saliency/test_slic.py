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


def _naive_slic(lab: np.ndarray, n_segments: int, compactness: float, n_iter: int) -> np.ndarray:
    """SLIC's k-means written from the paper in float64 numpy (scikit-image's window of two
    grid steps), before the connectivity pass."""
    h, w = lab.shape[:2]
    step = max(1.0, np.sqrt(h * w / n_segments))
    ny, nx = max(1, round(h / step)), max(1, round(w / step))
    cy = np.repeat((np.arange(ny) + 0.5) * h / ny, nx)
    cx = np.tile((np.arange(nx) + 0.5) * w / nx, ny)
    centres = np.column_stack([cy, cx, lab[cy.astype(int), cx.astype(int)]])
    ys, xs = np.mgrid[0:h, 0:w]
    labels = np.zeros((h, w), np.int64)
    for _ in range(n_iter):
        best = np.full((h, w), np.inf)
        for k, (y, x, *colour) in enumerate(centres):
            inside = (
                (ys >= max(0, int(y - 2 * step)))
                & (ys < min(h, int(y + 2 * step) + 1))
                & (xs >= max(0, int(x - 2 * step)))
                & (xs < min(w, int(x + 2 * step) + 1))
            )
            d = ((lab - colour) ** 2).sum(-1) + ((ys - y) ** 2 + (xs - x) ** 2) * (
                compactness / step
            ) ** 2
            nearer = inside & (d < best)
            best[nearer], labels[nearer] = d[nearer], k
        for k in range(len(centres)):
            mine = labels == k
            if mine.any():
                centres[k] = [ys[mine].mean(), xs[mine].mean(), *lab[mine].mean(0)]
    return labels


def test_kmeans_assignment_agrees_with_a_naive_float64_loop() -> None:
    """The vectorised float32 assignment against the definition in float64: the same pixels
    (after the connectivity pass, which both go through), but for near-ties."""
    from saliencyaug.saliency._slic import _connected

    rgb, _ = _regions(11, 48, 64)
    lab = _lab(rgb)
    ours = slic_labels(lab, 40, 10.0, 5, 0.5, 2.0)
    naive = _connected(_naive_slic(lab.astype(np.float64), 40, 10.0, 5), int(0.5 * 48 * 64 / 40))
    assert (ours == naive).mean() >= 0.99


def test_region_stats_equal_bincount() -> None:
    from saliencyaug.saliency._slic import region_stats

    rgb, _ = _regions(5)
    lab = _lab(rgb)
    labels = slic_labels(lab, 60, 10.0, 5, 0.5, 2.0)
    n = int(labels.max()) + 1
    flat = labels.ravel()
    ys, xs = np.mgrid[0 : labels.shape[0], 0 : labels.shape[1]]
    want = np.column_stack(
        [np.bincount(flat, minlength=n)]
        + [np.bincount(flat, lab.reshape(-1, 3)[:, c], minlength=n) for c in range(3)]
        + [np.bincount(flat, v.ravel(), minlength=n) for v in (ys, xs)]
    )
    sums, border = region_stats(labels, lab, n)
    np.testing.assert_array_equal(sums, want)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    np.testing.assert_array_equal(np.flatnonzero(border), np.unique(edge))


def _naive_connected(labels: np.ndarray, min_size: int) -> np.ndarray:
    """SLIC's connectivity pass written plainly: flood-fill each 4-connected component from
    its first pixel in raster order; one under ``min_size`` takes the label of the pixel left
    of its first pixel (else above it)."""
    h, w = labels.shape
    out = np.full((h, w), -1)
    next_label = 0
    for sy in range(h):
        for sx in range(w):
            if out[sy, sx] >= 0:
                continue
            adjacent = out[sy, sx - 1] if sx > 0 else (out[sy - 1, sx] if sy > 0 else -1)
            pixels, todo = [(sy, sx)], [(sy, sx)]
            out[sy, sx] = next_label
            while todo:
                y, x = todo.pop()
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    inside = 0 <= ny < h and 0 <= nx < w
                    if inside and out[ny, nx] < 0 and labels[ny, nx] == labels[sy, sx]:
                        out[ny, nx] = next_label
                        pixels.append((ny, nx))
                        todo.append((ny, nx))
            if len(pixels) < min_size and adjacent >= 0:
                for y, x in pixels:
                    out[y, x] = adjacent
            else:
                next_label += 1
    return out


def test_connectivity_pass_equals_a_plain_flood_fill() -> None:
    from saliencyaug.saliency._slic import _connected

    rng = np.random.default_rng(0)
    for trial in range(300):
        labels = rng.integers(0, int(rng.integers(1, 4)), tuple(rng.integers(1, 12, 2)))
        if trial % 3 == 0:  # longer runs
            labels = np.repeat(np.repeat(labels, 3, 0), 2, 1)
        min_size = int(rng.integers(0, 6))
        np.testing.assert_array_equal(
            _connected(labels, min_size), _naive_connected(labels, min_size)
        )
