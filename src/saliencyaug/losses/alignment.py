"""The cross-view saliency alignment of CVSA (CVSA paper Eqs. 3-5, 7; ``docs/method.md``).

Shapes: conv-head maps ``(B, d, h, w)``; view masks ``(B, 1, H, W)`` or ``(B, H, W)``
(uint8, bool or float, as collated from SaliencySwap). Target (EMA) projections are detached
inside: gradients reach the online branch only. Arguments come in view pairs
``(view_1, view_2)``, crossed inside.

Examples:
    >>> import torch
    >>> p = (torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4))
    >>> h = (torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4))
    >>> m = (torch.ones(2, 1, 32, 32), torch.ones(2, 1, 32, 32))
    >>> saliency_alignment_loss(p, h, m).ndim
    0
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from saliencyaug import _checks
from saliencyaug._checks import Reduction
from saliencyaug.losses.byol import byol_loss, vector_pair


def _check_map(name: str, value: torch.Tensor) -> torch.Tensor:
    _checks.tensor(name, value, ndim=4, shape="(B, d, h, w)", floating=True)
    return _checks.finite_values(name, value)


def cross_view_attention(
    prediction: torch.Tensor, projection: torch.Tensor, *, normalize: bool = True
) -> torch.Tensor:
    """Cross-view attention ``A_qk = p_q (HW x d) @ h_k^T (d x HW)`` (CVSA Eq. 3).

    Args:
        prediction: ``(B, d, h_q, w_q)`` online prediction ``p_conv(g_conv(z_q))``.
        projection: ``(B, d, h_k, w_k)`` target projection ``g_conv(z_k)`` (detached here).
        normalize: l2-normalise both along channels first (cosine attention).

    Returns:
        ``(B, h_q * w_q, h_k * w_k)``; row ``i`` holds position ``i`` of view q against every
        position of view k (row-major positions).

    Examples:
        >>> cross_view_attention(torch.randn(2, 8, 3, 4), torch.randn(2, 8, 5, 2)).shape
        torch.Size([2, 12, 10])
    """
    _check_map("prediction", prediction)
    _check_map("projection", projection)
    if prediction.shape[:2] != projection.shape[:2]:
        raise ValueError(
            "prediction and projection need the same batch and channels, got "
            f"{tuple(prediction.shape)} and {tuple(projection.shape)}"
        )
    dtype = torch.promote_types(prediction.dtype, projection.dtype)
    q = prediction.to(dtype).flatten(2).transpose(1, 2)  # (B, HWq, d)
    k = projection.detach().to(dtype).flatten(2)  # (B, d, HWk)
    if _checks.boolean("normalize", normalize):
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=1)
    return torch.bmm(q, k)


def correspondence_intensity(
    prediction: torch.Tensor,
    projection: torch.Tensor,
    *,
    normalize: bool = True,
    temperature: float = 0.1,
) -> torch.Tensor:
    """``C_qk = max over view-k positions of sigmoid(A_qk / temperature)`` (CVSA Eq. 4).

    Computed as ``sigmoid(max(A) / temperature)``: the sigmoid is increasing, so the value and
    the gradient path are those of Eq. 4 without a sigmoid over the whole ``HW x HW`` matrix.

    Args:
        prediction: ``(B, d, h_q, w_q)`` online prediction.
        projection: ``(B, d, h_k, w_k)`` target projection (detached).
        normalize: cosine attention (default True; False with temperature 1 is the paper
            taken literally, where raw 256-d dot products saturate the sigmoid).
        temperature: divides the attention before the sigmoid (default 0.1).

    Returns:
        ``(B, h_q, w_q)`` in (0, 1).
    """
    temperature = _checks.positive("temperature", temperature)
    attn = cross_view_attention(prediction, projection, normalize=normalize)
    b, _, h, w = prediction.shape
    return torch.sigmoid(attn.amax(dim=-1) / temperature).view(b, h, w)


def _check_mask(name: str, mask: torch.Tensor) -> torch.Tensor:
    """The mask under the package's rule (``_checks.MASK_RULE``; float masks in [0, 1] are
    kept as soft targets): a 0/255 mask counts as 0/1, anything else is refused."""
    _checks.tensor(name, mask, ndim=(3, 4), shape="(B, 1, H, W) or (B, H, W)")
    if mask.ndim == 4 and mask.shape[1] != 1:
        raise ValueError(f"{name} must be (B, 1, H, W) or (B, H, W), got {tuple(mask.shape)}")
    return _checks.binary_mask(name, mask, soft=True)


def map_pair(name: str, value: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Two ``(B, d, h, w)`` float maps of one batch and width, finite, named ``name[i]``."""
    a, b = _checks.view_pair(name, value, same="channels")
    for i, t in enumerate((a, b)):
        _checks.float_tensor(f"{name}[{i}]", t, 4, "(B, d, h, w)")
    return a, b


