"""MoCo key queue: FIFO order, wrap-around, gathering from two gloo processes."""

from __future__ import annotations

import os
import socket
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from saliencyaug.losses import KeyQueue, MoCoLoss, info_nce


def unit(n: int, dim: int, offset: int = 0) -> torch.Tensor:
    return F.normalize(
        torch.arange(offset, offset + n * dim, dtype=torch.float32).view(n, dim) + 1, dim=1
    )


def test_enqueue_order_and_wrap_around() -> None:
    q = KeyQueue(dim=3, size=5)
    a, b, c = unit(2, 3, 0), unit(2, 3, 100), unit(3, 3, 200)
    q.enqueue(a)
    assert int(q.ptr) == 2 and torch.allclose(q.queue[:2], a)
    q.enqueue(b)
    assert int(q.ptr) == 4 and torch.allclose(q.queue[2:4], b)
    q.enqueue(c)  # wraps: slots 4, 0, 1 take c, the oldest (a) is overwritten
    assert int(q.ptr) == 2
    assert (
        torch.allclose(q.queue[4], c[0])
        and torch.allclose(q.queue[0], c[1])
        and torch.allclose(q.queue[1], c[2])
    )
    assert torch.allclose(q.queue[2:4], b)
    assert torch.allclose(q.queue.norm(dim=1), torch.ones(5))


def test_queue_is_state_and_errors() -> None:
    q = KeyQueue(dim=2, size=4)
    q.enqueue(unit(3, 2))
    clone = KeyQueue(dim=2, size=4)
    clone.load_state_dict(q.state_dict())
    assert torch.equal(clone.queue, q.queue) and int(clone.ptr) == 3
    with pytest.raises(ValueError, match="does not fit"):
        q.enqueue(unit(5, 2))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        q.enqueue(torch.randn(2, 3))
    with pytest.raises(ValueError, match="positive"):
        KeyQueue(0, 4)


def test_moco_loss_uses_the_queue_then_enqueues() -> None:
    torch.manual_seed(0)
    loss_fn = MoCoLoss(dim=4, queue_size=8, temperature=0.2)
    before = loss_fn.queue.queue.clone()
    q, k = torch.randn(2, 4), torch.randn(2, 4)
    loss = loss_fn(q, k)
    torch.testing.assert_close(loss, info_nce(q, k, before, 0.2))
    assert torch.allclose(loss_fn.queue.queue[:2], F.normalize(k, dim=1))
    loss_fn(q, k, update=False)
    assert int(loss_fn.queue.ptr) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gloo_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        q = KeyQueue(dim=3, size=8)
        keys = unit(2, 3, offset=50 * rank)  # each rank has its own keys
        q.enqueue(keys)
        torch.save({"queue": q.queue, "ptr": q.ptr}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_gather_keys_from_both_ranks() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_gloo_worker, args=(2, _free_port(), tmp), nprocs=2, join=True)
        results = [
            torch.load(os.path.join(tmp, f"rank{r}.pt"), weights_only=True) for r in range(2)
        ]
    expected = torch.cat([unit(2, 3, 0), unit(2, 3, 50)])  # rank order
    for res in results:
        assert int(res["ptr"]) == 4
        assert torch.allclose(res["queue"][:4], expected)
    assert torch.equal(results[0]["queue"][:4], results[1]["queue"][:4])
