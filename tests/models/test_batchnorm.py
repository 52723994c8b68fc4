"""frozen_batchnorm_statistics: training-mode normalisation, running statistics untouched."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from saliencyaug.models import frozen_batchnorm_statistics


def test_outputs_and_gradients_are_a_training_pass_and_statistics_stay() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(3), nn.BatchNorm1d(3)
    )
    net(torch.randn(4, 3, 6, 6))  # materialise and move the statistics away from their init
    net[4].momentum = None  # cumulative average: the batch count matters too
    plain = copy.deepcopy(net)
    x = torch.randn(5, 3, 6, 6)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with frozen_batchnorm_statistics(net):
        out = net(x)
    out.square().sum().backward()
    expected = plain(x)
    expected.square().sum().backward()
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(net[0].weight.grad, plain[0].weight.grad, rtol=0, atol=0)
    for key, value in before.items():
        assert torch.equal(net.state_dict()[key], value), key
    assert net[1].momentum == 0.1 and net[4].momentum is None
    assert not torch.equal(plain[1].running_mean, before["1.running_mean"])


def test_restored_after_an_error_and_type_checked() -> None:
    bn = nn.BatchNorm1d(2)
    with pytest.raises(RuntimeError), frozen_batchnorm_statistics(bn):
        raise RuntimeError("boom")
    assert bn.momentum == 0.1
    with pytest.raises(TypeError, match="modules"), frozen_batchnorm_statistics(lambda x: x):  # type: ignore[arg-type]
        pass
