"""Saliency optimisation from robust background detection (RBD).

Zhu, Liang, Wei & Sun, "Saliency Optimization from Robust Background Detection", CVPR 2014 --
the CVSA paper's "RBD" (Table A2). Implemented from the paper on SLIC superpixels:

1. Geodesic distance ``d_geo(p, q)``: shortest path on the superpixel graph whose edges join
   adjacent superpixels (and, as in the authors' setting, every pair of boundary superpixels),
   weighted by the Lab colour distance ``d_app``.
2. Spanning area ``Area(p) = sum_i exp(-d_geo(p, p_i)^2 / (2 sigma_clr^2))`` and boundary length
   ``Len_bnd(p)``, the same sum over boundary superpixels; boundary connectivity
   ``BndCon(p) = Len_bnd(p) / sqrt(Area(p))``.
3. Background probability ``w_bg = 1 - exp(-BndCon^2 / (2 sigma_bndcon^2))``.
4. Background-weighted contrast ``wCtr(p) = sum_i d_app(p, p_i) w_spa(p, p_i) w_bg(p_i)`` with
   ``w_spa = exp(-d_spa^2 / (2 sigma_spa^2))``.
5. Saliency ``s`` minimising ``sum_i w_bg_i s_i^2 + sum_i w_fg_i (s_i - 1)^2 +
   sum_{i~j} w_ij (s_i - s_j)^2`` with ``w_fg`` the normalised ``wCtr`` and
   ``w_ij = exp(-d_app^2 / (2 sigma_clr^2)) + mu``: the sparse linear system
   ``(diag(w_bg + w_fg) + L) s = w_fg``, ``L`` the graph Laplacian of ``w_ij``.

Defaults are the paper's: sigma_clr = 10, sigma_bndcon = 1, sigma_spa = 0.25, mu = 0.1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from saliencyaug import _checks
from saliencyaug.saliency.superpixels import EDGE_EPS, SuperpixelGraph, superpixel_saliency


def rbd(
    image: Any,
    *,
    n_segments: int = 250,
    compactness: float = 10.0,
    sigma_clr: float = 10.0,
    sigma_bndcon: float = 1.0,
    sigma_spa: float = 0.25,
    mu: float = 0.1,
    max_side: int | None = 256,
) -> np.ndarray:
    """Robust-background-detection saliency (Zhu et al., CVPR 2014).

    Args:
        image: PIL image, ``(H, W[, C])`` uint8/float numpy array or ``(C, H, W)`` tensor.
        n_segments: approximate number of SLIC superpixels.
        compactness: SLIC compactness.
        sigma_clr: colour scale of the geodesic area and smoothness weights (Lab units).
        sigma_bndcon: scale of boundary connectivity in the background probability.
        sigma_spa: spatial scale of the contrast weights (fraction of the longer side).
        mu: constant added to the smoothness weights.
        max_side: the image is processed with its longer side at most this (``None``: full
            size); the map is resized back to the input's size.

    Returns:
        float32 ``(H, W)`` map in [0, 1] at the input's resolution.

    Raises:
        ValueError: a non-positive parameter or a bad image.

    Examples:
        >>> import numpy as np
        >>> img = np.zeros((60, 80, 3), np.uint8); img[20:40, 30:50] = (200, 30, 30)
        >>> s = rbd(img)
        >>> bool(s[25:35, 35:45].mean() > s[:10].mean())
        True
    """
    sigma_clr = _checks.positive("sigma_clr", sigma_clr)
    sigma_bndcon = _checks.positive("sigma_bndcon", sigma_bndcon)
    sigma_spa = _checks.positive("sigma_spa", sigma_spa)
    mu = _checks.positive("mu", mu, allow_zero=True)
    return superpixel_saliency(
        image,
        lambda graph: rbd_superpixel_saliency(graph, sigma_clr, sigma_bndcon, sigma_spa, mu),
        n_segments,
        compactness,
        max_side,
    )


def rbd_superpixel_saliency(
    graph: SuperpixelGraph, sigma_clr: float, sigma_bndcon: float, sigma_spa: float, mu: float
) -> np.ndarray:
    """Per-superpixel RBD saliency ``s`` (steps 1-5 of the module docstring)."""
    from scipy.sparse import coo_matrix, diags
    from scipy.sparse.csgraph import laplacian, shortest_path
    from scipy.sparse.linalg import spsolve

    n = graph.n
    if n == 1:
        return np.zeros(1)
    d_app = graph.color_distances()
    bnd = graph.boundary
    bi, bj = np.meshgrid(bnd, bnd, indexing="ij")
    keep = bi < bj
    geo_pairs = np.concatenate([graph.edges, np.stack([bi[keep], bj[keep]], 1)])
    geo_pairs = np.unique(geo_pairs, axis=0)
    weights = d_app[geo_pairs[:, 0], geo_pairs[:, 1]] + EDGE_EPS
    geo_graph = coo_matrix((weights, (geo_pairs[:, 0], geo_pairs[:, 1])), shape=(n, n)).tocsr()
    d_geo = shortest_path(geo_graph, method="D", directed=False)

    sim = np.exp(-(d_geo**2) / (2 * sigma_clr**2))
    area = sim.sum(1)
    len_bnd = sim[:, bnd].sum(1)
    bnd_con = len_bnd / np.sqrt(area)
    w_bg = 1.0 - np.exp(-(bnd_con**2) / (2 * sigma_bndcon**2))

    diff = graph.centers[:, None, :] - graph.centers[None, :, :]
    w_spa = np.exp(-(diff**2).sum(-1) / (2 * sigma_spa**2))
    w_ctr = (d_app * w_spa * w_bg[None, :]).sum(1)
    span = w_ctr.max() - w_ctr.min()
    w_fg = (w_ctr - w_ctr.min()) / span if span > 0 else np.zeros(n)

    e = graph.edges
    w_ij = np.exp(-(d_app[e[:, 0], e[:, 1]] ** 2) / (2 * sigma_clr**2)) + mu
    smooth = coo_matrix((w_ij, (e[:, 0], e[:, 1])), shape=(n, n))
    lap = laplacian((smooth + smooth.T).tocsr())
    system = (diags(w_bg + w_fg) + lap).tocsc()
    s = spsolve(system, w_fg)
    return np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
