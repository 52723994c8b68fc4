"""The memory queue (MoCo keys, feature bank): FIFO order, wrap-around, state, gathering from
two gloo processes; MoCo's loss against it."""

from __future__ import annotations

import os
import socket
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from saliencyaug.memory import MemoryQueue


def unit(n: int, dim: int, offset: int = 0) -> torch.Tensor:
    return F.normalize(
        torch.arange(offset, offset + n * dim, dtype=torch.float32).view(n, dim) + 1, dim=1
    )


def test_enqueue_order_and_wrap_around() -> None:
    q = MemoryQueue(dim=3, size=5, normalize=True, initial="random")
    a, b, c = unit(2, 3, 0), unit(2, 3, 100), unit(3, 3, 200)
    q.add(a)
    assert int(q.ptr) == 2 and torch.allclose(q.memory[:2], a)
    q.add(b)
    assert int(q.ptr) == 4 and torch.allclose(q.memory[2:4], b)
    q.add(c)  # wraps: slots 4, 0, 1 take c, the oldest (a) is overwritten
    assert int(q.ptr) == 2
    assert (
        torch.allclose(q.memory[4], c[0])
        and torch.allclose(q.memory[0], c[1])
        and torch.allclose(q.memory[1], c[2])
    )
    assert torch.allclose(q.memory[2:4], b)
    assert torch.allclose(q.memory.norm(dim=1), torch.ones(5))


def test_queue_is_state_and_errors() -> None:
    q = MemoryQueue(dim=2, size=4, normalize=True, initial="random")
    q.add(unit(3, 2))
    clone = MemoryQueue(dim=2, size=4, normalize=True, initial="random")
    clone.load_state_dict(q.state_dict())
    assert torch.equal(clone.memory, q.memory) and int(clone.ptr) == 3
    q.add(unit(5, 2))  # more than fit: the newest 4 are kept, oldest first
    torch.testing.assert_close(q.features(), unit(5, 2)[1:])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        q.add(torch.randn(2, 3))
    with pytest.raises(ValueError, match="positive"):
        MemoryQueue(0, 4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gloo_worker(rank: int, port: int, normalize: bool, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        q = MemoryQueue(dim=3, size=8, normalize=normalize)
        q.add(unit(2, 3, offset=50 * rank))  # each rank has its own vectors
        torch.save({"features": q.features(), "ptr": q.ptr}, os.path.join(out_dir, f"r{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("normalize", [True, False])
def test_two_gloo_processes_gather_from_both_ranks(normalize: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_gloo_worker, args=(_free_port(), normalize, tmp), nprocs=2, join=True)
        results = [torch.load(os.path.join(tmp, f"r{r}.pt"), weights_only=True) for r in range(2)]
    expected = torch.cat([unit(2, 3, 0), unit(2, 3, 50)])  # rank order
    for res in results:
        assert int(res["ptr"]) == 4
        torch.testing.assert_close(res["features"], expected)
    assert torch.equal(results[0]["features"], results[1]["features"])


def test_bank_fifo_across_wrap_around() -> None:
    bank = MemoryQueue(dim=1, size=5)
    assert len(bank) == 0
    bank.add(torch.tensor([[1.0], [2.0], [3.0]]))
    assert bank.features().flatten().tolist() == [1, 2, 3]
    bank.add(torch.tensor([[4.0], [5.0], [6.0]]))
    assert bank.features().flatten().tolist() == [2, 3, 4, 5, 6] and len(bank) == 5
    bank.add(torch.tensor([[7.0]]))
    assert bank.features().flatten().tolist() == [3, 4, 5, 6, 7]
    bank.add(torch.arange(10.0, 17.0).view(7, 1))  # more than the bank holds: the newest 5
    assert bank.features().flatten().tolist() == [12, 13, 14, 15, 16]
    with pytest.raises(ValueError, match=r"\(N, 1\)"):
        bank.add(torch.zeros(2, 3))


def test_non_finite_vectors_are_never_stored() -> None:
    q = MemoryQueue(dim=2, size=4)
    with pytest.warns(RuntimeWarning, match="1 of 3 vectors hold NaN or inf"):
        q.add(torch.tensor([[1.0, 2.0], [float("inf"), 0.0], [3.0, 4.0]]))
    assert q.features().tolist() == [[1.0, 2.0], [3.0, 4.0]]
