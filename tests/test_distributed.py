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

import torch

from saliencyaug.distributed import shuffle_batch, unshuffle_batch


def test_single_process_shuffle_is_the_identity() -> None:
    x = torch.randn(5, 3)
    shuffled, restore = shuffle_batch(x)
    assert torch.equal(shuffled, x) and torch.equal(unshuffle_batch(shuffled, restore), x)


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
