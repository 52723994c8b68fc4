"""ResNet backbones that return the pooled vector and stage feature maps in one pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from saliencyaug import _checks

STAGE_CHANNELS = {
    "resnet18": (64, 128, 256, 512),
    "resnet34": (64, 128, 256, 512),
    "resnet50": (256, 512, 1024, 2048),
    "resnet101": (256, 512, 1024, 2048),
    "resnet152": (256, 512, 1024, 2048),
}


class BackboneOutput(NamedTuple):
    """``pooled`` ``(B, n)`` and ``maps[l]`` ``(B, C_l, h_l, w_l)`` for each requested stage."""

    pooled: torch.Tensor
    maps: dict[int, torch.Tensor]


class ResNetBackbone(nn.Module):
    """A torchvision ResNet truncated before its classifier.

    ``forward(x)`` returns :class:`BackboneOutput`: the global-average-pooled stage-4 vector and
    the feature maps of ``stages`` (1..4; CVSA aligns stage 4 by default), from one pass.

    Args:
        arch: ``"resnet18"``, ``"resnet34"``, ``"resnet50"``, ``"resnet101"``, ``"resnet152"``,
            or a torchvision ``ResNet`` instance.
        stages: stages whose maps are returned.
        weights: torchvision weights enum/name for ``arch`` given by name (no download here:
            pass weights you have locally through ``load_state_dict`` instead).

    Example:
        >>> net = ResNetBackbone("resnet18", stages=(3, 4))
        >>> out = net(torch.randn(2, 3, 64, 64))
        >>> out.pooled.shape, out.maps[4].shape, out.maps[3].shape
        (torch.Size([2, 512]), torch.Size([2, 512, 2, 2]), torch.Size([2, 256, 4, 4]))
    """

    def __init__(
        self,
        arch: str | nn.Module = "resnet18",
        stages: Sequence[int] = (4,),
        weights: object = None,
    ) -> None:
        super().__init__()
        import torchvision

        if isinstance(arch, str):
            if arch not in STAGE_CHANNELS:
                raise ValueError(
                    f"arch must be one of {sorted(STAGE_CHANNELS)} or a ResNet, got {arch!r}"
                )
            net = getattr(torchvision.models, arch)(weights=weights)
        elif isinstance(arch, torchvision.models.ResNet):
            net = arch
        else:
            raise TypeError(
                f"arch must be a name or a torchvision ResNet, got {type(arch).__name__}"
            )
        if (
            not isinstance(stages, (tuple, list))
            or not stages
            or any(not _checks.is_integer(s) or s not in (1, 2, 3, 4) for s in stages)
        ):
            raise ValueError(f"stages must be a non-empty subset of 1..4, got {stages!r}")
        self.stages = tuple(sorted(set(stages)))
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layers = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        self.channels = tuple(self._stage_channels(layer) for layer in self.layers)
        self.output_dim = self.channels[-1]
        self._frozen = 0

    @staticmethod
    def _stage_channels(layer: nn.Module) -> int:
        last = list(layer.children())[-1]
        bn = getattr(last, "bn3", None) or getattr(last, "bn2", None)
        if not isinstance(bn, nn.BatchNorm2d):
            raise TypeError(f"a ResNet stage ends in a BasicBlock or Bottleneck, got {last}")
        return int(bn.num_features)

    def forward(self, x: torch.Tensor) -> BackboneOutput:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be (B, 3, H, W), got {tuple(x.shape)}")
        maps = {}
        x = self.stem(x)
        for i, layer in enumerate(self.layers, start=1):
            x = layer(x)
            if i in self.stages:
                maps[i] = x
        return BackboneOutput(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1), maps)

    def freeze_stages(self, k: int) -> None:
        """Freeze the stem and stages 1..k (CVSA's second stage freezes the first two):
        their parameters stop requiring gradients and their BatchNorms stay in eval mode (no
        running-statistics updates) even when the module is in training mode. ``k = 0``
        unfreezes everything."""
        k = _checks.integer("k", k)
        if not 0 <= k <= 4:
            raise ValueError(f"k must be in 0..4 (the stages to freeze), got {k}")
        self._frozen = k
        for i, module in enumerate([self.stem, *self.layers]):
            frozen = i <= k if k > 0 else False
            for p in module.parameters():
                p.requires_grad_(not frozen)
        self.train(self.training)

    @property
    def frozen_stages(self) -> int:
        """How many stages :meth:`freeze_stages` froze."""
        return self._frozen

    def train(self, mode: bool = True) -> ResNetBackbone:
        super().train(mode)
        if self._frozen > 0:
            for module in [self.stem, *self.layers[: self._frozen]]:
                module.eval()
        return self
