"""Fine-tune under torchrun and write each process's result (for test_protocols.py).

torchrun --nproc_per_node 2 finetune_ranks.py TRAIN TEST OUT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from saliencyaug.distributed import init_processes
from saliencyaug.evaluation import FinetuneProtocol, finetune, finetune_transforms
from saliencyaug.evaluation.report import folder_splits
from saliencyaug.models import make_backbone


def main() -> None:
    processes = init_processes("cpu")
    train, test = folder_splits(sys.argv[1], sys.argv[2])
    train.transform, test.transform = finetune_transforms(32)
    torch.manual_seed(0)
    encoder = make_backbone("small_resnet", widths=(8, 8, 16, 16))
    tiny = FinetuneProtocol(
        "tiny", lrs=(0.05,), weight_decays=(1e-4,), epochs=2, batch_size=4, trials=2
    )
    result = finetune(encoder, train, test, 2, tiny, seed=0)
    Path(sys.argv[3], f"rank{processes.rank}.json").write_text(json.dumps(result.as_dict()))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
