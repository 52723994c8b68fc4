"""The geodesic detector's shortest paths against scipy's Dijkstra."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from saliencyaug.saliency.geodesic import _distances_to_boundary


@pytest.mark.parametrize("seed", range(4))
def test_distances_to_boundary_equal_scipy_dijkstra(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    pairs = rng.integers(0, n, (3 * n, 2))
    pairs = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], 1), axis=0)
    weights = rng.random(len(pairs)) * (rng.random(len(pairs)) > 0.3) + 1e-9
    boundary = np.unique(rng.integers(0, n, max(1, n // 8)))
    link = rng.random(len(boundary)) * (seed % 2) + 1e-9
    ours = _distances_to_boundary(n, pairs, weights, boundary, link)
    rows = np.concatenate([pairs[:, 0], np.full(len(boundary), n)])
    cols = np.concatenate([pairs[:, 1], boundary])
    graph = coo_matrix((np.concatenate([weights, link]), (rows, cols)), shape=(n + 1, n + 1))
    want = dijkstra(graph.tocsr(), directed=False, indices=n)[:n]
    np.testing.assert_allclose(ours, want, rtol=1e-12, atol=0)  # unreachable: inf in both


def test_smallest_incident_equals_minimum_at() -> None:
    from saliencyaug.saliency.geodesic import _smallest_incident

    rng = np.random.default_rng(0)
    edges = np.unique(np.sort(rng.integers(0, 40, (90, 2)), 1), axis=0)
    edges = edges[edges[:, 0] != edges[:, 1]]
    weights = rng.random(len(edges))
    want = np.full(45, np.inf)  # nodes 40-44 have no edge
    np.minimum.at(want, edges[:, 0], weights)
    np.minimum.at(want, edges[:, 1], weights)
    np.testing.assert_array_equal(_smallest_incident(45, edges, weights), want)
