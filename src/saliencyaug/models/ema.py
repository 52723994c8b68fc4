"""Exponential-moving-average (momentum) copies of networks, as BYOL and MoCo use."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from saliencyaug import _checks
from saliencyaug.distributed import unwrap


def ema_copy(module: nn.Module) -> nn.Module:
    """A deep copy that shares no parameter or buffer with ``module`` and needs no gradients.

    A ``DistributedDataParallel`` module is unwrapped first. Copy after wrapping: DDP
    broadcasts rank 0's weights when it wraps, so the copy is the same on every rank (a copy
    made before would keep each rank's own random initialisation).

    Examples:
        >>> online = nn.Linear(3, 2); target = ema_copy(online)
        >>> target.weight is online.weight, target.weight.requires_grad
        (False, False)
    """
    target = copy.deepcopy(unwrap(module))
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``target = momentum * target + (1 - momentum) * online`` for every parameter; buffers
    (BatchNorm statistics) are copied. ``momentum = 0`` copies, ``1`` leaves the target.

    The target comes first (BYOL's and MoCo's order; lightly's ``update_momentum`` takes the
    online network first). A target with parameters that need gradients is refused: it is the
    network the optimiser trains, so the arguments are most likely swapped, which would
    silently overwrite the online network.

    Raises:
        ValueError: momentum outside [0, 1], modules of different structure, or a target
            with parameters that require gradients (or wrapped in DDP).
    """
    momentum = _checks.in_range("momentum", momentum, 0.0, 1.0)
    online = unwrap(online)
    if isinstance(target, nn.parallel.DistributedDataParallel):
        raise ValueError(
            "target is wrapped in DistributedDataParallel: ema_update(target, online, momentum) "
            "writes into target, the momentum copy (ema_copy); did you swap the arguments?"
        )
    t_params = dict(target.named_parameters())
    o_params = dict(online.named_parameters())
    if t_params.keys() != o_params.keys():
        raise ValueError("target and online modules have different parameters")
    trained = [name for name, p in t_params.items() if p.requires_grad]
    if trained:
        raise ValueError(
            f"target has {len(trained)} of {len(t_params)} parameters that require gradients "
            f"(e.g. {trained[0]!r}): ema_update(target, online, momentum) writes into target, "
            "so it must be the momentum copy, not the trained network. Did you swap the "
            "arguments? Make the target with ema_copy(online), or call "
            "target.requires_grad_(False)"
        )
    for name, o in o_params.items():
        t_params[name].mul_(momentum).add_(o.detach(), alpha=1.0 - momentum)
    t_bufs = dict(target.named_buffers())
    for name, b in online.named_buffers():
        t_bufs[name].copy_(b)


def cosine_momentum(step: int, total_steps: int, base: float = 0.996) -> float:
    """BYOL's schedule: ``1 - (1 - base) * (cos(pi * step / total) + 1) / 2`` (base -> 1)."""
    total_steps = _checks.integer("total_steps", total_steps, minimum=1)
    step = _checks.integer("step", step, minimum=0)
    base = _checks.in_range("base", base, 0.0, 1.0)
    return (
        1.0 - (1.0 - base) * (math.cos(math.pi * min(step, total_steps) / total_steps) + 1.0) / 2.0
    )
