"""Epoch shards and per-sample seeds: processes and workers draw differently, seeds reproduce,
resumed epochs continue exactly, and no global RNG state changes."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from saliencyaug.training import EpochShardSampler, epoch_loader, sample_seed


class Noise(Dataset):
    """Every item is a fresh draw from torch's RNG: equal items mean equal draws."""

    def __len__(self) -> int:
        return 20

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.rand(3), index


def _items(**kwargs: object) -> list[tuple[list[float], int]]:
    out = []
    for draws, index in epoch_loader(Noise(), 8, seed=3, epoch=1, **kwargs):  # type: ignore[arg-type]
        out += list(zip(draws.tolist(), index.tolist(), strict=True))
    return out


def test_shards_partition_each_global_batch_and_skip_resumes() -> None:
    full = list(EpochShardSampler(20, 8, seed=0, epoch=0))
    assert len(full) == 16 and len({i for i, _ in full}) == 16  # 2 steps, remainder dropped
    shards = [list(EpochShardSampler(20, 8, seed=0, epoch=0, rank=r, world=2)) for r in range(2)]
    for step in range(2):  # step k of every rank covers global positions [8k, 8k + 8)
        together = shards[0][4 * step : 4 * step + 4] + shards[1][4 * step : 4 * step + 4]
        assert sorted(together) == sorted(full[8 * step : 8 * step + 8])
    assert list(EpochShardSampler(20, 8, seed=0, epoch=0, skip=1)) == full[8:]
    assert list(EpochShardSampler(20, 8, seed=0, epoch=1)) != full


def test_draws_differ_across_ranks_and_workers_and_do_not_depend_on_workers() -> None:
    before = torch.get_rng_state()
    alone = _items()
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG is left alone
    with_workers = _items(num_workers=2)
    assert with_workers == alone  # the same draws whatever the number of workers
    ranks = [_items(rank=r, world=2, num_workers=2) for r in range(2)]
    draws = [tuple(d) for r in ranks for d, _ in r]
    assert len(set(draws)) == len(draws) == 16  # every process and worker draws its own
    assert sorted(ranks[0] + ranks[1]) == sorted(alone)  # and together they are the 1-process run
    resumed = []
    for d, i in epoch_loader(Noise(), 8, seed=3, epoch=1, skip=1, num_workers=2):
        resumed += list(zip(d.tolist(), i.tolist(), strict=True))
    assert resumed == alone[8:]  # a resumed epoch draws what the uninterrupted one drew
    assert _items() == alone and sample_seed(3, 1, 0) != sample_seed(4, 1, 0)
