"""Which feature dimensions to perturb, and how much: the Grad-CAM and variance criteria of the
second paper (sections 3.3-3.4; ``docs/method.md``).

* Grad-CAM: ``eta_i = ReLU(g_i * v_i)`` for the pooled feature ``v = f(x)``, with ``g`` the
  gradient of the contrastive loss between ``x`` and an augmented view ``x''`` (Eq. 3);
  ``eta_bar`` = per-sample min-max normalisation (Eq. 4); noise ``N(0, std = eps_g * (1 -
  eta_bar_i))`` (Eq. 5; the second argument is read as the standard deviation).
* Variance: ``s_i`` = variance of the l2-normalised i-th column of the bank ``M (D x n)``;
  dimensions with ``s_i < kappa`` get noise ``N(0, std = eps_var * (1 - s_bar_i))`` with
  ``s_bar`` the min-max normalised ``s`` (Eq. 6); the others get exactly zero.

Examples:
    >>> import torch
    >>> minmax_normalize(torch.tensor([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0]]))
    tensor([[0.0000, 1.0000, 0.5000],
            [0.0000, 0.0000, 0.0000]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from saliencyaug import _checks
from saliencyaug.distributed import randn_global
from saliencyaug.losses.contrastive import info_nce
from saliencyaug.memory import MemoryQueue

ScoreSign = Literal["loss", "score"]
Axis = Literal["column", "row", "none"]
ContrastiveFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def minmax_normalize(x: torch.Tensor) -> torch.Tensor:
    """Per-row min-max normalisation of ``(B, n)`` to [0, 1]; a constant row becomes 0.

    Raises:
        ValueError: not a 2-D tensor, or NaN/inf values (a NaN would make its row all 0).
    """
    _checks.tensor("x", x, ndim=2, shape="(B, n)", floating=True)
    _checks.finite_values("x", x)
    lo = x.amin(dim=1, keepdim=True)
    span = x.amax(dim=1, keepdim=True) - lo
    return torch.where(
        span > 0, (x - lo) / torch.where(span > 0, span, torch.ones_like(span)), torch.zeros_like(x)
    )


def default_contrastive(z: torch.Tensor, z_aug: torch.Tensor) -> torch.Tensor:
    """InfoNCE of ``z`` against ``z_aug`` with in-batch negatives, temperature 0.2."""
    return info_nce(z, z_aug, temperature=0.2)


def gradcam_scores(
    v: torch.Tensor,
    v_aug: torch.Tensor,
    projector: nn.Module,
    *,
    contrastive: ContrastiveFn = default_contrastive,
    sign: ScoreSign = "score",
) -> torch.Tensor:
    """Grad-CAM scores ``eta`` of the dimensions of ``v`` (Eq. 3), detached.

    The gradient is taken with ``torch.autograd.grad`` with respect to a detached copy of
    ``v`` only: no ``.backward()``, parameters' ``.grad`` untouched, and the projector is run
    through ``torch.func.functional_call`` on copies of its buffers, so its train/eval mode and
    BatchNorm statistics are left exactly as they were.

    Args:
        v: ``(B, n)`` pooled features of the clean images.
        v_aug: ``(B, n)`` pooled features of an augmented view of the same images.
        projector: the projection head ``g``.
        contrastive: ``(z, z_aug) -> scalar`` loss (default: InfoNCE, in-batch, T = 0.2).
        sign: ``"loss"`` (``dL/dv * v``, Eq. 3 as printed) or ``"score"`` (the negated
            gradient: the dimensions that lower the loss, as the paper's prose and Grad-CAM
            read it).

    Returns:
        ``(B, n)`` non-negative scores.
    """
    sign = _checks.choice("sign", sign, ("loss", "score"))
    _checks.vector_batches(("v", "v_aug"), v, v_aug)
    if not isinstance(projector, nn.Module):
        raise TypeError(f"projector must be a torch.nn.Module, got {type(projector).__name__}")
    first = next(projector.parameters(), None)
    dtype = first.dtype if first is not None and first.is_floating_point() else v.dtype
    leaf = v.detach().to(dtype).clone().requires_grad_(True)
    v_aug = v_aug.to(dtype)
    params: dict[str, torch.Tensor] = dict(projector.named_parameters())
    buffers = {k: b.clone() for k, b in projector.named_buffers()}
    with torch.enable_grad():
        z = torch.func.functional_call(projector, (params, buffers), (leaf,))
        z_aug = torch.func.functional_call(projector, (params, buffers), (v_aug.detach(),))
        loss = contrastive(z, z_aug)
        (grad,) = torch.autograd.grad(loss, leaf)
    signed = grad if sign == "loss" else -grad
    return torch.relu(signed * leaf.detach())


class GradCAMPerturber(nn.Module):
    """Noise ``N(0, std = eps_g * (1 - eta_bar))`` from Grad-CAM scores (Eq. 4-5).

    Args:
        eps_g: noise scale (paper: 0.1).
        sign: see :func:`gradcam_scores`.
        gather_distributed: under ``torch.distributed``, draw the noise of the whole global
            batch on rank 0 and give each process its rows
            (:func:`~saliencyaug.distributed.randn_global`), so that the draws do not depend
            on the number of processes; every process must call it. No effect in one process.

    Examples:
        >>> noise = GradCAMPerturber(0.1).noise(torch.tensor([[0.0, 1.0, 0.5]]))
        >>> float(noise[0, 1]) == 0.0  # the most salient dimension is left alone
        True
    """

    def __init__(
        self, eps_g: float = 0.1, *, sign: ScoreSign = "score", gather_distributed: bool = False
    ) -> None:
        super().__init__()
        self.eps_g = _checks.positive("eps_g", eps_g, allow_zero=True)
        self.sign: ScoreSign = _checks.choice("sign", sign, ("loss", "score"))
        self.gather_distributed = _checks.boolean("gather_distributed", gather_distributed)

    def std(self, eta: torch.Tensor) -> torch.Tensor:
        """Per-dimension standard deviation ``eps_g * (1 - minmax(eta))``."""
        return self.eps_g * (1.0 - minmax_normalize(eta))

    def noise(self, eta: torch.Tensor) -> torch.Tensor:
        """Gaussian noise for scores ``eta`` (torch RNG)."""
        return _standard_normal(eta, self.gather_distributed) * self.std(eta)

    def forward(
        self,
        v: torch.Tensor,
        v_aug: torch.Tensor,
        projector: nn.Module,
        contrastive: ContrastiveFn = default_contrastive,
    ) -> torch.Tensor:
        """Noise for ``v`` (``(B, n)``), from its Grad-CAM scores."""
        return self.noise(
            gradcam_scores(v, v_aug, projector, contrastive=contrastive, sign=self.sign)
        )


def _standard_normal(like: torch.Tensor, gather_distributed: bool) -> torch.Tensor:
    return randn_global(like) if gather_distributed else torch.randn_like(like)


def variance_scores(memory: torch.Tensor, *, axis: Axis = "column") -> torch.Tensor:
    """Per-dimension variance ``s`` (population variance, as numpy's ``var``) of a bank.

    With ``axis="column"`` (the paper) each column of D entries is l2-normalised first, so every
    ``s_i <= 1 / D``: the statistic is scale-free, a squared coefficient of variation of the
    dimension over the bank, ``s_i = (1 - 1 / (1 + cv_i^2)) / D``, and ranks dimensions by how
    much they vary relative to their magnitude, not by their raw variance.

    Args:
        memory: ``(D, n)`` stored vectors.
        axis: l2-normalise each ``"column"`` (the paper), each ``"row"``, or ``"none"``.

    Returns:
        ``(n,)``.

    Raises:
        ValueError: fewer than 2 stored vectors or a bad axis.
    """
    axis = _checks.choice("axis", axis, ("column", "row", "none"))
    _checks.float_tensor("memory", memory, 2, "(D, n)")
    if memory.shape[0] < 2:
        raise ValueError(
            f"the bank needs at least 2 vectors to estimate variance, got {tuple(memory.shape)}"
        )
    if axis == "column":
        m = nn.functional.normalize(memory, dim=0)
    elif axis == "row":
        m = nn.functional.normalize(memory, dim=1)
    else:
        m = memory
    return m.var(dim=0, unbiased=False)


class VariancePerturber(nn.Module):
    """Noise for low-variance dimensions, from a feature bank (Eq. 6).

    Args:
        eps_var: noise scale (paper: 0.05).
        kappa: variance threshold (paper: 0.02).
        axis: normalisation axis of :func:`variance_scores`.
        gather_distributed: draw the global batch's noise on rank 0, as in
            :class:`GradCAMPerturber`.
    """

    def __init__(
        self,
        eps_var: float = 0.05,
        kappa: float = 0.02,
        *,
        axis: Axis = "column",
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        self.eps_var = _checks.positive("eps_var", eps_var, allow_zero=True)
        self.kappa = _checks.positive("kappa", kappa, allow_zero=True)  # 0: no dimension
        self.axis: Axis = _checks.choice("axis", axis, ("column", "row", "none"))
        self.gather_distributed = _checks.boolean("gather_distributed", gather_distributed)

    def std(self, s: torch.Tensor) -> torch.Tensor:
        """``(n,)`` standard deviations: ``eps_var * (1 - s_bar)`` where ``s < kappa``, else 0."""
        s_bar = minmax_normalize(s.view(1, -1))[0]
        return torch.where(s < self.kappa, self.eps_var * (1.0 - s_bar), torch.zeros_like(s))

    def forward(self, v: torch.Tensor, bank: MemoryQueue) -> torch.Tensor:
        """Noise for ``(B, n)`` features from the bank's current variance (torch RNG)."""
        std = self.std(variance_scores(bank.features(), axis=self.axis))
        return _standard_normal(v, self.gather_distributed) * std.to(v.dtype).view(1, -1)


__all__ = [
    "Axis",
    "GradCAMPerturber",
    "ScoreSign",
    "VariancePerturber",
    "default_contrastive",
    "gradcam_scores",
    "minmax_normalize",
    "variance_scores",
]
