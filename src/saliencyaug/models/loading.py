"""Loading a trained encoder from a checkpoint (``torch.load(..., weights_only=True)``)."""

from __future__ import annotations

from pathlib import Path

import torch

from saliencyaug.models.backbone import ResNetBackbone


def load_encoder(path: str | Path, arch: str = "resnet18") -> torch.nn.Module:
    """A :class:`~saliencyaug.models.ResNetBackbone` from a checkpoint (``weights_only=True``).

    Accepts a ResNetBackbone ``state_dict``, a torchvision ResNet ``state_dict`` (``fc`` is
    ignored), or a dict holding one of those under ``"backbone"``, ``"encoder"`` or
    ``"state_dict"``.

    Raises:
        ValueError: the checkpoint matches neither layout.
    """
    import torchvision

    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("backbone", "encoder", "state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state_dict, got {type(state).__name__}")
    backbone = ResNetBackbone(arch, stages=(4,))
    if any(k.startswith("stem.") for k in state):
        backbone.load_state_dict(state)
        return backbone
    if any(k.startswith("conv1.") for k in state):
        net = getattr(torchvision.models, arch)()
        missing, unexpected = net.load_state_dict(
            {k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False
        )
        if [m for m in missing if not m.startswith("fc.")] or unexpected:
            raise ValueError(
                f"{path}: not a {arch} state_dict "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
        return ResNetBackbone(net, stages=(4,))
    raise ValueError(f"{path}: neither a ResNetBackbone nor a torchvision ResNet state_dict")


__all__ = ["load_encoder"]
