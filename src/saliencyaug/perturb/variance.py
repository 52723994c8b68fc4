"""Variance of feature dimensions over a bank, and the noise it sets (second paper, 3.4).

``s_i`` = variance of the l2-normalised i-th column of the bank ``M (D x n)``; dimensions
with ``s_i < kappa`` get noise ``N(0, std = eps_var * (1 - s_bar_i))`` with ``s_bar`` the
min-max normalised ``s`` (Eq. 6); the others get exactly zero.

Note (SPEC.md): after normalising a column of D entries to unit norm its variance is at most
``1/D`` (about 1.8e-4 for D = 5632), so with the paper's ``kappa = 0.02`` every dimension is
below the threshold and the ``(1 - s_bar)`` factor alone does the selecting.
``axis="row"`` normalises each stored vector instead (then ``kappa`` can select).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from saliencyaug.perturb.bank import FeatureBank
from saliencyaug.perturb.gradcam import minmax_normalize

Axis = Literal["column", "row", "none"]


def variance_scores(memory: torch.Tensor, axis: Axis = "column") -> torch.Tensor:
    """Per-dimension variance ``s`` (population variance, as numpy's ``var``) of a bank.

    Args:
        memory: ``(D, n)`` stored vectors.
        axis: l2-normalise each ``"column"`` (the paper), each ``"row"``, or ``"none"``.

    Returns:
        ``(n,)``.

    Raises:
        ValueError: fewer than 2 stored vectors or a bad axis.
    """
    if memory.ndim != 2 or memory.shape[0] < 2:
        raise ValueError(
            f"the bank needs at least 2 vectors to estimate variance, got {tuple(memory.shape)}"
        )
    if axis == "column":
        m = nn.functional.normalize(memory, dim=0)
    elif axis == "row":
        m = nn.functional.normalize(memory, dim=1)
    elif axis == "none":
        m = memory
    else:
        raise ValueError(f"axis must be 'column', 'row' or 'none', got {axis!r}")
    return m.var(dim=0, unbiased=False)


class VariancePerturber(nn.Module):
    """Noise for low-variance dimensions, from a :class:`FeatureBank` (Eq. 6).

    Args:
        eps_var: noise scale (paper: 0.05).
        kappa: variance threshold (paper: 0.02).
        axis: normalisation axis of :func:`variance_scores`.
    """

    def __init__(self, eps_var: float = 0.05, kappa: float = 0.02, axis: Axis = "column") -> None:
        super().__init__()
        if eps_var < 0:
            raise ValueError(f"eps_var must be non-negative, got {eps_var!r}")
        if axis not in ("column", "row", "none"):
            raise ValueError(f"axis must be 'column', 'row' or 'none', got {axis!r}")
        self.eps_var = eps_var
        self.kappa = kappa
        self.axis = axis

    def std(self, s: torch.Tensor) -> torch.Tensor:
        """``(n,)`` standard deviations: ``eps_var * (1 - s_bar)`` where ``s < kappa``, else 0."""
        s_bar = minmax_normalize(s.view(1, -1))[0]
        return torch.where(s < self.kappa, self.eps_var * (1.0 - s_bar), torch.zeros_like(s))

    def forward(self, v: torch.Tensor, bank: FeatureBank) -> torch.Tensor:
        """Noise for ``(B, n)`` features from the bank's current variance (torch RNG)."""
        std = self.std(variance_scores(bank.features(), self.axis))
        return torch.randn_like(v) * std.to(v.dtype).view(1, -1)
