"""Keeping BatchNorm running statistics to real images while other batches pass through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def frozen_batchnorm_statistics(*modules: nn.Module) -> Iterator[None]:
    """Inside the block, BatchNorm layers of ``modules`` still normalise with the batch's own
    statistics in training mode (so gradients are those of a training pass) but their running
    mean, variance and batch count are left exactly as they were.

    The synthesized-pair objective uses it for the encoder's pass over decoder-generated
    images, so that the statistics used at evaluation come from real images only.

    Args:
        *modules: modules whose BatchNorm layers (``BatchNorm1d/2d/3d``, ``SyncBatchNorm``) are
            held; other layers are untouched.

    Examples:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        >>> before = net[1].running_mean.clone()
        >>> with frozen_batchnorm_statistics(net):
        ...     _ = net(torch.randn(2, 3, 8, 8))
        >>> torch.equal(net[1].running_mean, before)
        True
    """
    held: list[tuple[nn.modules.batchnorm._BatchNorm, float | None, torch.Tensor | None]] = []
    seen: set[int] = set()
    for module in modules:
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"modules must be torch.nn.Module instances, got {type(module).__name__}"
            )
        for layer in module.modules():
            if (
                isinstance(layer, nn.modules.batchnorm._BatchNorm)
                and layer.track_running_stats
                and id(layer) not in seen
            ):
                seen.add(id(layer))
                count = layer.num_batches_tracked
                held.append((layer, layer.momentum, None if count is None else count.clone()))
                # momentum 0: running = 1 * running + 0 * batch, bit for bit unchanged
                layer.momentum = 0.0
    try:
        yield
    finally:
        with torch.no_grad():
            for layer, momentum, count in held:
                layer.momentum = momentum
                if count is not None and layer.num_batches_tracked is not None:
                    layer.num_batches_tracked.copy_(count)


__all__ = ["frozen_batchnorm_statistics"]
