"""A FIFO memory bank of feature vectors (second paper, section 3.4)."""

from __future__ import annotations

import torch
from torch import nn

from saliencyaug.distributed import concat_all_gather


class FeatureBank(nn.Module):
    """The newest ``size`` feature vectors (paper: D = 5632), oldest replaced first.

    Stored as buffers (saved in ``state_dict``); under DDP :meth:`add` gathers the vectors of
    every rank (rank order) first. ``features`` returns the filled part, oldest first.

    Args:
        dim: feature dimension ``n``.
        size: capacity ``D``.

    Example:
        >>> bank = FeatureBank(dim=2, size=3)
        >>> bank.add(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> bank.add(torch.tensor([[5.0, 6.0], [7.0, 8.0]]))
        >>> bank.features().tolist()
        [[3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
    """

    memory: torch.Tensor
    ptr: torch.Tensor
    count: torch.Tensor

    def __init__(self, dim: int, size: int = 5632) -> None:
        super().__init__()
        if dim < 1 or size < 1:
            raise ValueError(f"dim and size must be positive, got dim={dim}, size={size}")
        self.register_buffer("memory", torch.zeros(size, dim))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        """Capacity ``D``."""
        return self.memory.shape[0]

    def __len__(self) -> int:
        return int(self.count)

    @torch.no_grad()
    def add(self, features: torch.Tensor) -> None:
        """Store ``(B, n)`` vectors (detached; gathered across ranks), replacing the oldest."""
        feats = concat_all_gather(features.detach())
        if feats.ndim != 2 or feats.shape[1] != self.memory.shape[1]:
            raise ValueError(
                f"features must be (B, {self.memory.shape[1]}), got {tuple(feats.shape)}"
            )
        if feats.shape[0] > self.size:
            feats = feats[-self.size :]  # only the newest fit
        n = feats.shape[0]
        idx = (int(self.ptr) + torch.arange(n, device=self.memory.device)) % self.size
        self.memory[idx] = feats.to(self.memory.dtype)
        self.ptr.fill_((int(self.ptr) + n) % self.size)
        self.count.fill_(min(self.size, int(self.count) + n))

    def features(self) -> torch.Tensor:
        """``(len(self), n)`` stored vectors, oldest first."""
        n = int(self.count)
        if n < self.size:
            return self.memory[:n]
        return torch.roll(self.memory, -int(self.ptr), dims=0)
