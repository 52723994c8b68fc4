"""Data loading for training runs: one data order per epoch shared by all processes, each
process its own shard, and every sample's augmentation drawn from its own seed.

Seeding each sample's transform from ``(seed, epoch, position in the epoch)`` gives three
properties at once: processes and DataLoader workers draw different augmentations (different
positions); a fixed seed reproduces the run whatever the number of workers; and a run resumed
mid-epoch draws exactly what the uninterrupted run drew for the batches still to come.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from saliencyaug import _checks

_MIX = 0x9E3779B97F4A7C15  # golden-ratio constant: spreads consecutive seeds apart


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """The seed of the sample at ``position`` of ``epoch``'s global order (a 63-bit integer).

    Examples:
        >>> sample_seed(0, 0, 0) != sample_seed(0, 0, 1) != sample_seed(0, 1, 0)
        True
    """
    x = (seed * 1_000_003 + epoch) * 2_147_483_647 + position
    x = (x * _MIX + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 31
    return x & 0x7FFFFFFFFFFFFFFF


class SeededSamples(Dataset):
    """``dataset[index]`` computed under ``torch.manual_seed(seed)`` for items ``(index, seed)``
    (the global RNG state of the calling process is restored afterwards)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, item: tuple[int, int]) -> Any:
        index, seed = item
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


class EpochShardSampler(Sampler[tuple[int, int]]):
    """This process's ``(index, seed)`` items of one epoch.

    The epoch's order is a permutation drawn from ``(seed, epoch)``, the same on every
    process; it is cut to a multiple of the global batch (the remainder is dropped, as
    ``drop_last``) and dealt out in contiguous blocks of ``batch_size // world`` per process
    and step, so that step ``k`` of every process covers global positions
    ``[k * batch_size, (k + 1) * batch_size)``. The first ``skip`` steps are left out (resume).
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        *,
        seed: int,
        epoch: int,
        rank: int = 0,
        world: int = 1,
        skip: int = 0,
    ) -> None:
        self.size = _checks.integer("size", size, minimum=0)
        self.batch_size = _checks.integer("batch_size", batch_size, minimum=1)
        world = _checks.integer("world", world, minimum=1)
        if self.batch_size % world:
            raise ValueError(
                f"batch_size ({batch_size}, global) must be divisible by the number of "
                f"processes ({world})"
            )
        self.seed, self.epoch, self.rank, self.world = seed, epoch, rank, world
        self.skip = _checks.integer("skip", skip, minimum=0)

    def steps(self) -> int:
        """Steps in a full epoch."""
        return self.size // self.batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        g = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, -1) & 0xFFFFFFFF)
        order = torch.randperm(self.size, generator=g).tolist()
        per_rank = self.batch_size // self.world
        for step in range(self.skip, self.steps()):
            start = step * self.batch_size + self.rank * per_rank
            for position in range(start, start + per_rank):
                yield order[position], sample_seed(self.seed, self.epoch, position)

    def __len__(self) -> int:
        return max(0, self.steps() - self.skip) * (self.batch_size // self.world)


def epoch_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    rank: int = 0,
    world: int = 1,
    skip: int = 0,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """The DataLoader of one epoch for this process (see :class:`EpochShardSampler`).

    Args:
        dataset: a map-style dataset; its transform draws from torch's RNG.
        batch_size: the global batch size (over all processes).
        seed: the run's seed.
        epoch: the epoch.
        rank: this process's rank.
        world: the number of processes.
        skip: steps of this epoch already done (resume).
        num_workers: DataLoader worker processes (results do not depend on it).
        pin_memory: DataLoader's ``pin_memory``.

    Examples:
        >>> from torch.utils.data import TensorDataset
        >>> ds = TensorDataset(torch.arange(10))
        >>> [b[0].tolist() for b in epoch_loader(ds, 4, seed=0, epoch=0)]
        [[5, 9, 4, 3], [6, 8, 7, 0]]
    """
    if not isinstance(dataset, Sized):
        raise TypeError("dataset must be a map-style dataset with a length")
    sampler = EpochShardSampler(
        len(dataset), batch_size, seed=seed, epoch=epoch, rank=rank, world=world, skip=skip
    )
    return DataLoader(
        SeededSamples(dataset),
        batch_size=batch_size // world,
        sampler=sampler,
        num_workers=_checks.integer("num_workers", num_workers, minimum=0),
        pin_memory=pin_memory,
        drop_last=True,
        persistent_workers=False,
        # DataLoader draws its workers' base seed from here, not from the global RNG
        generator=torch.Generator().manual_seed(sample_seed(seed, epoch, -2 - rank) & 0xFFFFFFFF),
    )


class Epochs:
    """A re-iterable over epochs: its n-th iteration yields element ``item`` of each batch of
    epoch n (:func:`epoch_loader`), for functions that loop over "the data" several times, such
    as :func:`~saliencyaug.synthesized.pretrain_decoder`."""

    def __init__(self, dataset: Dataset, batch_size: int, item: int = 0, **options: Any) -> None:
        self.dataset, self.batch_size, self.item, self.options = dataset, batch_size, item, options
        self.epoch = 0

    def __iter__(self) -> Iterator[Any]:
        loader = epoch_loader(self.dataset, self.batch_size, epoch=self.epoch, **self.options)
        self.epoch += 1
        return (batch[self.item] for batch in loader)


__all__ = [
    "EpochShardSampler",
    "Epochs",
    "SeededSamples",
    "epoch_loader",
    "sample_seed",
]
