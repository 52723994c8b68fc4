"""BYOL's loss: the symmetrised negative cosine similarity (CVSA paper Eq. 6; Grill et al.,
NeurIPS 2020). SimSiam (Chen & He, CVPR 2021) uses the same loss with its own networks.

Examples:
    >>> import torch
    >>> p1, p2, h1, h2 = (torch.randn(4, 8) for _ in range(4))
    >>> float(byol_loss((p1, p2), (h1, h2))) <= 1.0
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from saliencyaug import _checks
from saliencyaug._checks import Reduction


def negative_cosine(
    prediction: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    """``D(p, h) = -(p / ||p||) . (h / ||h||)``, ``h`` detached (CVSA Eq. 6).

    Args:
        prediction: ``(B, d)`` online prediction ``p``.
        target: ``(B, d)`` target projection ``h`` (stop-gradient).
        reduction: over the batch: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``(B,)``).

    Returns:
        A scalar in [-1, 1] for ``"mean"``.
    """
    how = _checks.reduction(reduction)
    _checks.vector_batches(("prediction", "target"), prediction, target)
    return _checks.reduce(_neg_cos(prediction, target), how)


def byol_loss(
    predictions: tuple[torch.Tensor, torch.Tensor],
    projections: tuple[torch.Tensor, torch.Tensor],
    *,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """BYOL's loss of two views: ``1/2 D(p_1, h_2) + 1/2 D(p_2, h_1)`` (CVSA Eq. 6).

    The pairs are given view by view; the function crosses them (view 1's prediction against
    view 2's target projection and vice versa), so they cannot be interleaved by mistake.

    Args:
        predictions: ``(p_1, p_2)``: the online predictions of views 1 and 2, ``(B, d)`` each.
        projections: ``(h_1, h_2)``: the target (EMA) projections of views 1 and 2, detached
            here.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``(B,)``).

    Returns:
        A scalar in [-1, 1] for ``"mean"``.
    """
    how = _checks.reduction(reduction)
    p1, p2 = vector_pair("predictions", predictions)
    h1, h2 = vector_pair("projections", projections)
    if p1.shape != h1.shape:
        raise ValueError(
            f"predictions and projections must have the same shape, got {tuple(p1.shape)} and "
            f"{tuple(h1.shape)}"
        )
    per_sample = 0.5 * _neg_cos(p1, h2) + 0.5 * _neg_cos(p2, h1)
    return _checks.reduce(per_sample, how)


def vector_pair(name: str, value: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Two ``(B, d)`` float vectors of one shape, finite, named ``name[0]``, ``name[1]``."""
    a, b = _checks.view_pair(name, value)
    for i, t in enumerate((a, b)):
        _checks.float_tensor(f"{name}[{i}]", t, 2, "(B, d)")
    return a, b


def _neg_cos(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    dtype = torch.promote_types(prediction.dtype, target.dtype)
    p = F.normalize(prediction.to(dtype), dim=1)
    return -(p * F.normalize(target.detach().to(dtype), dim=1)).sum(1)


class BYOLLoss(nn.Module):
    """Module form of :func:`byol_loss`: ``forward(predictions, projections)``.

    Examples:
        >>> import torch
        >>> loss = BYOLLoss()
        >>> v = torch.randn(3, 4)
        >>> round(float(loss((v, v), (v, v))), 6)  # identical vectors: the minimum
        -1.0
    """

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.reduction: Reduction = _checks.reduction(reduction)

    def forward(
        self,
        predictions: tuple[torch.Tensor, torch.Tensor],
        projections: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        return byol_loss(predictions, projections, reduction=self.reduction)


__all__ = ["BYOLLoss", "byol_loss", "negative_cosine", "vector_pair"]
