"""Loss functions of CVSA, BYOL and MoCo v2 (SPEC.md section 4; CVSA paper Eqs. 3-7).

Shapes: feature maps ``(B, d, h, w)``, vectors ``(B, d)``, view masks ``(B, 1, H, W)`` or
``(B, H, W)`` (uint8 / bool / float, as collated from SaliencySwap). Targets (the EMA
branch's projections) are detached inside every loss: gradients reach the online branch only.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F

Reduction = Literal["mean", "sum", "none"]


def _check_map(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a (B, d, h, w) feature map, got {shape}")


def _check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def cross_view_attention(p: torch.Tensor, h: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Cross-view attention ``A_qk = p_q (HW x d) @ h_k^T (d x HW)`` (CVSA Eq. 3).

    Args:
        p: ``(B, d, h_q, w_q)`` online prediction ``p_conv(g_conv(z_q))``.
        h: ``(B, d, h_k, w_k)`` target projection ``g_conv(z_k)`` (detached here).
        normalize: l2-normalise both along channels first (cosine attention).

    Returns:
        ``(B, h_q * w_q, h_k * w_k)``; row ``i`` holds position ``i`` of view q against every
        position of view k (row-major positions).

    Example:
        >>> a = cross_view_attention(torch.randn(2, 8, 3, 4), torch.randn(2, 8, 5, 2))
        >>> a.shape
        torch.Size([2, 12, 10])
    """
    _check_map(p, "p")
    _check_map(h, "h")
    if p.shape[:2] != h.shape[:2]:
        raise ValueError(
            f"p and h need the same batch and channels, got {tuple(p.shape)} and {tuple(h.shape)}"
        )
    q = p.flatten(2).transpose(1, 2)  # (B, HWq, d)
    k = h.detach().flatten(2)  # (B, d, HWk)
    if normalize:
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=1)
    return torch.bmm(q, k)


