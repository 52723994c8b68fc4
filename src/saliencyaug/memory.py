"""A FIFO memory of vectors, gathered across processes: MoCo's key queue and the second paper's
feature bank are both this one module.

Examples:
    >>> import torch
    >>> bank = MemoryQueue(dim=2, size=3)
    >>> bank.add(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> bank.add(torch.tensor([[5.0, 6.0], [7.0, 8.0]]))
    >>> bank.features().tolist()
    [[3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch
from torch import nn

from saliencyaug import _checks
from saliencyaug.distributed import concat_all_gather


class MemoryQueue(nn.Module):
    """The newest ``size`` vectors of dimension ``dim``; the oldest are replaced first.

    Stored as buffers (saved in ``state_dict``, so a resumed run continues with the same
    memory). Under DDP, :meth:`add` first gathers the vectors of every rank (rank order), as
    MoCo does for its keys. Rows with NaN or inf are never stored: they are dropped with a
    warning; while a :class:`saliencyaug.DeferredChecks` is active they are stored as zeros
    instead (dropping them needs their count on the host) and the check fails at its next
    ``raise_if_failed``.

    :meth:`add`, :meth:`features` and ``len`` read no value back from the device in a
    training loop: the write position and the fill level are also kept as Python integers,
    read from the buffers only after something else changed them (loading a state dict, moving
    the module, a compiled :meth:`add`).

    Args:
        dim: vector dimension.
        size: capacity (MoCo v2's queue: 65536; the second paper's bank: D = 5632).
        normalize: l2-normalise vectors on entry (MoCo's keys).
        initial: ``"empty"`` (the default: :meth:`features` returns what was added) or
            ``"random"`` (filled with random unit vectors, as MoCo starts its queue).

    Raises:
        ValueError / TypeError: non-positive sizes or an unknown ``initial``.
    """

    memory: torch.Tensor
    ptr: torch.Tensor
    count: torch.Tensor

    def __init__(
        self,
        dim: int,
        size: int,
        *,
        normalize: bool = False,
        initial: Literal["empty", "random"] = "empty",
    ) -> None:
        super().__init__()
        dim = _checks.integer("dim", dim, minimum=1)
        size = _checks.integer("size", size, minimum=1)
        self.normalize = _checks.boolean("normalize", normalize)
        initial = _checks.choice("initial", initial, ("empty", "random"))
        if initial == "random":
            start = nn.functional.normalize(torch.randn(size, dim), dim=1)
            filled = size
        else:
            start, filled = torch.zeros(size, dim), 0
        self.register_buffer("memory", start)
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.tensor(filled, dtype=torch.long))
        self._host: tuple[tuple[int, ...], int, int] | None = None
        self._remember(0, filled)

    def _buffers_key(self) -> tuple[int, ...]:
        # which buffer objects, at which in-place version: any outside change alters it
        return (id(self.ptr), self.ptr._version, id(self.count), self.count._version)

    def _remember(self, ptr: int, count: int) -> None:
        self._host = (self._buffers_key(), ptr, count)

    def _position(self) -> tuple[int, int]:
        """``(ptr, count)`` as Python integers, read from the device only when unknown."""
        if self._host is not None and self._host[0] == self._buffers_key():
            return self._host[1], self._host[2]
        ptr, count = int(self.ptr), int(self.count)
        self._remember(ptr, count)
        return ptr, count

    @property
    def size(self) -> int:
        """Capacity."""
        return int(self.memory.shape[0])

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return int(self.memory.shape[1])

    def __len__(self) -> int:
        return self._position()[1]

    @torch.no_grad()
    def add(self, vectors: torch.Tensor) -> None:
        """Store ``(N, dim)`` vectors (detached; gathered across ranks), replacing the oldest.

        Raises:
            ValueError: a wrong shape.
        """
        _checks.tensor("vectors", vectors, ndim=2, shape=f"(N, {self.dim})", nonempty=False)
        if not vectors.is_floating_point():
            raise TypeError(f"vectors must be floating point, got {vectors.dtype}")
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors must be (N, {self.dim}), got {tuple(vectors.shape)}")
        rows = concat_all_gather(vectors.detach())
        if torch.compiler.is_compiling():
            # under torch.compile: no data-dependent steps (the finite check and the Python
            # pointer arithmetic), tensor ops only; non-finite rows are not filtered here
            self._add_compiled(rows)
            return
        checks = _checks.deferred()
        if checks is not None and rows.is_floating_point():
            finite = torch.isfinite(rows).all(dim=1)
            checks.record("MemoryQueue.add vectors", finite.all(), "contain NaN or inf")
            rows = torch.where(finite[:, None], rows, torch.zeros_like(rows))
        elif rows.is_floating_point():
            finite = torch.isfinite(rows).all(dim=1)
            if not bool(finite.all()):
                warnings.warn(
                    f"MemoryQueue: {int((~finite).sum())} of {rows.shape[0]} vectors hold NaN or "
                    "inf and were not stored",
                    RuntimeWarning,
                    stacklevel=2,
                )
                rows = rows[finite]
        rows = rows[-self.size :].to(self.memory.dtype)  # only the newest fit
        if self.normalize:
            rows = nn.functional.normalize(rows, dim=1)
        n = rows.shape[0]
        if n == 0:
            return
        ptr, count = self._position()
        idx = (ptr + torch.arange(n, device=self.memory.device)) % self.size
        self.memory[idx] = rows.to(self.memory.device)
        ptr, count = (ptr + n) % self.size, min(self.size, count + n)
        self.ptr.fill_(ptr)
        self.count.fill_(count)
        self._remember(ptr, count)

    def _add_compiled(self, rows: torch.Tensor) -> None:
        rows = rows[-self.size :].to(self.memory.dtype)
        if self.normalize:
            rows = nn.functional.normalize(rows, dim=1)
        n = rows.shape[0]
        idx = (self.ptr + torch.arange(n, device=self.memory.device)) % self.size
        self.memory.index_copy_(0, idx, rows.to(self.memory.device))
        self.ptr.copy_((self.ptr + n) % self.size)
        self.count.copy_(torch.clamp(self.count + n, max=self.size))

    def features(self) -> torch.Tensor:
        """The stored ``(len(self), dim)`` vectors, oldest first."""
        ptr, n = self._position()
        if n < self.size:
            return self.memory[:n]
        return torch.roll(self.memory, -ptr, dims=0)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, size={self.size}, normalize={self.normalize}"


__all__ = ["MemoryQueue"]
