"""SLIC superpixels and their adjacency in numba (Achanta et al., TPAMI 2012, "SLIC
Superpixels Compared to State-of-the-Art Superpixel Methods").

The algorithm as the paper gives it, with scikit-image's conventions (CIE-Lab colours,
``compactness`` scaled by the grid step, each centre searching two grid steps around it,
segments under half a grid cell merged into a neighbour): k-means in
(L, a, b, y, x) where each centre only looks at its own window, then one pass that makes every
superpixel connected.
About 20x faster than ``skimage.segmentation.slic`` at the sizes the detectors use: no
Python-level passes or conversion copies, labels already consecutive, the distance loop
vectorised (float32 planes), the connectivity pass on row runs.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def slic_labels(
    lab: np.ndarray,
    n_segments: int,
    compactness: float,
    n_iter: int,
    min_size_factor: float,
    window_steps: float = 2.0,
) -> np.ndarray:
    """Superpixel labels ``0..n-1`` (int64 ``(H, W)``), each superpixel 4-connected.

    Args:
        lab: float32 ``(H, W, 3)`` CIE-Lab image.
        n_segments: approximate number of superpixels (centres on a regular grid).
        compactness: colour/space trade-off (``m`` of the paper).
        n_iter: k-means iterations.
        min_size_factor: segments smaller than this fraction of the grid cell are merged into
            a neighbour.
        window_steps: half-width of each centre's search window, in grid steps.
    """
    h, w = lab.shape[0], lab.shape[1]
    step = max(1.0, np.sqrt(h * w / max(1, n_segments)))
    ny = max(1, round(h / step))
    nx = max(1, round(w / step))
    k_total = ny * nx
    centres = np.empty((k_total, 5))  # y, x, L, a, b
    for i in range(ny):
        for j in range(nx):
            k = i * nx + j
            cy = (i + 0.5) * h / ny
            cx = (j + 0.5) * w / nx
            centres[k, 0] = cy
            centres[k, 1] = cx
            for c in range(3):
                centres[k, 2 + c] = lab[int(cy), int(cx), c]
    ratio = np.float32((compactness / step) ** 2)
    window = window_steps * step  # 1: the paper's 2S x 2S region; 2: scikit-image's
    # flat planar float32 channels, distances and labels, indexed with unsigned integers (numba
    # adds no negative-index wraparound for them): the assignment's inner loop then has no
    # branch and unit strides, and LLVM vectorises it
    plane_l = lab[:, :, 0].astype(np.float32).ravel()
    plane_a = lab[:, :, 1].astype(np.float32).ravel()
    plane_b = lab[:, :, 2].astype(np.float32).ravel()
    flat_labels = np.zeros(h * w, np.int32)
    dist = np.empty(h * w, np.float32)
    for _ in range(n_iter):
        dist[:] = np.inf
        for k in range(k_total):
            cy, cx = centres[k, 0], centres[k, 1]
            y0, y1 = max(0, int(cy - window)), min(h, int(cy + window) + 1)
            x0, x1 = max(0, int(cx - window)), min(w, int(cx + window) + 1)
            c_l = np.float32(centres[k, 2])
            c_a = np.float32(centres[k, 3])
            c_b = np.float32(centres[k, 4])
            rel_x = np.float32(cx - x0)
            label = np.int32(k)
            for y in range(y0, y1):
                dy = np.float32((y - cy) ** 2)
                base = np.uint64(y * w + x0)
                for i in range(x1 - x0):
                    j = base + np.uint64(i)
                    d_l = plane_l[j] - c_l
                    d_a = plane_a[j] - c_a
                    d_b = plane_b[j] - c_b
                    d_x = np.float32(i) - rel_x
                    d = d_l * d_l + d_a * d_a + d_b * d_b + (dy + d_x * d_x) * ratio
                    nearer = d < dist[j]
                    dist[j] = min(d, dist[j])
                    flat_labels[j] = label if nearer else flat_labels[j]
        # new centres: each superpixel's mean position and colour
        stats, _ = region_stats(flat_labels.reshape(h, w), lab, k_total)
        for k in range(k_total):
            if stats[k, 0] > 0:
                centres[k, 0] = stats[k, 4] / stats[k, 0]
                centres[k, 1] = stats[k, 5] / stats[k, 0]
                for c in range(3):
                    centres[k, 2 + c] = stats[k, 1 + c] / stats[k, 0]
    return _connected(flat_labels.reshape(h, w), int(min_size_factor * h * w / k_total))


@nb.njit(cache=True)
def _find_run(parent: np.ndarray, r: int) -> int:
    while parent[r] != r:
        parent[r] = parent[parent[r]]  # path halving
        r = parent[r]
    return r


@nb.njit(cache=True)
def _connected(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Relabel so that each superpixel is one 4-connected component, numbered in raster
    order of its first pixel; components smaller than ``min_size`` join the component they
    touch first (left of their first pixel, else above it), as SLIC's post-processing does.

    On runs of equal labels along the rows: a run joins the overlapping runs of the same label
    in the row above (union-find), so the work is per run, not per pixel and neighbour."""
    h, w = labels.shape
    run_row = np.empty(h * w, np.int32)
    run_x0 = np.empty(h * w, np.int32)
    run_x1 = np.empty(h * w, np.int32)
    row_first = np.empty(h + 1, np.int64)
    n_runs = 0
    for y in range(h):
        row_first[y] = n_runs
        x = 0
        while x < w:
            start = x
            while x < w and labels[y, x] == labels[y, start]:
                x += 1
            run_row[n_runs], run_x0[n_runs], run_x1[n_runs] = y, start, x
            n_runs += 1
    row_first[h] = n_runs
    parent = np.arange(n_runs)
    for y in range(1, h):
        a, a_end = row_first[y - 1], row_first[y]
        b, b_end = row_first[y], row_first[y + 1]
        while a < a_end and b < b_end:  # runs of the two rows that share columns
            if labels[y, run_x0[b]] == labels[y - 1, run_x0[a]]:
                ra, rb = _find_run(parent, a), _find_run(parent, b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            end_a, end_b = run_x1[a], run_x1[b]
            if end_a <= end_b:
                a += 1
            if end_b <= end_a:
                b += 1
    # components in raster order of their first pixel (the first run of each root)
    component = np.empty(n_runs, np.int64)
    size = np.zeros(n_runs, np.int64)
    first_run = np.empty(n_runs, np.int64)
    count = 0
    for r in range(n_runs):
        root = _find_run(parent, r)
        if root == r:
            first_run[count] = r
            component[r] = count
            count += 1
        else:
            component[r] = component[root]
        size[component[r]] += run_x1[r] - run_x0[r]
    final = np.empty(count, np.int64)
    next_label = 0
    for c in range(count):
        r = first_run[c]
        if run_x0[r] > 0:
            adjacent = final[component[r - 1]]  # the run just left of it
        elif run_row[r] > 0:
            adjacent = final[component[row_first[run_row[r] - 1]]]  # above its first pixel
        else:
            adjacent = -1
        if size[c] < min_size and adjacent >= 0:
            final[c] = adjacent
        else:
            final[c] = next_label
            next_label += 1
    out = np.empty((h, w), np.int64)
    for r in range(n_runs):
        out[run_row[r], run_x0[r] : run_x1[r]] = final[component[r]]
    return out


@nb.njit(cache=True)
def region_stats(labels: np.ndarray, lab: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per label: ``(n, 6)`` float64 sums ``[pixels, L, a, b, y, x]`` over its pixels (in raster
    order, as ``np.bincount`` adds them), and a bool ``(n,)`` flag for labels on the image
    border. One pass instead of six ``bincount`` calls and an index grid."""
    h, w = labels.shape
    sums = np.zeros((n, 6))
    border = np.zeros(n, np.bool_)
    for y in range(h):
        for x in range(w):
            k = labels[y, x]
            sums[k, 0] += 1.0
            sums[k, 1] += lab[y, x, 0]
            sums[k, 2] += lab[y, x, 1]
            sums[k, 3] += lab[y, x, 2]
            sums[k, 4] += y
            sums[k, 5] += x
            if y == 0 or x == 0 or y == h - 1 or x == w - 1:
                border[k] = True
    return sums, border


@nb.njit(cache=True)
def adjacent_pairs(labels: np.ndarray, n: int) -> np.ndarray:
    """int64 ``(m, 2)`` pairs ``i < j`` of labels that touch horizontally or vertically,
    sorted."""
    touch = np.zeros((n, n), np.bool_)
    h, w = labels.shape
    for y in range(h):
        for x in range(w):
            a = labels[y, x]
            if x + 1 < w:
                b = labels[y, x + 1]
                if a != b:
                    touch[min(a, b), max(a, b)] = True
            if y + 1 < h:
                b = labels[y + 1, x]
                if a != b:
                    touch[min(a, b), max(a, b)] = True
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            if touch[i, j]:
                count += 1
    out = np.empty((count, 2), np.int64)
    m = 0
    for i in range(n):
        for j in range(i + 1, n):
            if touch[i, j]:
                out[m, 0], out[m, 1] = i, j
                m += 1
    return out
