"""Heads, stage-feature backbones and EMA copies."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from saliencyaug.models import (
    ConvPredictor,
    ConvProjector,
    MLPHead,
    ResNetBackbone,
    cosine_momentum,
    ema_copy,
    ema_update,
)


def test_heads_structure_and_shapes() -> None:
    mlp = MLPHead(input_dim=512, hidden_dim=32, output_dim=8)
    assert [type(m) for m in mlp] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert mlp(torch.randn(4, 512)).shape == (4, 8)
    proj = ConvProjector(input_dim=512, hidden_dim=32, output_dim=8)
    assert [type(m) for m in proj] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d]
    assert all(m.kernel_size == (1, 1) for m in proj if isinstance(m, nn.Conv2d))
    assert proj(torch.randn(2, 512, 7, 5)).shape == (2, 8, 7, 5)
    pred = ConvPredictor()
    assert (
        pred[0].in_channels == 256 and pred[0].out_channels == 4096 and pred[3].out_channels == 256
    )
    with pytest.raises(ValueError, match="hidden_dim"):
        MLPHead(4, 0, 2)
    with pytest.raises(ValueError, match=r"\(B, C, h, w\)"):
        proj(torch.randn(2, 512))


def test_conv_head_equals_mlp_head_per_position() -> None:
    # a 1x1 conv head is the same MLP applied at every position (BN statistics aside)
    torch.manual_seed(0)
    conv = ConvProjector(6, 10, 4).eval()
    mlp = MLPHead(6, 10, 4).eval()
    with torch.no_grad():
        mlp[0].weight.copy_(conv[0].weight.view(10, 6))
        mlp[0].bias.copy_(conv[0].bias)
        mlp[3].weight.copy_(conv[3].weight.view(4, 10))
        mlp[3].bias.copy_(conv[3].bias)
    x = torch.randn(2, 6, 3, 5)
    per_position = mlp(x.permute(0, 2, 3, 1).reshape(-1, 6)).view(2, 3, 5, 4).permute(0, 3, 1, 2)
    torch.testing.assert_close(conv(x), per_position)


@pytest.mark.parametrize(
    ("arch", "channels"), [("resnet18", (64, 128, 256, 512)), ("resnet50", (256, 512, 1024, 2048))]
)
def test_backbone_maps_and_pooled_vector(arch: str, channels: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    tv = getattr(torchvision.models, arch)().eval()
    backbone = ResNetBackbone(tv, stages=(1, 2, 3, 4)).eval()
    assert backbone.channels == channels and backbone.output_dim == channels[-1]
    x = torch.randn(2, 3, 64, 96)
    out = backbone(x)
    for i, (c, s) in enumerate(zip(channels, (4, 8, 16, 32), strict=True), start=1):
        assert out.maps[i].shape == (2, c, 64 // s, 96 // s)
    tv.fc = nn.Identity()
    with torch.no_grad():
        torch.testing.assert_close(out.pooled, tv(x))  # one pass gives torchvision's features
    assert set(ResNetBackbone(arch, stages=(4,))(x).maps) == {4}


def test_freeze_first_two_stages() -> None:
    backbone = ResNetBackbone("resnet18")
    backbone.freeze_stages(2)
    backbone.train()
    frozen = [backbone.stem, backbone.layers[0], backbone.layers[1]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for m in backbone.layers[2:] for p in m.parameters())
    assert all(not m.training for f in frozen for m in f.modules())
    assert backbone.layers[2].training
    before = backbone.stem[1].running_mean.clone()
    out = backbone(torch.randn(4, 3, 32, 32))
    assert torch.equal(backbone.stem[1].running_mean, before)  # frozen BN statistics
    out.pooled.sum().backward()
    assert (
        backbone.stem[0].weight.grad is None and backbone.layers[3][0].conv1.weight.grad is not None
    )
    backbone.freeze_stages(0)
    assert all(p.requires_grad for p in backbone.parameters()) and backbone.stem.training
    with pytest.raises(ValueError, match=r"0\.\.4"):
        backbone.freeze_stages(5)


def test_backbone_errors() -> None:
    with pytest.raises(ValueError, match="arch"):
        ResNetBackbone("vgg16")
    with pytest.raises(ValueError, match="stages"):
        ResNetBackbone("resnet18", stages=(5,))
    with pytest.raises(TypeError, match="ResNet"):
        ResNetBackbone(nn.Linear(2, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        ResNetBackbone("resnet18")(torch.randn(3, 32, 32))


def test_ema_copies_share_nothing_and_update_exactly() -> None:
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    target = ema_copy(online)
    online_ptrs = {t.data_ptr() for t in list(online.parameters()) + list(online.buffers())}
    assert not online_ptrs & {
        t.data_ptr() for t in list(target.parameters()) + list(target.buffers())
    }
    assert all(not p.requires_grad for p in target.parameters())
    with torch.no_grad():
        for p in online.parameters():
            p.add_(torch.randn_like(p))
    online(torch.randn(16, 4))  # changes BN running statistics
    old = {k: v.clone() for k, v in target.state_dict().items()}
    ema_update(target, online, momentum=1.0)  # m = 1 leaves the target's parameters
    for name, p in target.named_parameters():
        assert torch.equal(p, old[name])
    ema_update(target, online, momentum=0.0)  # m = 0 copies the online weights
    for (name, p), (_, o) in zip(target.named_parameters(), online.named_parameters(), strict=True):
        assert torch.equal(p, o), name
    assert torch.equal(target[1].running_mean, online[1].running_mean)
    t0 = {k: v.clone() for k, v in target.named_parameters()}
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    ema_update(target, online, momentum=0.9)
    for name, p in target.named_parameters():
        torch.testing.assert_close(p, 0.9 * t0[name] + 0.1 * dict(online.named_parameters())[name])
    with pytest.raises(ValueError, match="momentum"):
        ema_update(target, online, 1.5)
    with pytest.raises(ValueError, match="different parameters"):
        ema_update(nn.Linear(2, 2), online, 0.5)


def test_cosine_momentum_schedule() -> None:
    assert cosine_momentum(0, 100) == pytest.approx(0.996)
    assert cosine_momentum(100, 100) == pytest.approx(1.0)
    assert cosine_momentum(50, 100) == pytest.approx(0.998)
    assert cosine_momentum(500, 100) == pytest.approx(1.0)


def test_ema_update_refuses_a_target_that_is_trained() -> None:
    # lightly's update_momentum takes (online, target): that order here would silently
    # overwrite the online network with the momentum copy
    online = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    target = ema_copy(online)
    before = {k: v.clone() for k, v in online.state_dict().items()}
    with pytest.raises(ValueError, match=r"target has 4 of 4 parameters that require gradients"):
        ema_update(online, target, 0.99)
    for key, value in online.state_dict().items():  # nothing was written
        assert torch.equal(value, before[key]), key
    ddp_like = nn.parallel.DistributedDataParallel.__new__(nn.parallel.DistributedDataParallel)
    with pytest.raises(ValueError, match="wrapped in DistributedDataParallel"):
        ema_update(ddp_like, online, 0.99)
    ema_update(target, online, 0.99)  # the documented order works
