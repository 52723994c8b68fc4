"""The decoder-pair objective: L = L_C + alpha L_R + nu L_Cp."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from saliencyaug.losses import nt_xent
from saliencyaug.synthesized import DecoderPairObjective, DecoderPairParts, FeatureDecoder


def run(
    objective: DecoderPairObjective,
    encoder: nn.Module,
    projector: nn.Module,
    decoder: nn.Module,
    images: torch.Tensor,
    v_aug: torch.Tensor | None,
) -> DecoderPairParts:
    return objective(
        encoder=encoder,
        projector=projector,
        decoder=decoder,
        images=images,
        augmented_features=v_aug,
    )


def parts_models() -> tuple[nn.Module, nn.Module, FeatureDecoder]:
    torch.manual_seed(0)
    encoder = nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )
    projector = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    return encoder, projector, FeatureDecoder(8, 16, base_channels=16)


def test_nt_xent_equals_a_manual_loop() -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = (
        torch.randn(3, 5, generator=g, dtype=torch.float64),
        torch.randn(3, 5, generator=g, dtype=torch.float64),
    )
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    losses, decoupled = [], []
    for i in range(6):
        j = (i + 3) % 6
        logits = torch.stack([z[i] @ z[k] / 0.2 for k in range(6) if k != i])
        pos = z[i] @ z[j] / 0.2
        losses.append(torch.logsumexp(logits, 0) - pos)
        neg = torch.stack([z[i] @ z[k] / 0.2 for k in range(6) if k not in (i, j)])
        decoupled.append(torch.logsumexp(neg, 0) - pos)
    torch.testing.assert_close(nt_xent(z1, z2, temperature=0.2), torch.stack(losses).mean())
    torch.testing.assert_close(
        nt_xent(z1, z2, temperature=0.2, decoupled=True), torch.stack(decoupled).mean()
    )


def test_parts_match_separate_computations() -> None:
    encoder, projector, decoder = parts_models()
    x = torch.rand(4, 3, 16, 16)
    v_aug = encoder(torch.rand(4, 3, 16, 16)).detach()
    l_c = torch.tensor(0.7)
    loss = DecoderPairObjective(feature_dim=8, bank_size=32, alpha=0.3, nu=0.6)
    torch.manual_seed(11)
    parts = run(loss, encoder, projector, decoder, x, v_aug)
    # the same steps by hand, with the same random draws
    v = encoder(x)
    x_hat = decoder(v)
    torch.testing.assert_close(parts.reconstruction, F.mse_loss(x_hat, x))
    torch.testing.assert_close(parts.reconstructed, x_hat.detach())
    z = projector(encoder(torch.cat([parts.reconstructed, parts.perturbed])))
    torch.testing.assert_close(parts.pair, nt_xent(z[:4], z[4:], temperature=0.2))
    total = l_c + parts.loss  # Eq. 8: the loop adds the objective's terms to its own L_C
    torch.testing.assert_close(total, l_c + 0.3 * parts.reconstruction + 0.6 * parts.pair)
    assert len(loss.bank) == 4 and not torch.equal(parts.perturbed, parts.reconstructed)


def _grad_norm(module: nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def test_gradients_reach_the_encoder_through_both_terms_not_through_detached_images() -> None:
    encoder, projector, decoder = parts_models()
    x = torch.rand(4, 3, 16, 16)
    v_aug = encoder(torch.rand(4, 3, 16, 16)).detach()
    loss = DecoderPairObjective(feature_dim=8, bank_size=32)

    def grads(term: str, detach: bool) -> tuple[float, float, float]:
        for m in (encoder, projector, decoder):
            m.zero_grad(set_to_none=True)
        loss.detach_generated = detach
        torch.manual_seed(3)
        parts = run(loss, encoder, projector, decoder, x, v_aug)
        getattr(parts, term).backward()
        return _grad_norm(encoder), _grad_norm(projector), _grad_norm(decoder)

    enc, proj, dec = grads("reconstruction", True)
    assert enc > 0 and dec > 0 and proj == 0  # L_R trains encoder and decoder
    enc, proj, dec = grads("pair", True)
    assert enc > 0 and proj > 0 and dec == 0  # detached images: no gradient into the decoder
    enc, proj, dec = grads("pair", False)
    assert dec > 0  # without detaching, L_Cp reaches the decoder too


def test_options() -> None:
    encoder, projector, decoder = parts_models()
    loss = DecoderPairObjective(8, bank_size=16, eps_g=0.0)
    x = torch.rand(2, 3, 16, 16)
    parts = run(loss, encoder, projector, decoder, x, None)
    assert len(loss.bank) == 2 and torch.isfinite(parts.loss)
    # no perturbation at all: the pair is two identical reconstructions
    loss = DecoderPairObjective(8, bank_size=16, eps_g=0.0, eps_var=0.0)
    parts = run(loss, encoder, projector, decoder, x, None)
    torch.testing.assert_close(parts.perturbed, parts.reconstructed)


def test_normalised_inputs_round_trip() -> None:
    encoder, projector, decoder = parts_models()
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    loss = DecoderPairObjective(8, bank_size=16, mean=mean, std=std)
    x01 = torch.rand(2, 3, 16, 16)
    xn = loss.to_input(x01)
    torch.testing.assert_close(loss.to_unit(xn), x01)
    torch.manual_seed(0)
    parts = run(loss, encoder, projector, decoder, xn, encoder(xn).detach())
    torch.testing.assert_close(parts.reconstruction, F.mse_loss(decoder(encoder(xn)), x01))


def test_generated_images_leave_batchnorm_running_statistics_to_real_images() -> None:
    torch.manual_seed(0)
    encoder = nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1)
    )
    encoder.append(nn.Flatten())
    projector = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
    decoder = FeatureDecoder(8, 16, base_channels=16)
    images = torch.rand(6, 3, 16, 16)
    v_aug = encoder(images.flip(-1)).detach()
    reference_encoder = copy.deepcopy(encoder)
    start = {k: v.clone() for k, v in encoder.state_dict().items()}
    projector_start = {k: v.clone() for k, v in projector.state_dict().items()}
    run(DecoderPairObjective(8, bank_size=8), encoder, projector, decoder, images, v_aug)
    # The only real-image pass inside the objective is the encoder on the clean batch, which
    # a BatchNorm step from the starting statistics reproduces; the projector sees no real batch.
    reference_encoder.load_state_dict(start)
    reference_encoder(images)
    for key, value in reference_encoder.state_dict().items():
        torch.testing.assert_close(encoder.state_dict()[key], value, rtol=0, atol=0)
    for key, value in projector_start.items():
        torch.testing.assert_close(projector.state_dict()[key], value, rtol=0, atol=0)
    # Opting in lets the generated batch move them.
    encoder.load_state_dict(start)
    opted = DecoderPairObjective(8, bank_size=8, generated_statistics=True)
    run(opted, encoder, projector, decoder, images, v_aug)
    assert not torch.equal(encoder[1].running_mean, reference_encoder[1].running_mean)


def test_plain_function_encoders_are_refused_unless_statistics_may_move() -> None:
    encoder, projector, decoder = parts_models()
    images = torch.rand(4, 3, 16, 16)

    def features(x: torch.Tensor) -> torch.Tensor:
        return encoder(x)

    with pytest.raises(TypeError, match="generated_statistics=True"):
        run(DecoderPairObjective(8, bank_size=8), features, projector, decoder, images, None)  # type: ignore[arg-type]
    parts = run(
        DecoderPairObjective(8, bank_size=8, generated_statistics=True),
        features,  # type: ignore[arg-type]
        projector,
        decoder,
        images,
        encoder(images.flip(-1)).detach(),
    )
    assert torch.isfinite(parts.loss)
