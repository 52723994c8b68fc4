"""torch.distributed helpers with two gloo processes: MoCo's shuffled BatchNorm sends each
process a slice of a permutation of the global batch and brings the keys back in order;
broadcast_module makes every copy rank 0's."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from saliencyaug.distributed import forward_in_sub_batches, shuffle_batch, unshuffle_batch


def test_single_process_shuffle_permutes_and_restores() -> None:
    x = torch.arange(64.0).view(32, 2)
    torch.manual_seed(0)
    shuffled, restore = shuffle_batch(x)
    assert not torch.equal(shuffled, x)  # a fixed point of 32! is no permutation worth testing
    assert sorted(shuffled[:, 0].tolist()) == x[:, 0].tolist()
    assert torch.equal(unshuffle_batch(shuffled, restore), x)
    torch.manual_seed(0)  # rank 0 of several processes draws the same permutation
    assert torch.equal(shuffled, x[torch.randperm(32)])


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_keys_of_one_sub_batch_share_no_statistics_with_another() -> None:
    net = _bn_net().train()
    x = torch.randn(8, 3)
    out = forward_in_sub_batches(net, x, 4)
    # each part is exactly the network on that part alone (its own BatchNorm statistics)
    for k, part in enumerate(x.chunk(4)):
        torch.testing.assert_close(out[2 * k : 2 * k + 2], net(part), rtol=0, atol=0)
    changed = x.clone()
    changed[6:] *= 50.0  # another sub-batch: the first keys do not move
    assert torch.equal(forward_in_sub_batches(net, changed, 4)[:6], out[:6])
    whole = net(x)  # one batch: every key moves (the control)
    assert not torch.allclose(net(changed)[:6], whole[:6])


def test_sub_batches_that_do_not_split_the_batch_are_refused() -> None:
    net = _bn_net().train()
    with pytest.raises(ValueError, match="cannot be split into 3"):
        forward_in_sub_batches(net, torch.randn(8, 3), 3)
    with pytest.raises(ValueError, match="at least 2"):
        forward_in_sub_batches(net, torch.randn(4, 3), 4)
    with pytest.raises(ValueError, match="sub_batches must be an integer"):
        forward_in_sub_batches(net, torch.randn(4, 3), 0)
    x = torch.randn(4, 3)
    assert torch.equal(forward_in_sub_batches(net, x, 1), net(x))


def test_moco_key_sub_batches_come_from_the_recipe() -> None:
    from saliencyaug.distributed import Processes
    from saliencyaug.training import RecipeError, apply_overrides, key_sub_batches, load_recipe

    one = Processes(0, 1, torch.device("cpu"))
    recipe = load_recipe("smoke-moco")
    assert key_sub_batches(recipe, one) == 2
    assert key_sub_batches(recipe, Processes(0, 2, torch.device("cpu"))) == 1  # real shuffle
    assert key_sub_batches(apply_overrides(recipe, ["moco.shuffle_bn=false"]), one) == 1
    with pytest.raises(RecipeError, match=r"moco.bn_splits = 3 .* optim.batch_size = 4"):
        key_sub_batches(apply_overrides(recipe, ["moco.bn_splits=3"]), one)
    assert key_sub_batches(load_recipe("moco-v2-table1-cub"), one) == 8


def test_two_processes_shuffle_across_ranks_and_restore(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    cmd += ["--master_port", str(port), str(Path(__file__).parent / "distributed_shuffle.py")]
    done = subprocess.run(
        [*cmd, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    together = sorted(ranks[0]["shuffled"] + ranks[1]["shuffled"])
    assert together == [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0]  # a permutation of the batch
    assert set(ranks[0]["shuffled"]) & {10.0, 11.0, 12.0, 13.0}  # keys moved across ranks
    assert ranks[0]["back"] == [0.0, 2.0, 4.0, 6.0]  # each rank its own keys, in order
    assert ranks[1]["back"] == [20.0, 22.0, 24.0, 26.0]
    assert ranks[0]["weight"] == ranks[1]["weight"]