def correspondence_intensity(
    p: torch.Tensor, h: torch.Tensor, normalize: bool = True, temperature: float = 0.1
) -> torch.Tensor:
    """``C_qk = max over view-k positions of sigmoid(A_qk / temperature)`` (CVSA Eq. 4).

    Computed as ``sigmoid(max(A) / temperature)``: the sigmoid is increasing, so the value and
    the gradient path are those of Eq. 4 without a sigmoid over the whole ``HW x HW`` matrix.

    Args:
        p: ``(B, d, h_q, w_q)`` online prediction.
        h: ``(B, d, h_k, w_k)`` target projection (detached).
        normalize: cosine attention (SPEC.md default True; False with temperature 1 is the
            paper taken literally, where raw 256-d dot products saturate the sigmoid).
        temperature: divides the attention before the sigmoid (default 0.1).

    Returns:
        ``(B, h_q, w_q)`` in (0, 1).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    attn = cross_view_attention(p, h, normalize)
    return torch.sigmoid(attn.amax(dim=-1) / temperature).view(p.shape[0], p.shape[2], p.shape[3])


def downsample_mask(
    mask: torch.Tensor, size: tuple[int, int], dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``delta^l``: a view mask resized to a feature map's ``(h, w)`` (antialiased bilinear).

    Args:
        mask: ``(B, 1, H, W)`` or ``(B, H, W)``, uint8 {0, 1}, bool or float in [0, 1].
        size: ``(h, w)``.
        dtype: floating dtype of the result (that of the features it is compared with).

    Returns:
        ``(B, h, w)`` in [0, 1].
    """
    if (
        not isinstance(mask, torch.Tensor)
        or mask.ndim not in (3, 4)
        or (mask.ndim == 4 and mask.shape[1] != 1)
    ):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be (B, 1, H, W) or (B, H, W), got {shape}")
    m = mask if mask.ndim == 4 else mask.unsqueeze(1)
    m = m.to(dtype)
    out = F.interpolate(m, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out.squeeze(1).clamp(0.0, 1.0)


def saliency_alignment_loss(
    p_q: torch.Tensor,
    h_k: torch.Tensor,
    p_k: torch.Tensor,
    h_q: torch.Tensor,
    mask_q: torch.Tensor,
    mask_k: torch.Tensor,
    normalize: bool = True,
    temperature: float = 0.1,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Symmetric saliency alignment (CVSA Eq. 5).

    ``L = mean((down(M_q) - C_qk)^2) + mean((down(M_k) - C_kq)^2)`` with
    ``C_qk = correspondence_intensity(p_q, h_k)``, ``C_kq = correspondence_intensity(p_k, h_q)``.

    Args:
        p_q, p_k: ``(B, d, h, w)`` online predictions of views q and k.
        h_q, h_k: ``(B, d, h, w)`` target projections of views q and k (detached).
        mask_q, mask_k: the views' masks, ``(B, 1, H, W)`` or ``(B, H, W)``.
        normalize, temperature: see :func:`correspondence_intensity`.
        reduction: ``"mean"`` (over batch and positions, per term, then summed),
            ``"sum"`` (over everything) or ``"none"`` (``(B,)``: per sample, the mean over
            positions of each term, summed).

    Returns:
        A scalar, or ``(B,)`` for ``reduction="none"``.

    Example:
        >>> p, h = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
        >>> m = torch.ones(2, 1, 32, 32)
        >>> saliency_alignment_loss(p, h, p, h, m, m).ndim
        0
    """
    _check_reduction(reduction)
    if mask_q.shape[0] != p_q.shape[0] or mask_k.shape[0] != p_k.shape[0]:
        raise ValueError("masks and features need the same batch size")
    # the squared error is formed in at least float32 (under autocast the attention may be
    # bfloat16/float16, which antialiased resizing does not support and which loses precision)
    c_qk = correspondence_intensity(p_q, h_k, normalize, temperature)
    c_kq = correspondence_intensity(p_k, h_q, normalize, temperature)
    c_qk = c_qk.to(torch.promote_types(c_qk.dtype, torch.float32))
    c_kq = c_kq.to(torch.promote_types(c_kq.dtype, torch.float32))
    err_q = (downsample_mask(mask_q, c_qk.shape[-2:], c_qk.dtype) - c_qk) ** 2
    err_k = (downsample_mask(mask_k, c_kq.shape[-2:], c_kq.dtype) - c_kq) ** 2
    if reduction == "mean":
        return err_q.mean() + err_k.mean()
    if reduction == "sum":
        return err_q.sum() + err_k.sum()
    return err_q.flatten(1).mean(1) + err_k.flatten(1).mean(1)


def negative_cosine(p: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``D(p, h) = -(p / ||p||) . (h / ||h||)`` per sample, ``h`` detached (CVSA Eq. 6, BYOL).

    Args:
        p: ``(B, d)`` prediction.
        h: ``(B, d)`` target projection.

    Returns:
        ``(B,)`` in [-1, 1].
    """
    if p.ndim != 2 or p.shape != h.shape:
        raise ValueError(
            f"p and h must be (B, d) of the same shape, got {tuple(p.shape)} and {tuple(h.shape)}"
        )
    return -(F.normalize(p, dim=1) * F.normalize(h.detach(), dim=1)).sum(dim=1)


def byol_loss(
    p_q: torch.Tensor,
    h_k: torch.Tensor,
    p_k: torch.Tensor,
    h_q: torch.Tensor,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """BYOL's symmetrised loss ``1/2 D(p_q, h_k) + 1/2 D(p_k, h_q)`` (CVSA Eq. 6).

    Args:
        p_q, p_k: ``(B, d)`` online predictions of views q and k.
        h_q, h_k: ``(B, d)`` target projections (detached).
        reduction: over the batch: ``"mean"``, ``"sum"`` or ``"none"`` (``(B,)``).

    Returns:
        A scalar in [-1, 1] for ``"mean"``.
    """
    _check_reduction(reduction)
    per_sample = 0.5 * negative_cosine(p_q, h_k) + 0.5 * negative_cosine(p_k, h_q)
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


class CVSALossParts(NamedTuple):
    """``total = contrastive + weight * alignment``."""

    total: torch.Tensor
    contrastive: torch.Tensor
    alignment: torch.Tensor


def cvsa_loss(
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
    weight: float = 1.0,
    normalize: bool = True,
    temperature: float = 0.1,
) -> CVSALossParts:
    """``L_CVSA = L_cont + weight * L_align`` (CVSA Eq. 7).

    Args:
        p_q, h_k, p_k, h_q: MLP-head vectors ``(B, d)`` for :func:`byol_loss`.
        pc_q, hc_k, pc_k, hc_q: conv-head maps ``(B, d, h, w)`` for
            :func:`saliency_alignment_loss`.
        mask_q, mask_k: the views' masks.
        weight: weight of the alignment term (SPEC.md default 1).
        normalize, temperature: alignment options.

    Returns:
        :class:`CVSALossParts` (scalars).
    """
    contrastive = byol_loss(p_q, h_k, p_k, h_q)
    alignment = saliency_alignment_loss(
        pc_q, hc_k, pc_k, hc_q, mask_q, mask_k, normalize, temperature
    )
    return CVSALossParts(contrastive + weight * alignment, contrastive, alignment)


def info_nce(
    q: torch.Tensor,
    k: torch.Tensor,
    negatives: torch.Tensor | None = None,
    temperature: float = 0.2,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """MoCo v2's InfoNCE: cross-entropy of ``[q.k+, q.negatives] / temperature`` with the
    positive first; vectors are l2-normalised and ``k`` / ``negatives`` detached.

    Args:
        q: ``(B, d)`` queries.
        k: ``(B, d)`` positive keys.
        negatives: ``(K, d)`` negative keys (the queue), or None to use the other keys of the
            batch as negatives (``k`` against every ``q``, the positive on the diagonal).
        temperature: MoCo v2's 0.2 by default.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss.
    """
    _check_reduction(reduction)
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    if q.ndim != 2 or q.shape != k.shape:
        raise ValueError(
            f"q and k must be (B, d) of the same shape, got {tuple(q.shape)} and {tuple(k.shape)}"
        )
    qn = F.normalize(q, dim=1)
    kn = F.normalize(k.detach(), dim=1)
    if negatives is None:
        logits = qn @ kn.t()
        labels = torch.arange(q.shape[0], device=q.device)
    else:
        if negatives.ndim != 2 or negatives.shape[1] != q.shape[1]:
            raise ValueError(f"negatives must be (K, {q.shape[1]}), got {tuple(negatives.shape)}")
        neg = F.normalize(negatives.detach(), dim=1).to(qn.dtype)
        logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ neg.t()], dim=1)
        labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits / temperature, labels, reduction=reduction)


def nt_xent(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2, decoupled: bool = False
) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of pairs (SimCLR's NT-Xent).

    Each of the ``2B`` vectors is an anchor; its positive is its pair, its negatives the other
    ``2B - 2`` vectors. ``decoupled=True`` drops the positive from the denominator, as the
    second paper's Eq. 1 and 7 are written.

    Args:
        z1, z2: ``(B, d)``; ``(z1[i], z2[i])`` are the positive pairs.
        temperature: softmax temperature.
        decoupled: exclude the positive from the denominator.

    Returns:
        Scalar mean over the ``2B`` anchors.
    """
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            f"z1 and z2 must be (B, d) of the same shape, got {tuple(z1.shape)} "
            f"and {tuple(z2.shape)}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.t()) / temperature
    eye = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, float("-inf"))
    pos_idx = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    pos = sim[torch.arange(2 * b, device=z.device), pos_idx]
    if decoupled:
        sim = sim.masked_fill(F.one_hot(pos_idx, 2 * b).bool(), float("-inf"))
    return (torch.logsumexp(sim, dim=1) - pos).mean()
