"""Learning from synthesized pairs: the decoder-pair objective (second paper, Eq. 2-8).

``L = L_C + alpha * L_R + nu * L_Cp`` with

* ``L_C`` the method's own contrastive loss (MoCo v2, SimSiam, BYOL...), computed by the
  caller's loop and passed in;
* ``L_R = MSE(x, x_hat)`` (Eq. 2), ``x_hat = h_d(f(x))`` from the clean, non-augmented images
  (trains decoder and encoder);
* ``L_Cp`` = InfoNCE (temperature 0.2) between ``g(f(x_hat))`` and ``g(f(x_hat_p))`` with the
  rest of the generated batch as negatives (Eq. 7), ``x_hat_p = h_d(v_p)``,
  ``v_p = v + noise_g + noise_var``; generated images are detached by default, so ``L_Cp``
  trains the encoder and projector through their pass over the generated images only.

Defaults from the paper: alpha = 1, nu = 0.5, eps_g = 0.1, eps_var = 0.05, kappa = 0.02,
D = 5632.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from saliencyaug.losses.functional import nt_xent
from saliencyaug.perturb import FeatureBank, GradCAMPerturber, VariancePerturber
from saliencyaug.perturb.gradcam import default_contrastive


class SynthesizedPairParts(NamedTuple):
    """The total objective, its three terms, and the generated images (for pictures)."""

    total: torch.Tensor
    contrastive: torch.Tensor
    reconstruction: torch.Tensor
    pair: torch.Tensor
    reconstructed: torch.Tensor
    perturbed: torch.Tensor


def _pooled(out: Any) -> torch.Tensor:
    pooled = getattr(out, "pooled", out)
    if not isinstance(pooled, torch.Tensor) or pooled.ndim != 2:
        raise ValueError("the encoder must return (B, n) features or an object with .pooled")
    return pooled


class DecoderPairLoss(nn.Module):
    """The decoder-pair objective for any contrastive loop.

    Args:
        feature_dim: encoder feature dimension ``n`` (for the bank).
        bank_size: feature-bank size D (paper: 5632).
        alpha: weight of ``L_R`` (paper: 1).
        nu: weight of ``L_Cp`` (paper: 0.5).
        eps_g: Grad-CAM noise scale (paper: 0.1; 0 disables).
        eps_var: variance noise scale (paper: 0.05; 0 disables).
        kappa: variance threshold (paper: 0.02).
        variance_axis: normalisation axis of the bank's variance (``"column"``, the paper).
        sign: Grad-CAM gradient sign, ``"loss"`` (paper) or ``"score"``.
        temperature: temperature of ``L_Cp`` (0.2).
        detach_generated: feed the generated images to the encoder detached (default).
        mean, std: the normalisation of the encoder's inputs; the decoder works in [0, 1]
            image space, so its output is normalised with these before the encoder sees it and
            the clean batch is de-normalised for ``L_R``. ``None``: inputs are in [0, 1].
        score_contrastive: the loss used for Grad-CAM scores (default: InfoNCE, in-batch).

    Example:
        >>> import torch
        >>> from saliencyaug.models import FeatureDecoder
        >>> nn = torch.nn
        >>> enc = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        >>> proj, dec = torch.nn.Linear(8, 4), FeatureDecoder(8, 16)
        >>> loss = DecoderPairLoss(feature_dim=8, bank_size=16)
        >>> x = torch.rand(4, 3, 16, 16)
        >>> parts = loss(enc, proj, dec, x, v_aug=enc(x), contrastive_loss=torch.tensor(1.0))
        >>> bool(torch.isfinite(parts.total))
        True
    """

    def __init__(
        self,
        feature_dim: int,
        bank_size: int = 5632,
        alpha: float = 1.0,
        nu: float = 0.5,
        eps_g: float = 0.1,
        eps_var: float = 0.05,
        kappa: float = 0.02,
        variance_axis: str = "column",
        sign: str = "loss",
        temperature: float = 0.2,
        detach_generated: bool = True,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        score_contrastive: Callable[
            [torch.Tensor, torch.Tensor], torch.Tensor
        ] = default_contrastive,
    ) -> None:
        super().__init__()
        if alpha < 0 or nu < 0:
            raise ValueError(f"alpha and nu must be non-negative, got {alpha}, {nu}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together")
        self.bank = FeatureBank(feature_dim, bank_size)
        self.gradcam = GradCAMPerturber(eps_g, sign)  # type: ignore[arg-type]
        self.variance = VariancePerturber(eps_var, kappa, variance_axis)  # type: ignore[arg-type]
        self.alpha = alpha
        self.nu = nu
        self.temperature = temperature
        self.detach_generated = detach_generated
        self.score_contrastive = score_contrastive
        self.register_buffer(
            "mean",
            None if mean is None else torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
        )
        self.register_buffer(
            "std", None if std is None else torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        )

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder-input images to [0, 1] image space."""
        return x if self.mean is None else x * self.std + self.mean

    def to_input(self, x01: torch.Tensor) -> torch.Tensor:
        """[0, 1] images to the encoder's input normalisation."""
        return x01 if self.mean is None else (x01 - self.mean) / self.std

    def noise(
        self, v: torch.Tensor, v_aug: torch.Tensor | None, projector: nn.Module
    ) -> torch.Tensor:
        """``noise_g + noise_var`` for ``v`` (adds ``v`` to the bank first)."""
        noise = torch.zeros_like(v)
        if self.gradcam.eps_g > 0:
            if v_aug is None:
                raise ValueError(
                    "v_aug (features of an augmented view) is needed for Grad-CAM noise"
                )
            noise = noise + self.gradcam(v, v_aug, projector, self.score_contrastive)
        self.bank.add(v.detach())
        if self.variance.eps_var > 0 and len(self.bank) >= 2:
            noise = noise + self.variance(v.detach(), self.bank)
        return noise.detach()

    def forward(
        self,
        encoder: Callable[[torch.Tensor], Any],
        projector: nn.Module,
        decoder: nn.Module,
        images: torch.Tensor,
        v_aug: torch.Tensor | None,
        contrastive_loss: torch.Tensor,
    ) -> SynthesizedPairParts:
        """Compute ``L = L_C + alpha L_R + nu L_Cp`` and its parts.

        Args:
            encoder: images -> ``(B, n)`` features (or an object with ``.pooled``).
            projector: the projection head ``g``.
            decoder: a :class:`~saliencyaug.models.FeatureDecoder` (images in [0, 1]).
            images: the clean, non-augmented batch ``(B, 3, H, W)`` in the encoder's input space.
            v_aug: ``(B, n)`` encoder features of an augmented view of the same images (the
                loop's online features of view 1 do), for the Grad-CAM scores.
            contrastive_loss: the loop's own ``L_C`` (scalar).
        """
        if images.ndim != 4:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        v = _pooled(encoder(images))
        x_hat = decoder(v)
        target = F.interpolate(
            self.to_unit(images),
            size=x_hat.shape[-2:],
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )
        reconstruction = F.mse_loss(x_hat, target.to(x_hat.dtype))
        v_p = v + self.noise(v, v_aug, projector)
        x_hat_p = decoder(v_p)
        gen, gen_p = (
            (x_hat.detach(), x_hat_p.detach()) if self.detach_generated else (x_hat, x_hat_p)
        )
        z_all = projector(_pooled(encoder(self.to_input(torch.cat([gen, gen_p])))))
        b = images.shape[0]
        pair = nt_xent(z_all[:b], z_all[b:], self.temperature)
        total = contrastive_loss + self.alpha * reconstruction + self.nu * pair
        return SynthesizedPairParts(
            total, contrastive_loss, reconstruction, pair, x_hat.detach(), x_hat_p.detach()
        )


def decoder_pair_loss(
    encoder: Callable[[torch.Tensor], Any],
    projector: nn.Module,
    decoder: nn.Module,
    images: torch.Tensor,
    v_aug: torch.Tensor | None,
    contrastive_loss: torch.Tensor,
    bank: FeatureBank,
    **options: Any,
) -> SynthesizedPairParts:
    """Functional form of :class:`DecoderPairLoss` with a caller-owned :class:`FeatureBank`
    (``options`` are the module's keyword arguments except ``feature_dim`` and ``bank_size``)."""
    loss = DecoderPairLoss(bank.memory.shape[1], bank.size, **options).to(bank.memory.device)
    loss.bank = bank
    return loss(encoder, projector, decoder, images, v_aug, contrastive_loss)
