"""The decoder-pair objective of learning from synthesized pairs (second paper, Eqs. 2-8).

The method adds two terms to a loop's own contrastive loss ``L_C`` (MoCo v2, SimSiam, BYOL...):
``L = L_C + alpha * L_R + nu * L_Cp`` with

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
from functools import partial
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from saliencyaug import _checks
from saliencyaug.losses.contrastive import info_nce, nt_xent
from saliencyaug.memory import MemoryQueue
from saliencyaug.models.batchnorm import frozen_batchnorm_statistics
from saliencyaug.synthesized.perturb import (
    Axis,
    ContrastiveFn,
    GradCAMPerturber,
    ScoreSign,
    VariancePerturber,
)


class DecoderPairParts(NamedTuple):
    """``loss = alpha * reconstruction + nu * pair`` (add it to your ``L_C``), its terms, and
    the generated images (detached, for pictures)."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    pair: torch.Tensor
    reconstructed: torch.Tensor
    perturbed: torch.Tensor


def _pooled(out: Any, name: str) -> torch.Tensor:
    pooled = getattr(out, "pooled", out)
    if not isinstance(pooled, torch.Tensor) or pooled.ndim != 2:
        raise ValueError(f"the {name} must return (B, n) features or an object with .pooled")
    return pooled


class DecoderPairObjective(nn.Module):
    """The decoder-pair objective for any contrastive loop.

    It owns the feature bank and the perturbers (buffers, saved in ``state_dict``); the
    networks are passed at each call, so that a trainer can keep them DDP-wrapped.

    Args:
        feature_dim: encoder feature dimension ``n`` (for the bank).
        bank_size: feature-bank size D (paper: 5632).
        alpha: weight of ``L_R`` (paper: 1).
        nu: weight of ``L_Cp`` (paper: 0.5).
        eps_g: Grad-CAM noise scale (paper: 0.1; 0 disables).
        eps_var: variance noise scale (paper: 0.05; 0 disables).
        kappa: variance threshold (paper: 0.02).
        variance_axis: normalisation axis of the bank's variance (``"column"``, the paper).
        sign: Grad-CAM gradient sign (see :func:`~saliencyaug.synthesized.gradcam_scores`);
            default ``"score"``, the paper's prose (protect the dimensions that lower the loss).
        temperature: temperature of ``L_Cp`` (0.2).
        decoupled: leave the positive out of ``L_Cp``'s denominator, as Eq. 7 is printed
            (default False: the standard NT-Xent, see ``docs/method.md``).
        generated_statistics: let the BatchNorm running statistics of the encoder and
            projector update on the generated images too. Default False: their pass over
            generated images uses batch statistics but leaves the running ones (used at
            evaluation) to real images; the encoder must then be a module, or a bound method
            of one, so that its BatchNorm layers can be found.
        detach_generated: feed the generated images to the encoder detached (default).
        mean: the per-channel normalisation mean of the encoder's inputs; the decoder works
            in [0, 1] image space, so its output is normalised with ``mean`` and ``std``
            before the encoder sees it and the clean batch is de-normalised for ``L_R``.
            ``None``: inputs are in [0, 1].
        std: the per-channel normalisation standard deviation (with ``mean``).
        score_contrastive: the loss used for the Grad-CAM scores (default: InfoNCE with
            temperature 0.2, the other images of the global batch as negatives).
        gather_distributed: under ``torch.distributed`` (default on), the pair term and the
            default Grad-CAM score contrast each image with the generated images of every
            process, and the noise is drawn for the global batch: the objective is the same at
            any number of processes (see ``docs/synthesized.md``); every process must call
            it. No effect in one process.

    Examples:
        >>> from saliencyaug.synthesized import FeatureDecoder
        >>> enc = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        >>> proj, dec = nn.Linear(8, 4), FeatureDecoder(8, 16)
        >>> pairs = DecoderPairObjective(feature_dim=8, bank_size=16)
        >>> x = torch.rand(4, 3, 16, 16)
        >>> l_c = torch.tensor(1.0)                     # your method's own contrastive loss
        >>> parts = pairs(encoder=enc, projector=proj, decoder=dec, images=x,
        ...               augmented_features=enc(x.flip(-1)))
        >>> bool(torch.isfinite(l_c + parts.loss))
        True
    """

    mean: torch.Tensor | None
    std: torch.Tensor | None

    def __init__(
        self,
        feature_dim: int,
        *,
        bank_size: int = 5632,
        alpha: float = 1.0,
        nu: float = 0.5,
        eps_g: float = 0.1,
        eps_var: float = 0.05,
        kappa: float = 0.02,
        variance_axis: Axis = "column",
        sign: ScoreSign = "score",
        temperature: float = 0.2,
        decoupled: bool = False,
        generated_statistics: bool = False,
        detach_generated: bool = True,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        score_contrastive: ContrastiveFn | None = None,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__()
        self.alpha = _checks.positive("alpha", alpha, allow_zero=True)
        self.nu = _checks.positive("nu", nu, allow_zero=True)
        self.temperature = _checks.positive("temperature", temperature)
        self.decoupled = _checks.boolean("decoupled", decoupled)
        self.generated_statistics = _checks.boolean("generated_statistics", generated_statistics)
        self.detach_generated = _checks.boolean("detach_generated", detach_generated)
        self.gather_distributed = _checks.boolean("gather_distributed", gather_distributed)
        if score_contrastive is None:
            score_contrastive = partial(
                info_nce, temperature=0.2, gather_distributed=self.gather_distributed
            )
        self.score_contrastive = _checks.callable_("score_contrastive", score_contrastive)
        feature_dim = _checks.integer("feature_dim", feature_dim, minimum=1)
        bank_size = _checks.integer("bank_size", bank_size, minimum=1)
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together")
        self.bank = MemoryQueue(feature_dim, bank_size)
        self.gradcam = GradCAMPerturber(
            eps_g, sign=sign, gather_distributed=self.gather_distributed
        )
        self.variance = VariancePerturber(
            eps_var, kappa, axis=variance_axis, gather_distributed=self.gather_distributed
        )
        self.register_buffer("mean", None if mean is None else self._channels("mean", mean))
        self.register_buffer("std", None if std is None else self._channels("std", std))
        if self.std is not None and bool((self.std <= 0).any()):
            raise ValueError(f"std must be positive, got {list(std or ())}")

    @staticmethod
    def _channels(name: str, values: Sequence[float]) -> torch.Tensor:
        return torch.tensor(
            [_checks.real(f"{name}[{i}]", v) for i, v in enumerate(values)], dtype=torch.float32
        ).view(1, -1, 1, 1)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder-input images to [0, 1] image space."""
        if self.mean is None or self.std is None:
            return x
        return x * self.std + self.mean

    def to_input(self, x01: torch.Tensor) -> torch.Tensor:
        """[0, 1] images to the encoder's input normalisation."""
        if self.mean is None or self.std is None:
            return x01
        return (x01 - self.mean) / self.std

    def noise(
        self, v: torch.Tensor, augmented_features: torch.Tensor | None, projector: nn.Module
    ) -> torch.Tensor:
        """``noise_g + noise_var`` for ``v`` (``v`` is added to the bank first)."""
        noise = torch.zeros_like(v)
        if self.gradcam.eps_g > 0:
            if augmented_features is None:
                raise ValueError(
                    "augmented_features (features of an augmented view) are needed for the "
                    "Grad-CAM noise; pass them or set eps_g=0"
                )
            noise = noise + self.gradcam(
                v, augmented_features.detach(), projector, self.score_contrastive
            )
        self.bank.add(v.detach())
        if self.variance.eps_var > 0 and len(self.bank) >= 2:
            noise = noise + self.variance(v.detach(), self.bank)
        return noise.detach()

    def forward(
        self,
        *,
        encoder: Callable[[torch.Tensor], Any],
        projector: nn.Module,
        decoder: nn.Module,
        images: torch.Tensor,
        augmented_features: torch.Tensor | None,
    ) -> DecoderPairParts:
        """Compute ``alpha L_R + nu L_Cp`` and its parts.

        Args:
            encoder: images -> ``(B, n)`` features (or an object with ``.pooled``): a module
                such as a :class:`~saliencyaug.models.ResNetBackbone` (or a bound method of
                one); any callable when ``generated_statistics=True``.
            projector: the projection head ``g``.
            decoder: the decoder ``h_d`` (a :class:`~saliencyaug.synthesized.FeatureDecoder`,
                images in [0, 1]).
            images: the clean, non-augmented batch ``(B, 3, H, W)`` in the encoder's input
                space.
            augmented_features: ``(B, n)`` encoder features of an augmented view of the same
                images (the loop's online features of view 1 do), for the Grad-CAM scores.
        """
        _checks.float_tensor("images", images, 4, "(B, 3, H, W)")
        for name, net in (("encoder", encoder), ("decoder", decoder)):
            _checks.callable_(name, net)
        if not isinstance(projector, nn.Module) or not isinstance(decoder, nn.Module):
            raise TypeError("projector and decoder must be torch.nn.Module instances")
        owner = getattr(encoder, "__self__", None)  # a bound method's module
        encoder_module = encoder if isinstance(encoder, nn.Module) else None
        if encoder_module is None and isinstance(owner, nn.Module):
            encoder_module = owner
        if encoder_module is None and not self.generated_statistics:
            raise TypeError(
                "encoder must be a torch.nn.Module (or a bound method of one) so that its "
                "BatchNorm statistics can be kept to real images; got "
                f"{type(encoder).__name__}. Pass the module itself (an output with .pooled is "
                "read), or build the objective with generated_statistics=True"
            )
        if augmented_features is not None:
            _checks.float_tensor("augmented_features", augmented_features, 2, "(B, n)")
            _checks.same_batch(("images", "augmented_features"), (images, augmented_features))
        first = next(decoder.parameters(), None)
        wanted = first.dtype if first is not None else images.dtype
        if images.dtype != wanted and not torch.is_autocast_enabled():
            raise TypeError(
                f"images has dtype {images.dtype} but the networks' parameters are {wanted}; "
                "cast the images or run under torch.autocast"
            )
        if images.shape[0] < 2 and self.nu > 0:
            raise ValueError(
                "the pair term contrasts the generated images of a batch, so it needs a batch "
                f"of at least 2, got {images.shape[0]}"
            )
        v = _pooled(encoder(images), "encoder")
        if augmented_features is not None and augmented_features.shape != v.shape:
            raise ValueError(
                f"augmented_features must have the encoder's shape {tuple(v.shape)}, got "
                f"{tuple(augmented_features.shape)}"
            )
        x_hat = decoder(v)
        target = F.interpolate(
            self.to_unit(images),
            size=x_hat.shape[-2:],
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )
        reconstruction = F.mse_loss(x_hat, target.to(x_hat.dtype))
        v_p = v + self.noise(v, augmented_features, projector)
        x_hat_p = decoder(v_p)
        gen, gen_p = (
            (x_hat.detach(), x_hat_p.detach()) if self.detach_generated else (x_hat, x_hat_p)
        )
        held = () if self.generated_statistics else (encoder_module, projector)
        with frozen_batchnorm_statistics(*[m for m in held if m is not None]):
            generated = self.to_input(torch.cat([gen, gen_p]))
            z_all = projector(_pooled(encoder(generated), "encoder"))
        b = images.shape[0]
        pair = nt_xent(
            z_all[:b],
            z_all[b:],
            temperature=self.temperature,
            decoupled=self.decoupled,
            gather_distributed=self.gather_distributed,
        )
        loss = self.alpha * reconstruction + self.nu * pair
        checks = _checks.deferred()
        if checks is not None:
            checks.record(
                "the decoder-pair loss",
                torch.isfinite(loss.detach()),
                "is not finite for these images and augmented_features; check their scale and "
                "the networks",
            )
        elif not torch.compiler.is_compiling() and not bool(torch.isfinite(loss)):
            raise ValueError(
                "the decoder-pair loss is not finite for these images and augmented_features "
                f"(reconstruction {float(reconstruction.detach())}, pair {float(pair.detach())}); "
                "check their "
                "scale and the networks"
            )
        return DecoderPairParts(loss, reconstruction, pair, x_hat.detach(), x_hat_p.detach())


__all__ = ["DecoderPairObjective", "DecoderPairParts"]
