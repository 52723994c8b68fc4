"""LARS against its update formula, parameter groups, schedules."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from saliencyaug.training import LARS, cosine_lr, make_optimizer, parameter_groups
from saliencyaug.training.optim import set_learning_rate


def test_lars_follows_byols_update_on_a_hand_made_case() -> None:
    w = nn.Parameter(torch.tensor([3.0, 4.0]))  # ||w|| = 5
    b = nn.Parameter(torch.tensor([1.0]))
    opt = LARS(
        [
            {"params": [w], "weight_decay": 0.1, "adapt": True},
            {"params": [b], "weight_decay": 0.0, "adapt": False},
        ],
        lr=0.5,
        momentum=0.9,
        trust_coefficient=0.01,
    )
    # step 1, by hand: u = g + 0.1 w = [0.3, -1.6]; ||u|| = sqrt(0.09 + 2.56) = 1.62788...
    # ratio = 0.01 * 5 / ||u||; buf = ratio * u; w -= 0.5 * buf
    w.grad, b.grad = torch.tensor([0.0, -2.0]), torch.tensor([4.0])
    opt.step()
    u = [0.3, -1.6]
    ratio = 0.01 * 5 / math.sqrt(0.3**2 + 1.6**2)
    buf = [ratio * u[0], ratio * u[1]]
    expected_w = [3.0 - 0.5 * buf[0], 4.0 - 0.5 * buf[1]]
    torch.testing.assert_close(w.data, torch.tensor(expected_w), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(b.data, torch.tensor([1.0 - 0.5 * 4.0]))  # plain momentum step
    # step 2: momentum buffer carries over
    w.grad, b.grad = torch.tensor([1.0, 0.0]), torch.tensor([-1.0])
    w_now = expected_w
    u2 = [1.0 + 0.1 * w_now[0], 0.1 * w_now[1]]
    ratio2 = 0.01 * math.hypot(*w_now) / math.hypot(*u2)
    buf = [0.9 * buf[i] + ratio2 * u2[i] for i in range(2)]
    opt.step()
    torch.testing.assert_close(
        w.data, torch.tensor([w_now[i] - 0.5 * buf[i] for i in range(2)]), rtol=1e-6, atol=1e-7
    )
    torch.testing.assert_close(b.data, torch.tensor([-1.0 - 0.5 * (0.9 * 4.0 - 1.0)]))


def test_lars_equals_timms_without_weight_decay() -> None:
    timm_optim = pytest.importorskip("timm.optim")
    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    ours = LARS(a.parameters(), lr=0.3, momentum=0.9, trust_coefficient=1e-3)
    theirs = timm_optim.Lars(b.parameters(), lr=0.3, momentum=0.9, always_adapt=True)
    for _ in range(3):
        x = torch.randn(4, 5)
        for net, opt in ((a, ours), (b, theirs)):
            opt.zero_grad()
            net(x).square().sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_groups_keep_biases_and_norms_out_of_decay_and_adaptation() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    net[0].weight.requires_grad_(False)  # frozen parameters are left out
    head = nn.Linear(2, 2)
    groups = parameter_groups({"net": net, "head": head}, weight_decay=1e-4, fixed_lr=["head"])
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {
        "net/weights",
        "net/bias_and_norm",
        "head/weights",
        "head/bias_and_norm",
    }
    assert by_name["net/weights"]["params"] == [net[3].weight]
    assert len(by_name["net/bias_and_norm"]["params"]) == 4  # conv bias, BN weight/bias, fc bias
    assert by_name["net/bias_and_norm"]["weight_decay"] == 0.0
    assert not by_name["net/bias_and_norm"]["adapt"] and by_name["net/weights"]["adapt"]
    opt = make_optimizer(groups, optimizer="sgd", lr=0.1)
    set_learning_rate(opt, 0.01, 0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.01, 0.1, 0.1]
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(groups, optimizer="adam", lr=0.1)


def test_cosine_schedule_with_warmup() -> None:
    assert [cosine_lr(s, 10, 2, 2.0) for s in (0, 1)] == [1.0, 2.0]
    assert cosine_lr(2, 10, 2, 2.0) == pytest.approx(2.0)
    assert cosine_lr(6, 10, 2, 2.0) == pytest.approx(1.0)
    assert cosine_lr(10, 10, 2, 2.0) == pytest.approx(0.0)
