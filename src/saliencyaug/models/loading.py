"""Saving and loading a trained encoder (``torch.load(..., weights_only=True)``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from saliencyaug.io import atomic_write_bytes, load_torch_file
from saliencyaug.models.backbone import STAGE_CHANNELS, ResNetBackbone, make_backbone

ENCODER_FORMAT = "saliencyaug.encoder/1"
#: A trainer checkpoint: ``{"format", "arch", "options", "online": <state_dict with a
#: "backbone." prefix>, ...}``.
CHECKPOINT_FORMAT = "saliencyaug.checkpoint/1"


def save_encoder(
    path: str | Path,
    backbone: torch.nn.Module,
    arch: str,
    options: Mapping[str, Any] | None = None,
) -> None:
    """Write ``backbone``'s weights with what rebuilds it (``arch`` and ``options`` as given to
    :func:`~saliencyaug.models.make_backbone`), atomically: a reader, or a run killed mid-write,
    sees the old file or the new one, never half of one.

    Args:
        path: the file to write.
        backbone: the trained backbone.
        arch: its :func:`~saliencyaug.models.make_backbone` name.
        options: its :func:`~saliencyaug.models.make_backbone` options (plain values).

    Examples:
        >>> import tempfile, os
        >>> net = make_backbone("small_resnet", widths=(8, 16, 32, 64))
        >>> path = os.path.join(tempfile.mkdtemp(), "encoder.pt")
        >>> save_encoder(path, net, "small_resnet", {"widths": [8, 16, 32, 64]})
        >>> load_encoder(path).output_dim
        64
    """
    import io

    if not isinstance(arch, str):
        raise TypeError(f"arch must be a make_backbone name, got {type(arch).__name__}")
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"options must be a mapping of make_backbone options, got {options!r}")
    module = getattr(backbone, "module", backbone)  # unwrap DistributedDataParallel
    _check_rebuilds(module, arch, dict(options or {}))
    payload = {
        "format": ENCODER_FORMAT,
        "arch": arch,
        "options": dict(options or {}),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def _check_rebuilds(module: torch.nn.Module, arch: str, options: dict[str, Any]) -> None:
    """Refuse an ``arch`` and ``options`` that would not rebuild ``module`` (the file would
    save fine and fail to load): the network they make, on the meta device (no memory, no
    initialisation cost), must have the same weights' names and shapes."""
    try:
        with torch.device("meta"):
            rebuilt = make_backbone(arch, stages=(4,), **options)
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"arch {arch!r} with options {options}: {err}") from None
    want = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    if want != have:
        differ = sorted(set(want) ^ set(have)) or [k for k in want if want[k] != have[k]]
        raise ValueError(
            f"arch {arch!r} with options {options} does not rebuild this backbone ("
            f"{len(differ)} weights differ, e.g. {differ[0]!r}): pass the make_backbone name "
            "and options it was built with"
        )


def load_encoder(path: str | Path, arch: str = "resnet18") -> torch.nn.Module:
    """A backbone (:class:`~saliencyaug.models.ResNetBackbone` or any
    :func:`~saliencyaug.models.make_backbone` kind) from a checkpoint (``weights_only=True``).

    Accepts a file written by :func:`save_encoder` (it names its own architecture; ``arch`` is
    then ignored), a trainer's ``checkpoint.pt`` (:data:`CHECKPOINT_FORMAT`), a ResNetBackbone
    ``state_dict``, a torchvision ResNet ``state_dict`` (``fc`` is ignored), or a dict holding
    one of those under ``"backbone"``, ``"encoder"`` or ``"state_dict"``.

    Args:
        path: the checkpoint.
        arch: the torchvision ResNet name for files that do not name their architecture.

    Raises:
        ValueError: the checkpoint is damaged or matches no layout.
    """
    import torchvision

    state = load_torch_file(path)
    if isinstance(state, dict) and state.get("format") in (ENCODER_FORMAT, CHECKPOINT_FORMAT):
        weights: dict[str, Any] = state.get("state_dict") or {}
        if state["format"] == CHECKPOINT_FORMAT:
            prefix = "backbone."
            weights = {
                k[len(prefix) :]: v for k, v in state["online"].items() if k.startswith(prefix)
            }
        backbone = make_backbone(state["arch"], stages=(4,), **dict(state["options"]))
        try:
            backbone.load_state_dict(weights)
        except RuntimeError as err:
            raise ValueError(f"{path}: the weights do not fit {state['arch']!r} ({err})") from None
        return backbone
    for key in ("backbone", "encoder", "state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state_dict, got {type(state).__name__}")
    if not isinstance(arch, str) or arch not in STAGE_CHANNELS:
        raise ValueError(f"arch must be one of {sorted(STAGE_CHANNELS)}, got {arch!r}")
    backbone = ResNetBackbone(arch, stages=(4,))
    if any(k.startswith("stem.") for k in state):
        try:
            backbone.load_state_dict(state)
        except RuntimeError:
            raise ValueError(
                f"{path}: the weights do not fit a {arch} backbone; check --arch (files written "
                "by save_encoder and the trainers name their architecture)"
            ) from None
        return backbone
    if any(k.startswith("conv1.") for k in state):
        net = getattr(torchvision.models, arch)()
        try:
            missing, unexpected = net.load_state_dict(
                {k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False
            )
        except RuntimeError:
            raise ValueError(
                f"{path}: not a {arch} state_dict (tensor sizes differ); check --arch"
            ) from None
        if [m for m in missing if not m.startswith("fc.")] or unexpected:
            raise ValueError(
                f"{path}: not a {arch} state_dict "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]}); check --arch"
            )
        return ResNetBackbone(net, stages=(4,))
    raise ValueError(f"{path}: neither a ResNetBackbone nor a torchvision ResNet state_dict")


__all__ = ["CHECKPOINT_FORMAT", "ENCODER_FORMAT", "load_encoder", "save_encoder"]
