"""torch.distributed helpers that are no-ops in a single process: process setup, broadcasting a
module, gathering (with and without gradients), noise drawn for the global batch, and MoCo's
shuffled BatchNorm (with its single-process stand-in).

Everything here works with ``gloo`` on CPUs and ``nccl`` on GPUs, under ``torchrun``
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) or a process group you initialised yourself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


class _GatherWithGradient(torch.autograd.Function):
    """all_gather whose backward sums the gradients of every rank's loss and returns this
    rank's rows (SimCLR's and solo-learn's ``GatherLayer``)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rows = tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0 (rank order), with gradients.

    The backward pass sums, over ranks, the gradient each rank's loss sends to the gathered
    rows, and hands every rank the part for its own rows. With DDP averaging parameter
    gradients, a loss that is the mean over each rank's own anchors, against the gathered
    batch as candidates, then trains exactly as that loss over the global batch in one process
    (SimCLR's ``GatherLayer``, Chen et al., ICML 2020). In a single process it returns
    ``tensor``. Every rank must call it, with the same shape.

    Args:
        tensor: ``(B, ...)`` this rank's rows.

    Returns:
        ``(world * B, ...)``.

    Examples:
        >>> x = torch.ones(2, 3, requires_grad=True)
        >>> gather_with_grad(x) is x  # one process
        True
    """
    if world_size() == 1:
        return tensor
    out: torch.Tensor = _GatherWithGradient.apply(tensor)
    return out


def global_rows(batch: int) -> slice:
    """The rows of this rank's ``batch`` items in the gathered global batch (rank order)."""
    start = rank() * batch
    return slice(start, start + batch)


@torch.no_grad()
def randn_global(like: torch.Tensor) -> torch.Tensor:
    """Standard normal draws for this rank's rows of the global batch, independent of the
    number of processes: rank 0 draws ``(world * B, ...)`` with torch's RNG and every rank
    takes its rows (a broadcast). In a single process it is ``torch.randn_like(like)``, so a
    run of one process and a run of several (rank 0 seeded alike) draw the same numbers for
    the same global batch. Every rank must call it, with the same shape.

    Args:
        like: ``(B, ...)`` the shape, dtype and device of this rank's draws.

    Returns:
        A tensor shaped like ``like``.
    """
    if world_size() == 1:
        return torch.randn_like(like)
    shape = (world_size() * like.shape[0], *like.shape[1:])
    if rank() == 0:
        full = torch.randn(shape, dtype=like.dtype, device=like.device)
    else:
        full = torch.empty(shape, dtype=like.dtype, device=like.device)
    dist.broadcast(full, 0)
    return full[global_rows(like.shape[0])].clone()


@torch.no_grad()
def shuffle_batch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MoCo's shuffled BatchNorm (He et al., CVPR 2020, section 3.3): the global batch is
    permuted across ranks before the key encoder, so that each rank's BatchNorm sees keys of
    other ranks' queries and cannot use batch statistics to find the positive.

    The permutation of the global batch is drawn on rank 0 with torch's RNG and broadcast. In
    a single process the batch is permuted too (the same draw as rank 0's for the same global
    batch): run the key encoder on sub-batches of the result with
    :func:`forward_in_sub_batches` to stand in for several processes, as MoCo's single-GPU
    CIFAR demo does.

    Args:
        x: ``(B, ...)`` this rank's batch (the same ``B`` on every rank).

    Returns:
        ``(shuffled, restore)``: this rank's slice of the permuted global batch, and the
        indices that :func:`unshuffle_batch` needs to put the keys back.

    Examples:
        >>> x = torch.arange(6.0).view(6, 1)
        >>> shuffled, restore = shuffle_batch(x)
        >>> torch.equal(unshuffle_batch(shuffled, restore), x)
        True
    """
    if world_size() == 1:
        order = torch.randperm(x.shape[0]).to(x.device)
        return x[order], torch.argsort(order)
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


def forward_in_sub_batches(
    forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, sub_batches: int
) -> torch.Tensor:
    """``forward`` over ``sub_batches`` equal, contiguous parts of ``x``, concatenated.

    BatchNorm in training mode then computes statistics per part, as each process does for
    its share of a batch: with :func:`shuffle_batch` first, a single process stands in for
    MoCo's shuffled BatchNorm over ``sub_batches`` processes (the key encoder of MoCo's
    single-GPU CIFAR demo splits its BatchNorm the same way). The running statistics are
    updated once per part.

    Args:
        forward: ``(b, ...) -> (b, ...)``, e.g. the key encoder.
        x: ``(B, ...)`` with ``B`` a multiple of ``sub_batches``.
        sub_batches: number of parts (1 runs ``forward(x)``).

    Returns:
        ``forward``'s outputs for the parts, in order.

    Raises:
        ValueError: ``sub_batches`` < 1, or ``B`` not a multiple of it with at least 2 items
            per part (BatchNorm needs two).

    Examples:
        >>> bn = nn.BatchNorm1d(1)
        >>> x = torch.tensor([[0.0], [2.0], [10.0], [14.0]])
        >>> out = forward_in_sub_batches(bn, x, 2)  # each pair is normalised alone
        >>> [round(v, 2) for v in out.flatten().tolist()]
        [-1.0, 1.0, -1.0, 1.0]
    """
    if isinstance(sub_batches, bool) or not isinstance(sub_batches, int) or sub_batches < 1:
        raise ValueError(f"sub_batches must be an integer >= 1, got {sub_batches!r}")
    if sub_batches == 1:
        return forward(x)
    batch = x.shape[0]
    if batch % sub_batches or batch // sub_batches < 2:
        raise ValueError(
            f"a batch of {batch} cannot be split into {sub_batches} equal sub-batches of at "
            "least 2 (BatchNorm needs two items): use a batch that is a multiple of "
            f"{sub_batches} and at least {2 * sub_batches}, or fewer sub-batches"
        )
    return torch.cat([forward(part) for part in x.chunk(sub_batches)], dim=0)


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
    "forward_in_sub_batches",
    "gather_with_grad",
    "global_rows",
    "init_processes",
    "is_distributed",
    "on_main_first",
    "randn_global",
    "rank",
    "shuffle_batch",
    "unshuffle_batch",
    "unwrap",
    "world_size",
    "wrap_ddp",
]
