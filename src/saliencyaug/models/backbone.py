"""Backbones that return the pooled vector and stage feature maps in one pass, for any network.

Every backbone here is an ``nn.Module`` whose ``forward(x)`` returns :class:`BackboneOutput`
(``pooled`` ``(B, n)`` and ``maps[s]`` ``(B, C_s, h_s, w_s)`` for each requested stage ``s`` in
1..4) and that tells its widths: ``output_dim`` (``n``) and ``channels`` (``C_1..C_4``), so that
heads can be built for it. Stage 4 is the last feature map (CVSA aligns it by default).

* :class:`ResNetBackbone` -- a torchvision ResNet (by name or instance) or :func:`small_resnet`
  (configurable widths, for CPU experiments).
* :class:`TimmBackbone` -- any timm model with ``features_only`` support: CNNs, and ViT / Swin,
  whose patch tokens come back as ``(B, C, h, w)`` maps (prefix tokens dropped). Random
  initialisation, no download.
* :class:`ModuleBackbone` -- your own module that returns its stage maps.
* :func:`make_backbone` -- one of them from a name (``"resnet50"``, ``"small_resnet"``,
  ``"timm:vit_small_patch16_224"``) or a module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

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


def _check_stages(stages: Sequence[int]) -> tuple[int, ...]:
    if (
        not isinstance(stages, (tuple, list))
        or not stages
        or any(not _checks.is_integer(s) or s not in (1, 2, 3, 4) for s in stages)
    ):
        raise ValueError(f"stages must be a non-empty subset of 1..4, got {stages!r}")
    return tuple(sorted({int(s) for s in stages}))


def _check_input(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be (B, 3, H, W), got {shape}")


class _StagedBackbone(nn.Module):
    """Shared parts: stage bookkeeping and freezing of the first stages."""

    stages: tuple[int, ...]
    channels: tuple[int, ...]
    output_dim: int
    _frozen: int

    def _stage_modules(self) -> list[nn.Module]:
        """The stem followed by stages 1..4 (for freezing)."""
        raise ValueError(
            f"freeze_stages does not know the stages of a {type(self).__name__}; set "
            "requires_grad_(False) on the modules you want frozen"
        )

    def freeze_stages(self, k: int) -> None:
        """Freeze the stem and stages 1..k (CVSA's second stage freezes the first two):
        their parameters stop requiring gradients and their BatchNorms stay in eval mode (no
        running-statistics updates) even when the module is in training mode. ``k = 0``
        unfreezes everything."""
        k = _checks.integer("k", k)
        if not 0 <= k <= 4:
            raise ValueError(f"k must be in 0..4 (the stages to freeze), got {k}")
        modules = self._stage_modules()
        self._frozen = k
        for i, module in enumerate(modules):
            frozen = k > 0 and i <= k
            for p in module.parameters():
                p.requires_grad_(not frozen)
        self.train(self.training)

    @property
    def frozen_stages(self) -> int:
        """How many stages :meth:`freeze_stages` froze."""
        return self._frozen

    def train(self, mode: bool = True) -> _StagedBackbone:
        super().train(mode)
        if self._frozen > 0:
            for module in self._stage_modules()[: self._frozen + 1]:
                module.eval()
        return self


Stem = Literal["imagenet", "small"]
STEMS: tuple[Stem, ...] = ("imagenet", "small")


class ResNetBackbone(_StagedBackbone):
    """A torchvision-style ResNet truncated before its classifier.

    ``forward(x)`` returns :class:`BackboneOutput`: the global-average-pooled stage-4 vector and
    the feature maps of ``stages`` (1..4), from one pass.

    Args:
        arch: ``"resnet18"``, ``"resnet34"``, ``"resnet50"``, ``"resnet101"``, ``"resnet152"``,
            or a ResNet instance (torchvision's, or :func:`small_resnet`; anything with
            ``conv1, bn1, relu, maxpool, layer1..layer4``).
        stages: stages whose maps are returned.
        weights: torchvision weights enum/name for ``arch`` given by name (no download here:
            pass weights you have locally through ``load_state_dict`` instead).
        stem: ``"imagenet"`` (the ResNet's own: a 7x7 stride-2 convolution and a stride-2
            max-pool, 4x smaller maps) or ``"small"`` (a 3x3 stride-1 convolution and no
            max-pool, as solo-learn and lightly use for CIFAR-sized images: the stage-4 map of
            a 48-px image is 6x6 instead of 2x2). Use ``"small"`` for inputs below about
            96 px, where the ImageNet stem leaves no map for a CAM or the CVSA alignment.

    Examples:
        >>> net = ResNetBackbone("resnet18", stages=(3, 4))
        >>> out = net(torch.randn(2, 3, 64, 64))
        >>> out.pooled.shape, out.maps[4].shape, out.maps[3].shape
        (torch.Size([2, 512]), torch.Size([2, 512, 2, 2]), torch.Size([2, 256, 4, 4]))
        >>> ResNetBackbone("resnet18", stem="small")(torch.randn(2, 3, 64, 64)).maps[4].shape
        torch.Size([2, 512, 8, 8])
    """

    def __init__(
        self,
        arch: str | nn.Module = "resnet18",
        stages: Sequence[int] = (4,),
        weights: object = None,
        stem: Stem = "imagenet",
    ) -> None:
        super().__init__()
        import torchvision

        if isinstance(arch, str):
            if arch not in STAGE_CHANNELS:
                raise ValueError(
                    f"arch must be one of {sorted(STAGE_CHANNELS)} or a ResNet, got {arch!r}"
                )
            net = getattr(torchvision.models, arch)(weights=weights)
        elif isinstance(arch, nn.Module) and all(
            hasattr(arch, a) for a in ("conv1", "bn1", "relu", "maxpool", "layer4")
        ):
            net = arch
        else:
            raise TypeError(
                f"arch must be a name or a ResNet-like module, got {type(arch).__name__}"
            )
        self.stages = _check_stages(stages)
        stem = _checks.choice("stem", stem, STEMS)
        if stem == "small":
            if weights is not None:
                raise ValueError("stem='small' replaces the first convolution: no weights for it")
            first = net.conv1
            net.conv1 = nn.Conv2d(first.in_channels, first.out_channels, 3, 1, 1, bias=False)
            nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
            net.maxpool = nn.Identity()
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

    def _stage_modules(self) -> list[nn.Module]:
        return [self.stem, *self.layers]

    def forward(self, x: torch.Tensor) -> BackboneOutput:
        _check_input(x)
        maps = {}
        x = self.stem(x)
        for i, layer in enumerate(self.layers, start=1):
            x = layer(x)
            if i in self.stages:
                maps[i] = x
        return BackboneOutput(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1), maps)


def small_resnet(
    widths: Sequence[int] = (16, 32, 64, 128), blocks: Sequence[int] = (1, 1, 1, 1)
) -> nn.Module:
    """A ResNet of BasicBlocks with the given stage widths and depths, for CPU experiments
    (``(64, 128, 256, 512)`` and ``(2, 2, 2, 2)`` is ResNet-18). Use it as
    ``ResNetBackbone(small_resnet(...))``.

    Examples:
        >>> ResNetBackbone(small_resnet((8, 16, 32, 64)))(torch.randn(2, 3, 32, 32)).pooled.shape
        torch.Size([2, 64])
    """
    from torchvision.models import ResNet
    from torchvision.models.resnet import BasicBlock

    if not (isinstance(widths, (tuple, list)) and len(widths) == 4):
        raise ValueError(f"widths must give 4 stage widths, got {widths!r}")
    if not (isinstance(blocks, (tuple, list)) and len(blocks) == 4):
        raise ValueError(f"blocks must give 4 stage depths, got {blocks!r}")
    widths = [_checks.integer(f"widths[{i}]", w, minimum=1) for i, w in enumerate(widths)]
    blocks = [_checks.integer(f"blocks[{i}]", b, minimum=1) for i, b in enumerate(blocks)]

    class _SmallResNet(ResNet):
        def __init__(self) -> None:
            nn.Module.__init__(self)
            self._norm_layer = nn.BatchNorm2d
            self.dilation = 1
            self.groups = 1
            self.base_width = 64
            self.inplanes = widths[0]
            self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(BasicBlock, widths[0], blocks[0])
            self.layer2 = self._make_layer(BasicBlock, widths[1], blocks[1], stride=2)
            self.layer3 = self._make_layer(BasicBlock, widths[2], blocks[2], stride=2)
            self.layer4 = self._make_layer(BasicBlock, widths[3], blocks[3], stride=2)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    return _SmallResNet()


class TimmBackbone(_StagedBackbone):
    """Any timm model with ``features_only``: CNNs (ResNet, ConvNeXt...) and transformers (ViT,
    Swin...), randomly initialised (no download).

    Stages 1..4 map onto timm's feature list: for CNNs with a stem entry (5 features) the four
    stages, for 4 features the four stages, for one feature per block (ViT) the blocks at 1/4,
    2/4, 3/4 and the end. Transformer tokens come back as ``(B, C, h, w)`` maps without their
    class or register tokens (timm's ``forward_intermediates``), so the CVSA alignment and the
    Grad-CAM scores see a spatial map; NHWC outputs (Swin) are permuted. ``pooled`` is the
    spatial mean of the last map.

    Args:
        name: a timm model name, e.g. ``"resnet50"``, ``"vit_small_patch16_224"``.
        stages: stages whose maps are returned.
        **kwargs: passed to ``timm.create_model`` (e.g. ``img_size=128`` for a ViT).

    Raises:
        ImportError: timm is not installed (``pip install saliencyaug[timm]``).
    """

    def __init__(self, name: str, stages: Sequence[int] = (4,), **kwargs: Any) -> None:
        super().__init__()
        try:
            import timm
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("TimmBackbone needs timm: pip install 'saliencyaug[timm]'") from err
        if not isinstance(name, str):
            raise TypeError(f"name must be a timm model name, got {type(name).__name__}")
        self.stages = _check_stages(stages)
        kwargs.pop("pretrained", None)  # random initialisation: nothing is downloaded
        kwargs.pop("out_indices", None)
        # timm returns only some features by default (the last three blocks of a ViT); count
        # them all, then build the model that returns the four we map onto stages 1..4.
        probe = timm.create_model(name, pretrained=False, features_only=True, **kwargs)
        probe_info: Any = probe.feature_info
        n = len(probe_info)
        if 5 <= n <= 6:
            wanted = [n - 4, n - 3, n - 2, n - 1]
        elif n == 4:
            wanted = [0, 1, 2, 3]
        elif n > 6:
            wanted = [max(0, round(s * n / 4) - 1) for s in (1, 2, 3, 4)]
        else:
            raise ValueError(f"timm model {name!r} has {n} feature levels; 4 or more are needed")
        del probe
        indices = sorted(set(wanted))
        self.net = timm.create_model(
            name, pretrained=False, features_only=True, out_indices=tuple(indices), **kwargs
        )
        self._index = {s: indices.index(wanted[s - 1]) for s in (1, 2, 3, 4)}
        feature_info: Any = self.net.feature_info
        chs = feature_info.channels()
        self.channels = tuple(int(chs[self._index[s]]) for s in (1, 2, 3, 4))
        self.output_dim = self.channels[-1]
        self._nhwc = str(getattr(self.net, "output_fmt", "NCHW")).endswith("NHWC")
        self._frozen = 0

    def _stage_modules(self) -> list[nn.Module]:
        # CNNs come back as a FeatureListNet whose children run in order: the stem is
        # everything before stage 1's module, stage s ends at its feature module.
        import timm.models

        if not isinstance(self.net, timm.models.FeatureListNet):
            raise ValueError(
                f"freeze_stages supports timm CNNs; for {type(self.net).__name__} models set "
                "requires_grad_(False) on the blocks you want frozen"
            )
        feature_info: Any = self.net.feature_info
        names = feature_info.module_name()
        ends = [names[self._index[s]].replace(".", "_") for s in (1, 2, 3, 4)]
        groups: list[list[nn.Module]] = [[] for _ in range(5)]
        group = 0  # children before stage 1's module are the stem; between stages, the next
        for child_name, child in self.net.named_children():
            if child_name in ends:
                stage = ends.index(child_name) + 1
                groups[stage].append(child)
                group = min(stage + 1, 4)
            else:
                groups[group].append(child)
        return [nn.ModuleList(g) for g in groups]

    def forward(self, x: torch.Tensor) -> BackboneOutput:
        _check_input(x)
        feats = self.net(x)
        if self._nhwc:
            feats = [f.permute(0, 3, 1, 2) for f in feats]
        maps = {s: feats[self._index[s]] for s in self.stages}
        last = feats[self._index[4]]
        return BackboneOutput(last.mean(dim=(2, 3)), maps)


class ModuleBackbone(_StagedBackbone):
    """Your own network as a backbone: ``module(x)`` returns its four stage maps (a list,
    tuple or dict keyed 1..4 of ``(B, C, h, w)``); ``pooled`` is the spatial mean of the last.

    The widths are read from one forward pass on a ``probe_size`` image at construction.

    Args:
        module: the network.
        stages: stages whose maps are returned.
        probe_size: side of the dummy image that reveals the widths.

    Examples:
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.convs = nn.ModuleList(nn.Conv2d(c, 8, 3, 2, 1) for c in (3, 8, 8, 8))
        ...     def forward(self, x):
        ...         maps = []
        ...         for conv in self.convs:
        ...             x = conv(x)
        ...             maps.append(x)
        ...         return maps
        >>> ModuleBackbone(Net())(torch.randn(2, 3, 32, 32)).maps[4].shape
        torch.Size([2, 8, 2, 2])
    """

    def __init__(self, module: nn.Module, stages: Sequence[int] = (4,), probe_size: int = 64):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.stages = _check_stages(stages)
        self.net = module
        probe_size = _checks.integer("probe_size", probe_size, minimum=1)
        was_training = module.training
        module.eval()
        with torch.no_grad():
            maps = self._maps(torch.zeros(1, 3, probe_size, probe_size))
        module.train(was_training)
        self.channels = tuple(int(maps[s].shape[1]) for s in (1, 2, 3, 4))
        self.output_dim = self.channels[-1]
        self._frozen = 0

    def _maps(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        out = self.net(x)
        if isinstance(out, dict):
            maps = {int(k): v for k, v in out.items()}
        elif isinstance(out, (list, tuple)) and len(out) == 4:
            maps = dict(enumerate(out, start=1))
        else:
            raise ValueError(
                "the module must return its 4 stage maps as a list, tuple or dict keyed 1..4"
            )
        if set(maps) != {1, 2, 3, 4} or any(
            not isinstance(m, torch.Tensor) or m.ndim != 4 for m in maps.values()
        ):
            raise ValueError("the module's stage maps must be 4 tensors of shape (B, C, h, w)")
        return maps

    def forward(self, x: torch.Tensor) -> BackboneOutput:
        _check_input(x)
        maps = self._maps(x)
        return BackboneOutput(maps[4].mean(dim=(2, 3)), {s: maps[s] for s in self.stages})


def make_backbone(
    arch: str | nn.Module, stages: Sequence[int] = (4,), **options: Any
) -> _StagedBackbone:
    """A backbone from a name or a module.

    Args:
        arch: a torchvision ResNet name (``"resnet18"``..``"resnet152"``, option ``stem``);
            ``"small_resnet"`` (options ``widths``, ``blocks``, ``stem``); ``"timm:<model
            name>"`` (options passed to ``timm.create_model``); a ResNet-like module; or any
            module returning its 4 stage maps.
        stages: stages whose maps are returned.
        **options: see ``arch``.

    Examples:
        >>> make_backbone("small_resnet", widths=(8, 16, 32, 64)).output_dim
        64
    """
    if isinstance(arch, nn.Module):
        if all(hasattr(arch, a) for a in ("conv1", "bn1", "relu", "maxpool", "layer4")):
            return ResNetBackbone(arch, stages)
        return ModuleBackbone(arch, stages, **options)
    if not isinstance(arch, str):
        raise TypeError(f"arch must be a name or a module, got {type(arch).__name__}")
    if arch.startswith("timm:"):
        if "stem" in options:
            raise ValueError("stem is an option of the ResNets (torchvision's, small_resnet)")
        return TimmBackbone(arch[len("timm:") :], stages, **options)
    options = dict(options)
    stem = options.pop("stem", "imagenet")
    if arch == "small_resnet":
        return ResNetBackbone(small_resnet(**options), stages, stem=stem)
    if options:
        raise ValueError(f"arch {arch!r} takes only the option stem, got {sorted(options)}")
    return ResNetBackbone(arch, stages, stem=stem)


__all__ = [
    "STAGE_CHANNELS",
    "STEMS",
    "BackboneOutput",
    "ModuleBackbone",
    "ResNetBackbone",
    "Stem",
    "TimmBackbone",
    "make_backbone",
    "small_resnet",
]
