"""MoCo v2: a FIFO queue of negative keys and InfoNCE against it.

He et al., CVPR 2020; Chen et al., arXiv 2003.04297 (MoCo v2).
"""

from __future__ import annotations

import torch
from torch import nn

from saliencyaug.distributed import concat_all_gather
from saliencyaug.losses import functional as LF


class KeyQueue(nn.Module):
    """A FIFO queue of ``size`` key vectors of dimension ``dim``, stored as buffers (so it is
    saved in ``state_dict`` and a resumed run continues with the same negatives).

    Keys are l2-normalised on entry; under DDP :meth:`enqueue` first gathers the keys of every
    rank (rank order), as MoCo does. The queue starts with random unit vectors.

    Args:
        dim: key dimension.
        size: number of keys (MoCo v2: 65536; must be at least one global batch).

    Example:
        >>> q = KeyQueue(dim=4, size=6)
        >>> q.enqueue(torch.eye(4)[:3]); int(q.ptr)
        3
    """

    queue: torch.Tensor
    ptr: torch.Tensor

    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        if dim < 1 or size < 1:
            raise ValueError(f"dim and size must be positive, got dim={dim}, size={size}")
        self.register_buffer("queue", nn.functional.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        """Capacity."""
        return self.queue.shape[0]

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Append keys (gathered from all ranks), overwriting the oldest; wraps around."""
        keys = concat_all_gather(keys.detach())
        if keys.ndim != 2 or keys.shape[1] != self.queue.shape[1]:
            raise ValueError(f"keys must be (B, {self.queue.shape[1]}), got {tuple(keys.shape)}")
        n = keys.shape[0]
        if n > self.size:
            raise ValueError(f"a global batch of {n} keys does not fit a queue of {self.size}")
        keys = nn.functional.normalize(keys.to(self.queue.dtype), dim=1)
        idx = (int(self.ptr) + torch.arange(n, device=self.queue.device)) % self.size
        self.queue[idx] = keys
        self.ptr.fill_((int(self.ptr) + n) % self.size)


class MoCoLoss(nn.Module):
    """InfoNCE of queries against their keys and a :class:`KeyQueue` of negatives.

    ``forward(q, k)`` returns the loss of the current queue, then enqueues ``k`` (unless
    ``update=False``), as in MoCo's training step.

    Args:
        dim: embedding dimension (MoCo v2: 128).
        queue_size: negatives (MoCo v2: 65536).
        temperature: softmax temperature (MoCo v2: 0.2).
    """

    def __init__(self, dim: int = 128, queue_size: int = 65536, temperature: float = 0.2) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.queue = KeyQueue(dim, queue_size)
        self.temperature = temperature

    def forward(self, q: torch.Tensor, k: torch.Tensor, update: bool = True) -> torch.Tensor:
        loss = LF.info_nce(q, k, self.queue.queue.clone(), self.temperature)
        if update:
            self.queue.enqueue(k)
        return loss
