"""Grad-CAM scores of feature dimensions under the contrastive loss, and the noise they set.

Second paper, section 3.3: ``eta_i = ReLU(dL_C / dv_i * v_i)`` for the pooled feature
``v = f(x)`` under the contrastive loss of ``x`` and an augmented view ``x''`` (Eq. 3);
``eta_bar`` = per-sample min-max normalisation (Eq. 4); noise
``N(0, std = eps_g * (1 - eta_bar_i))`` (Eq. 5; SPEC.md reads the second argument as the
standard deviation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

ScoreSign = Literal["loss", "score"]


def minmax_normalize(x: torch.Tensor) -> torch.Tensor:
    """Per-row min-max normalisation of ``(B, n)`` to [0, 1]; a constant row becomes 0.

    Example:
        >>> minmax_normalize(torch.tensor([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0]]))
        tensor([[0.0000, 1.0000, 0.5000],
                [0.0000, 0.0000, 0.0000]])
    """
    lo = x.amin(dim=1, keepdim=True)
    span = x.amax(dim=1, keepdim=True) - lo
    return torch.where(
        span > 0, (x - lo) / torch.where(span > 0, span, torch.ones_like(span)), torch.zeros_like(x)
    )


def default_contrastive(z: torch.Tensor, z_aug: torch.Tensor) -> torch.Tensor:
    """InfoNCE of ``z`` against ``z_aug`` with in-batch negatives, temperature 0.2."""
    # imported here: saliencyaug.losses imports this package (the decoder-pair loss)
    from saliencyaug.losses.functional import info_nce

    return info_nce(z, z_aug, None, 0.2)


def gradcam_scores(
    v: torch.Tensor,
    v_aug: torch.Tensor,
    projector: nn.Module,
    contrastive: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = default_contrastive,
    sign: ScoreSign = "loss",
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
        sign: ``"loss"`` (``dL/dv * v``, as the paper writes) or ``"score"`` (the negated
            gradient, as Grad-CAM takes the gradient of a score).

    Returns:
        ``(B, n)`` non-negative scores.
    """
    if sign not in ("loss", "score"):
        raise ValueError(f"sign must be 'loss' or 'score', got {sign!r}")
    if v.ndim != 2 or v.shape != v_aug.shape:
        raise ValueError(
            f"v and v_aug must be (B, n) of the same shape, got {tuple(v.shape)} "
            f"and {tuple(v_aug.shape)}"
        )
    leaf = v.detach().clone().requires_grad_(True)
    params = dict(projector.named_parameters())
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

    Example:
        >>> noise = GradCAMPerturber(0.1).noise(torch.tensor([[0.0, 1.0, 0.5]]))
        >>> float(noise[0, 1]) == 0.0  # the most salient dimension is left alone
        True
    """

    def __init__(self, eps_g: float = 0.1, sign: ScoreSign = "loss") -> None:
        super().__init__()
        if eps_g < 0:
            raise ValueError(f"eps_g must be non-negative, got {eps_g!r}")
        if sign not in ("loss", "score"):
            raise ValueError(f"sign must be 'loss' or 'score', got {sign!r}")
        self.eps_g = eps_g
        self.sign = sign

    def std(self, eta: torch.Tensor) -> torch.Tensor:
        """Per-dimension standard deviation ``eps_g * (1 - minmax(eta))``."""
        return self.eps_g * (1.0 - minmax_normalize(eta))

    def noise(self, eta: torch.Tensor) -> torch.Tensor:
        """Gaussian noise for scores ``eta`` (torch RNG)."""
        return torch.randn_like(eta) * self.std(eta)

    def forward(
        self,
        v: torch.Tensor,
        v_aug: torch.Tensor,
        projector: nn.Module,
        contrastive: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = default_contrastive,
    ) -> torch.Tensor:
        """Noise for ``v`` (``(B, n)``), from its Grad-CAM scores."""
        return self.noise(gradcam_scores(v, v_aug, projector, contrastive, self.sign))
