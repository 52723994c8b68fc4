"""torch.distributed helpers that are no-ops in a single process: process setup, broadcasting a
module, gathering, and MoCo's shuffled BatchNorm.

Everything here works with ``gloo`` on CPUs and ``nccl`` on GPUs, under ``torchrun``
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) or a process group you initialised yourself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


def is_distributed() -> bool:
    """True when a default process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """The number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


@dataclass(frozen=True)
class Processes:
    """Where this process runs: its ``rank`` among ``world`` processes and its ``device``."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        """True on rank 0, the process that writes files."""
        return self.rank == 0


def init_processes(device: str | None = None) -> Processes:
    """Join the process group ``torchrun`` set up (NCCL on GPUs, gloo on CPUs), or run alone.

    Args:
        device: ``"cpu"``, ``"cuda"`` or None (CUDA when available). Under ``torchrun`` each
            process takes the GPU of its ``LOCAL_RANK``.

    Returns:
        The process's rank, the world size and its device.

    Examples:
        >>> init_processes("cpu")
        Processes(rank=0, world=1, device=device(type='cpu'))
    """
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or None, got {device!r}")
    use_cuda = torch.cuda.is_available() if device is None else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA device is available")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not is_distributed():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        where = torch.device("cuda", local)
    else:
        where = torch.device("cpu")
    return Processes(rank(), world_size(), where)


@torch.no_grad()
def broadcast_module(module: nn.Module, src: int = 0) -> nn.Module:
    """Copy rank ``src``'s parameters and buffers into ``module`` on every rank (in place).

    DDP does this for the module it wraps; momentum networks and other unwrapped copies need
    it too, or each rank starts from its own random initialisation.

    Returns:
        ``module``.
    """
    if world_size() > 1:
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src)
    return module


@torch.no_grad()
def concat_all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0 (rank order); no gradient.

    In a single process it returns ``tensor`` unchanged. Every rank must pass the same shape.
    """
    if world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


@torch.no_grad()
def shuffle_batch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MoCo's shuffled BatchNorm (He et al., CVPR 2020, section 3.3): the global batch is
    permuted across ranks before the key encoder, so that each rank's BatchNorm sees keys of
    other ranks' queries and cannot use batch statistics to find the positive.

    The permutation is drawn on rank 0 with torch's RNG and broadcast. In a single process it
    is the identity (MoCo's reference code needs several processes for shuffle-BN too).

    Args:
        x: ``(B, ...)`` this rank's batch (the same ``B`` on every rank).

    Returns:
        ``(shuffled, restore)``: this rank's slice of the permuted global batch, and the
        indices that :func:`unshuffle_batch` needs to put the keys back.
    """
    if world_size() == 1:
        return x, torch.arange(x.shape[0], device=x.device)
    gathered = concat_all_gather(x)
    total = gathered.shape[0]
    order = (
        torch.randperm(total).to(x.device)
        if rank() == 0
        else torch.empty(total, dtype=torch.long, device=x.device)
    )
    dist.broadcast(order, 0)
    restore = torch.argsort(order)
    b = x.shape[0]
    mine = order.view(world_size(), b)[rank()]
    return gathered[mine], restore


@torch.no_grad()
def unshuffle_batch(x: torch.Tensor, restore: torch.Tensor) -> torch.Tensor:
    """Undo :func:`shuffle_batch`: this rank's keys, in the order of its own queries."""
    if world_size() == 1:
        return x[restore]
    gathered = concat_all_gather(x)
    b = x.shape[0]
    mine = restore.view(world_size(), b)[rank()]
    return gathered[mine]


def on_main_first(work: Callable[[], object]) -> None:
    """Run ``work`` on rank 0 while the other ranks wait, then let them go on (e.g. writing a
    file every rank then reads). When it fails on rank 0, every rank raises: rank 0 its own
    error, the others a ``RuntimeError`` naming it (instead of waiting forever)."""
    failure: BaseException | None = None
    if rank() == 0:
        try:
            work()
        except BaseException as err:
            failure = err
    if world_size() > 1:
        message = [None if failure is None else f"{type(failure).__name__}: {failure}"]
        dist.broadcast_object_list(message, 0)
        if message[0] is not None and failure is None:
            raise RuntimeError(f"rank 0 failed: {message[0]}")
    if failure is not None:
        raise failure


def wrap_ddp(module: nn.Module, processes: Processes, *, sync_bn: bool = False) -> nn.Module:
    """``DistributedDataParallel`` over ``module`` (with SyncBatchNorm when asked and on
    CUDA) when there are several processes; the module itself otherwise.

    DDP broadcasts rank 0's weights when it wraps, so copies made from the wrapped module
    afterwards (momentum networks) are identical on every rank.
    """
    if processes.world == 1:
        return module
    if sync_bn and processes.device.type == "cuda":
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [processes.device.index] if processes.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper (or the module itself)."""
    inner = getattr(module, "module", None)
    return inner if isinstance(module, nn.parallel.DistributedDataParallel) and inner else module


__all__ = [
    "Processes",
    "broadcast_module",
    "concat_all_gather",
    "init_processes",
    "is_distributed",
    "on_main_first",
    "rank",
    "shuffle_batch",
    "unshuffle_batch",
    "unwrap",
    "world_size",
    "wrap_ddp",
]
