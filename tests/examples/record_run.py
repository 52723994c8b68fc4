"""Run a trainer as torchrun starts it and record, per process, what the multi-process tests
check: the online network right after DDP wrapped it, the momentum network before its first
update, a digest of every view trained on, and the decoder at the end.

    torchrun --nproc_per_node 2 record_run.py examples/train_byol.py --recipe ... --out OUT
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

import saliencyaug.training.pairs as pairs_module
from saliencyaug.distributed import rank, unwrap
from saliencyaug.training import run_trainer


def digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().contiguous().numpy().tobytes()).hexdigest()[:16]


def state_digest(module: Any) -> str:
    h = hashlib.sha256()
    for name, p in sorted(unwrap(module).named_parameters()):
        h.update(name.encode() + p.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def trainer_from_argv() -> tuple[ModuleType, list[str], Path]:
    """The trainer script named first on the command line, loaded as a module, the trainer's
    own arguments, and its ``--out`` folder."""
    script, argv = Path(sys.argv[1]), sys.argv[2:]
    spec = importlib.util.spec_from_file_location(script.stem, script)
    assert spec is not None and spec.loader is not None
    trainer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trainer)
    return trainer, argv, Path(argv[argv.index("--out") + 1])


def main() -> int:
    trainer, argv, out = trainer_from_argv()
    record: dict[str, Any] = {"views": []}
    decoders: list[Any] = []
    real_wrap, real_loaders = trainer.wrap_ddp, trainer.epoch_loaders
    real_ema = getattr(trainer, "ema_update", None)

    def wrap_ddp(module: Any, *args: Any, **kwargs: Any) -> Any:
        wrapped = real_wrap(module, *args, **kwargs)
        if "online_start" not in record:
            record["online_start"] = state_digest(wrapped)
        else:
            decoders.append(wrapped)
        return wrapped

    def ema_update(target: Any, online: Any, momentum: float) -> None:
        record.setdefault("target_start", state_digest(target))
        assert real_ema is not None
        real_ema(target, online, momentum)

    def recorded(loader: Any) -> Any:
        for views, labels in loader:
            record["views"] += [digest(v) for v in views["view1"]]
            yield views, labels

    def epoch_loaders(*args: Any, **kwargs: Any) -> Any:
        for epoch, loader in real_loaders(*args, **kwargs):
            yield epoch, recorded(loader)

    trainer.wrap_ddp, trainer.epoch_loaders = wrap_ddp, epoch_loaders
    pairs_module.wrap_ddp = wrap_ddp  # type: ignore[assignment]
    if real_ema is not None:
        trainer.ema_update = ema_update
    code = run_trainer(trainer.train, "recorded run", argv)
    if decoders:
        record["decoder_end"] = state_digest(decoders[0])
    (out / f"rank{rank()}.json").write_text(json.dumps(record))
    return code


if __name__ == "__main__":
    sys.exit(main())
