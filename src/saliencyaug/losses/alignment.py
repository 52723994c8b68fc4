"""Module wrappers of the CVSA and BYOL losses (see :mod:`saliencyaug.losses.functional`)."""

from __future__ import annotations

import torch
from torch import nn

from saliencyaug.losses import functional as LF


class CrossViewAttention(nn.Module):
    """Module form of :func:`~saliencyaug.losses.functional.correspondence_intensity`:
    ``(p, h) -> C`` of shape ``(B, h_q, w_q)``."""

    def __init__(self, normalize: bool = True, temperature: float = 0.1) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.normalize = normalize
        self.temperature = temperature

    def forward(self, p: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return LF.correspondence_intensity(p, h, self.normalize, self.temperature)


class SaliencyAlignmentLoss(nn.Module):
    """CVSA Eq. 5 as a module.

    Args:
        normalize: cosine attention (default True).
        temperature: attention temperature (default 0.1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Example:
        >>> loss = SaliencyAlignmentLoss()
        >>> p, h, m = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4), torch.ones(2, 1, 16, 16)
        >>> float(loss(p, h, p, h, m, m)) >= 0
        True
    """

    def __init__(
        self, normalize: bool = True, temperature: float = 0.1, reduction: LF.Reduction = "mean"
    ) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        LF._check_reduction(reduction)
        self.normalize = normalize
        self.temperature = temperature
        self.reduction = reduction

    def forward(
        self,
        p_q: torch.Tensor,
        h_k: torch.Tensor,
        p_k: torch.Tensor,
        h_q: torch.Tensor,
        mask_q: torch.Tensor,
        mask_k: torch.Tensor,
    ) -> torch.Tensor:
        return LF.saliency_alignment_loss(
            p_q, h_k, p_k, h_q, mask_q, mask_k, self.normalize, self.temperature, self.reduction
        )


class BYOLLoss(nn.Module):
    """BYOL's symmetrised negative cosine ``1/2 D(p_q, h_k) + 1/2 D(p_k, h_q)``."""

    def __init__(self, reduction: LF.Reduction = "mean") -> None:
        super().__init__()
        LF._check_reduction(reduction)
        self.reduction = reduction

    def forward(
        self, p_q: torch.Tensor, h_k: torch.Tensor, p_k: torch.Tensor, h_q: torch.Tensor
    ) -> torch.Tensor:
        return LF.byol_loss(p_q, h_k, p_k, h_q, self.reduction)


class CVSALoss(nn.Module):
    """``L_CVSA = L_cont + weight * L_align`` (CVSA Eq. 7); returns :class:`CVSALossParts`.

    Args:
        weight: alignment weight (default 1).
        normalize: cosine attention (default True).
        temperature: attention temperature (default 0.1).
    """

    def __init__(
        self, weight: float = 1.0, normalize: bool = True, temperature: float = 0.1
    ) -> None:
        super().__init__()
        if weight < 0:
            raise ValueError(f"weight must be non-negative, got {weight!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.weight = weight
        self.normalize = normalize
        self.temperature = temperature

    def forward(
        self,
        p_q: torch.Tensor,
        h_k: torch.Tensor,
        p_k: torch.Tensor,
        h_q: torch.Tensor,
        pc_q: torch.Tensor,
        hc_k: torch.Tensor,
        pc_k: torch.Tensor,
        hc_q: torch.Tensor,
        mask_q: torch.Tensor,
        mask_k: torch.Tensor,
    ) -> LF.CVSALossParts:
        return LF.cvsa_loss(
            p_q,
            h_k,
            p_k,
            h_q,
            pc_q,
            hc_k,
            pc_k,
            hc_q,
            mask_q,
            mask_k,
            self.weight,
            self.normalize,
            self.temperature,
        )
