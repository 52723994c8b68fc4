"""MoCo's shuffled BatchNorm under torchrun: each process writes what it saw.

torchrun --nproc_per_node 2 distributed_shuffle.py OUT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from saliencyaug.distributed import (
    broadcast_module,
    init_processes,
    shuffle_batch,
    unshuffle_batch,
)


def main() -> None:
    processes = init_processes("cpu")
    torch.manual_seed(processes.rank)  # each process its own stream, as the trainers seed
    x = torch.arange(4, dtype=torch.float32).view(4, 1) + 10 * processes.rank
    shuffled, restore = shuffle_batch(x)
    back = unshuffle_batch(shuffled * 2, restore)  # a per-sample op commutes with the shuffle
    net = torch.nn.Linear(3, 2)  # different on each rank until broadcast
    broadcast_module(net)
    Path(sys.argv[1], f"rank{processes.rank}.json").write_text(
        json.dumps(
            {
                "shuffled": shuffled.view(-1).tolist(),
                "back": back.view(-1).tolist(),
                "weight": net.weight.view(-1).tolist(),
            }
        )
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
