"""Run a trainer alone or as torchrun starts it, with every BatchNorm frozen (running
statistics, as in eval mode: per-process batch statistics are the one thing that may differ
between process counts), and record what the process-count test compares: the losses each
process logs at every step, and the trained parameters of rank 0 (NPZ).

    python compare_ranks.py examples/train_moco.py --recipe ... --out OUT
    torchrun --nproc_per_node 2 compare_ranks.py examples/train_moco.py --recipe ... --out OUT

Everything else is the trainer's own: its seeding, data loading with workers, DDP, losses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

import saliencyaug.training.pairs as pairs_module
from saliencyaug.distributed import rank, unwrap
from saliencyaug.training import run_trainer

sys.path.insert(0, str(Path(__file__).parent))  # torchrun runs this file as a script
from record_run import trainer_from_argv


def frozen_batchnorm(self: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(
        x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
    )


def main() -> int:
    trainer, argv, out = trainer_from_argv()
    _BatchNorm.forward = frozen_batchnorm  # type: ignore[method-assign]
    logged: list[dict[str, Any]] = []
    wrapped: list[Any] = []
    real_wrap, real_start = trainer.wrap_ddp, trainer.start_run

    def wrap_ddp(module: Any, *args: Any, **kwargs: Any) -> Any:
        wrapped.append(real_wrap(module, *args, **kwargs))
        return wrapped[-1]

    def start_run(*args: Any, **kwargs: Any) -> Any:
        run = real_start(*args, **kwargs)
        real_log = run.log

        def log(entry: Any) -> None:  # every process, not only rank 0
            logged.append(dict(entry))
            real_log(entry)

        run.log = log
        return run

    def finish_run(run: Any, backbone: Any) -> None:  # no evaluation: parameters are enough
        if rank() == 0:
            params = {
                f"{k}/{name}": p.detach().numpy()
                for k, module in enumerate(wrapped)
                for name, p in unwrap(module).named_parameters()
            }
            np.savez(out / "parameters.npz", **params)
        run.close()

    trainer.wrap_ddp, trainer.start_run, trainer.finish_run = wrap_ddp, start_run, finish_run
    pairs_module.wrap_ddp = wrap_ddp  # type: ignore[assignment]
    code = run_trainer(trainer.train, "recorded run", argv)
    (out / f"losses{rank()}.json").write_text(json.dumps(logged))
    return code


if __name__ == "__main__":
    sys.exit(main())