def downsample_mask(
    mask: torch.Tensor, size: tuple[int, int], *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``delta^l``: a view mask resized to a feature map's ``(h, w)`` (antialiased bilinear).

    Args:
        mask: ``(B, 1, H, W)`` or ``(B, H, W)``: bool, 0/1 or 0/255 (non-zero is the
            object), or float in [0, 1] (soft); other values raise a ``ValueError``.
        size: ``(h, w)``.
        dtype: floating dtype of the result (that of the features it is compared with).

    Returns:
        ``(B, h, w)`` in [0, 1].
    """
    return _downsample(_check_mask("mask", mask), _checks.size_pair("size", size), dtype)


def _downsample(mask: torch.Tensor, size: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
    """:func:`downsample_mask` of a checked mask."""
    m = mask if mask.ndim == 4 else mask.unsqueeze(1)
    out = F.interpolate(
        m.to(dtype), size=size, mode="bilinear", align_corners=False, antialias=True
    )
    return out.squeeze(1).clamp(0.0, 1.0)


def saliency_alignment_loss(
    predictions: tuple[torch.Tensor, torch.Tensor],
    projections: tuple[torch.Tensor, torch.Tensor],
    masks: tuple[torch.Tensor, torch.Tensor],
    *,
    normalize: bool = True,
    temperature: float = 0.1,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Symmetric saliency alignment (CVSA Eq. 5):
    ``mean((down(M_1) - C_12)^2) + mean((down(M_2) - C_21)^2)``, with
    ``C_12 = correspondence_intensity(p_1, h_2)`` and ``C_21 = correspondence_intensity(p_2,
    h_1)``.

    Args:
        predictions: ``(p_1, p_2)``: online conv predictions of views 1 and 2, ``(B, d, h, w)``.
        projections: ``(h_1, h_2)``: target conv projections of views 1 and 2 (detached).
        masks: ``(M_1, M_2)``: the views' masks, ``(B, 1, H, W)`` or ``(B, H, W)``: bool,
            0/1 or 0/255 (non-zero is the object), or float in [0, 1] (soft targets); any
            other value raises a ``ValueError``.
        normalize: see :func:`correspondence_intensity`.
        temperature: see :func:`correspondence_intensity`.
        reduction: ``"mean"`` (each term averaged over batch and positions, then summed),
            ``"sum"`` (over everything) or ``"none"`` (``(B,)``: per sample, the mean over
            positions of each term, summed).

    Returns:
        A scalar, or ``(B,)`` for ``reduction="none"``.
    """
    how = _checks.reduction(reduction)
    p1, p2 = map_pair("predictions", predictions)
    h1, h2 = map_pair("projections", projections)
    m1, m2 = _checks.view_pair("masks", masks, same="batch")
    m1, m2 = (_check_mask(f"masks[{i}]", m) for i, m in enumerate((m1, m2)))
    _checks.same_batch(("predictions", "projections", "masks"), (p1, h1, m1))
    if p1.shape[1] != h1.shape[1]:
        raise ValueError(
            f"predictions and projections must have the same channels, got {p1.shape[1]} and "
            f"{h1.shape[1]}"
        )
    # the squared error is formed in at least float32 (under autocast the attention may be
    # bfloat16/float16, which antialiased resizing does not support and which loses precision)
    c12 = correspondence_intensity(p1, h2, normalize=normalize, temperature=temperature)
    c21 = correspondence_intensity(p2, h1, normalize=normalize, temperature=temperature)
    c12 = c12.to(torch.promote_types(c12.dtype, torch.float32))
    c21 = c21.to(torch.promote_types(c21.dtype, torch.float32))
    size1 = (int(c12.shape[-2]), int(c12.shape[-1]))
    size2 = (int(c21.shape[-2]), int(c21.shape[-1]))
    err1 = (_downsample(m1, size1, c12.dtype) - c12) ** 2
    err2 = (_downsample(m2, size2, c21.dtype) - c21) ** 2
    if how == "mean":
        return err1.mean() + err2.mean()
    if how == "sum":
        return err1.sum() + err2.sum()
    return err1.flatten(1).mean(1) + err2.flatten(1).mean(1)


class SaliencyAlignmentLoss(nn.Module):
    """Module form of :func:`saliency_alignment_loss`: ``forward(predictions, projections,
    masks)``.

    Examples:
        >>> loss = SaliencyAlignmentLoss()
        >>> p, m = torch.randn(2, 8, 4, 4), torch.ones(2, 1, 16, 16)
        >>> float(loss((p, p), (p, p), (m, m))) >= 0
        True
    """

    def __init__(
        self, *, normalize: bool = True, temperature: float = 0.1, reduction: Reduction = "mean"
    ) -> None:
        super().__init__()
        self.normalize = _checks.boolean("normalize", normalize)
        self.temperature = _checks.positive("temperature", temperature)
        self.reduction: Reduction = _checks.reduction(reduction)

    def forward(
        self,
        predictions: tuple[torch.Tensor, torch.Tensor],
        projections: tuple[torch.Tensor, torch.Tensor],
        masks: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        return saliency_alignment_loss(
            predictions,
            projections,
            masks,
            normalize=self.normalize,
            temperature=self.temperature,
            reduction=self.reduction,
        )


class CVSALossParts(NamedTuple):
    """``total = contrastive + weight * alignment`` and its two terms."""

    total: torch.Tensor
    contrastive: torch.Tensor
    alignment: torch.Tensor


def cvsa_loss(
    predictions: tuple[torch.Tensor, torch.Tensor],
    projections: tuple[torch.Tensor, torch.Tensor],
    map_predictions: tuple[torch.Tensor, torch.Tensor],
    map_projections: tuple[torch.Tensor, torch.Tensor],
    masks: tuple[torch.Tensor, torch.Tensor],
    *,
    weight: float = 1.0,
    normalize: bool = True,
    temperature: float = 0.1,
    reduction: Reduction = "mean",
) -> CVSALossParts:
    """``L_CVSA = L_cont + weight * L_align`` (CVSA Eq. 7).

    Args:
        predictions: ``(p_1, p_2)``: MLP-head predictions of views 1 and 2, ``(B, d)``.
        projections: ``(h_1, h_2)``: target MLP-head projections of views 1 and 2.
        map_predictions: ``(p_1, p_2)``: conv-head predictions ``(B, d, h, w)``.
        map_projections: ``(h_1, h_2)``: target conv-head projections.
        masks: ``(M_1, M_2)``: the views' saliency masks (as in
            :func:`saliency_alignment_loss`: bool, 0/1, 0/255, or soft floats in [0, 1]).
        weight: weight of the alignment term (default 1, the paper's).
        normalize: alignment option (see :func:`correspondence_intensity`).
        temperature: alignment option (see :func:`correspondence_intensity`).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample, ``(B,)``), for both terms.

    Returns:
        :class:`CVSALossParts`.
    """
    weight = _checks.positive("weight", weight, allow_zero=True)
    p1, _ = vector_pair("predictions", predictions)
    vector_pair("projections", projections)
    m1, _ = map_pair("map_predictions", map_predictions)
    map_pair("map_projections", map_projections)
    _checks.same_batch(("predictions", "map_predictions"), (p1, m1))
    contrastive = byol_loss(predictions, projections, reduction=reduction)
    alignment = saliency_alignment_loss(
        map_predictions,
        map_projections,
        masks,
        normalize=normalize,
        temperature=temperature,
        reduction=reduction,
    )
    return CVSALossParts(contrastive + weight * alignment, contrastive, alignment)


class CVSALoss(nn.Module):
    """Module form of :func:`cvsa_loss`.

    Args:
        weight: alignment weight (default 1).
        normalize: cosine attention (default True).
        temperature: attention temperature (default 0.1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(
        self,
        *,
        weight: float = 1.0,
        normalize: bool = True,
        temperature: float = 0.1,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.weight = _checks.positive("weight", weight, allow_zero=True)
        self.normalize = _checks.boolean("normalize", normalize)
        self.temperature = _checks.positive("temperature", temperature)
        self.reduction: Reduction = _checks.reduction(reduction)

    def forward(
        self,
        predictions: tuple[torch.Tensor, torch.Tensor],
        projections: tuple[torch.Tensor, torch.Tensor],
        map_predictions: tuple[torch.Tensor, torch.Tensor],
        map_projections: tuple[torch.Tensor, torch.Tensor],
        masks: tuple[torch.Tensor, torch.Tensor],
    ) -> CVSALossParts:
        return cvsa_loss(
            predictions,
            projections,
            map_predictions,
            map_projections,
            masks,
            weight=self.weight,
            normalize=self.normalize,
            temperature=self.temperature,
            reduction=self.reduction,
        )


__all__ = [
    "CVSALoss",
    "CVSALossParts",
    "SaliencyAlignmentLoss",
    "correspondence_intensity",
    "cross_view_attention",
    "cvsa_loss",
    "downsample_mask",
    "map_pair",
    "saliency_alignment_loss",
]
