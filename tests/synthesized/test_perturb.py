"""Grad-CAM and variance perturbers and the feature bank (second paper, section 3.3-3.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from saliencyaug.losses import info_nce
from saliencyaug.memory import MemoryQueue
from saliencyaug.synthesized import (
    GradCAMPerturber,
    VariancePerturber,
    gradcam_scores,
    minmax_normalize,
    variance_scores,
)


def tiny_projector() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).double()


def test_scores_equal_finite_differences() -> None:
    proj = tiny_projector().eval()  # eval: the finite differences see the same network
    g = torch.Generator().manual_seed(1)
    v = torch.randn(4, 5, generator=g, dtype=torch.float64)
    v_aug = torch.randn(4, 5, generator=g, dtype=torch.float64)

    def loss_of(vv: torch.Tensor) -> float:
        with torch.no_grad():
            return float(info_nce(proj(vv), proj(v_aug), temperature=0.2))

    grad = torch.zeros_like(v)
    h = 1e-6
    for n in range(4):
        for i in range(5):
            e = torch.zeros_like(v)
            e[n, i] = h
            grad[n, i] = (loss_of(v + e) - loss_of(v - e)) / (2 * h)
    eta = gradcam_scores(v, v_aug, proj, sign="loss")
    torch.testing.assert_close(eta, torch.relu(grad * v), atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(
        gradcam_scores(v, v_aug, proj), torch.relu(-grad * v), atol=1e-7, rtol=1e-5
    )
    assert not eta.requires_grad


def test_scores_leave_parameters_mode_and_statistics_alone() -> None:
    proj = tiny_projector().train()
    w = proj[0].weight
    w.grad = torch.full_like(w, 7.0)
    stats_before = proj[1].running_mean.clone()
    batches = int(proj[1].num_batches_tracked)
    v = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    eta = gradcam_scores(v, torch.randn(6, 5, dtype=torch.float64), proj)
    assert eta.shape == (6, 5) and (eta >= 0).all()
    assert torch.equal(w.grad, torch.full_like(w, 7.0))  # parameter .grad untouched
    assert all(p.grad is None for p in list(proj.parameters())[1:])
    assert proj.training and proj[1].training
    assert (
        torch.equal(proj[1].running_mean, stats_before)
        and int(proj[1].num_batches_tracked) == batches
    )
    assert v.grad is None  # no backward into the caller's graph


def test_minmax_of_a_constant_vector_is_zero_noise_scale() -> None:
    eta = torch.tensor([[2.0, 2.0, 2.0], [0.0, 1.0, 3.0]])
    norm = minmax_normalize(eta)
    assert torch.equal(norm[0], torch.zeros(3)) and torch.isfinite(norm).all()
    torch.testing.assert_close(norm[1], torch.tensor([0.0, 1 / 3, 1.0]))
    std = GradCAMPerturber(0.1).std(eta)
    torch.testing.assert_close(std[0], torch.full((3,), 0.1))  # constant scores: eta_bar = 0
    torch.testing.assert_close(std[1], 0.1 * (1 - torch.tensor([0.0, 1 / 3, 1.0])))


def test_gradcam_noise_statistics() -> None:
    torch.manual_seed(0)
    eta = torch.tensor([[0.0, 0.5, 2.0, 1.0]]).expand(20000, 4).contiguous()
    noise = GradCAMPerturber(0.1).noise(eta)
    want = 0.1 * (1 - torch.tensor([0.0, 0.25, 1.0, 0.5]))
    got = noise.std(dim=0)
    n = noise.shape[0]
    tol = 5 * want / np.sqrt(2 * n)  # std of a sample std is about sigma / sqrt(2n)
    assert (got - want).abs().le(tol + 1e-12).all(), (got, want)
    assert torch.equal(noise[:, 2], torch.zeros(n))  # the top dimension gets exactly zero


def test_variance_scores_equal_numpy() -> None:
    rng = np.random.default_rng(0)
    m = rng.normal(size=(50, 7)) * np.arange(1, 8)
    col = m / np.linalg.norm(m, axis=0, keepdims=True)
    row = m / np.linalg.norm(m, axis=1, keepdims=True)
    t = torch.from_numpy(m)
    np.testing.assert_allclose(
        variance_scores(t, axis="column").numpy(), col.var(axis=0), rtol=1e-12
    )
    np.testing.assert_allclose(variance_scores(t, axis="row").numpy(), row.var(axis=0), rtol=1e-12)
    np.testing.assert_allclose(variance_scores(t, axis="none").numpy(), m.var(axis=0), rtol=1e-12)
    # column normalisation bounds every variance by 1/D (docs/method.md, section 5)
    assert (variance_scores(t, axis="column") <= 1 / 50 + 1e-12).all()
    with pytest.raises(ValueError, match="at least 2"):
        variance_scores(t[:1])


def test_variance_noise_statistics_and_undisturbed_dimensions() -> None:
    torch.manual_seed(1)
    bank = MemoryQueue(dim=4, size=400)
    bank.add(torch.randn(400, 4) * torch.tensor([0.01, 0.1, 1.0, 3.0]))
    pert = VariancePerturber(eps_var=0.05, kappa=0.5, axis="none")
    s = variance_scores(bank.features(), axis="none")
    assert (s[:2] < 0.5).all() and (s[2:] >= 0.5).all()
    noise = pert(torch.zeros(20000, 4), bank)
    assert torch.equal(noise[:, 2:], torch.zeros(20000, 2))  # at or above kappa: exactly zero
    s_bar = (s - s.min()) / (s.max() - s.min())
    want = 0.05 * (1 - s_bar[:2])
    got = noise[:, :2].std(dim=0)
    assert ((got - want).abs() <= 5 * want / np.sqrt(2 * 20000)).all(), (got, want)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sign"):
        GradCAMPerturber(sign="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eps_var"):
        VariancePerturber(eps_var=-1)
    with pytest.raises(ValueError, match="axis"):
        VariancePerturber(axis="diag")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same shape"):
        gradcam_scores(torch.randn(2, 5), torch.randn(3, 5), tiny_projector().float())
