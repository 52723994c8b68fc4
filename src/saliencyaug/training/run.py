"""Run folders: where a training run keeps its recipe, checkpoints, encoder, logs and report,
safely.

* A run never overwrites another run's files unless told to (``overwrite``); ``resume``
  continues the run in the folder and refuses a different recipe, naming each changed value.
* Every file is written atomically (a ``kill -9`` leaves the old file or the new one, never half
  of one); temporary files of killed writes are removed at the next start.
* The checkpoint holds every process's RNG states (torch, CUDA, numpy, random) and is read with
  ``weights_only=True``; a damaged one is named in a one-line error.
* ``log.jsonl`` gets one JSON object per logged step; a torn last line (a kill mid-write) is
  dropped on resume, as are entries past the checkpoint. TensorBoard logs go beside it when
  TensorBoard is installed.
* One writer per folder: a second run into the same folder stops at once.
"""

from __future__ import annotations

import json
import random
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from saliencyaug.distributed import Processes, is_distributed
from saliencyaug.io import (
    OutputLock,
    atomic_write_text,
    atomic_writer,
    leftover_temporaries,
    load_torch_file,
)
from saliencyaug.models import CHECKPOINT_FORMAT, save_encoder
from saliencyaug.training.recipe import Recipe, backbone_options, recipe_differences

#: What a run writes into its folder (``overwrite`` removes these and nothing else).
RUN_FILES = ("checkpoint.pt", "encoder.pt", "log.jsonl", "recipe.json", "report.json")
RUN_FOLDERS = ("tensorboard", "boxes", "bundled", "snapshots")


class RunError(RuntimeError):
    """A run folder that cannot be used as asked; the message says why and what to do."""


def capture_rng_state() -> dict[str, Any]:
    """This process's RNG states (torch, CUDA, numpy, random) as tensors and plain values,
    loadable with ``weights_only=True``."""
    np_state: Any = np.random.get_state()
    py_state: Any = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {
            "version": py_state[0],
            "state": torch.tensor(py_state[1], dtype=torch.int64),
            "gauss": py_state[2],
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Undo :func:`capture_rng_state`'s snapshot into this process's generators."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(x) for x in p["state"].tolist()), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class RunFolder:
    """The folder of one training run (see the module docstring).

    Args:
        path: the folder (created if needed).
        recipe: the resolved recipe; written to ``recipe.json``.
        resume: continue the run in the folder (from its checkpoint, if it has one).
        overwrite: replace the run in the folder (its files only).
        processes: this process's place (only rank 0 writes); default: a single process.

    Raises:
        RunError: the folder holds another run and neither ``resume`` nor ``overwrite`` was
            given; ``resume`` with a different recipe; another process writes the folder; a
            damaged checkpoint or recipe.
    """

    def __init__(
        self,
        path: str | Path,
        recipe: Recipe,
        *,
        resume: bool = False,
        overwrite: bool = False,
        processes: Processes | None = None,
    ) -> None:
        if resume and overwrite:
            raise RunError("--resume and --overwrite contradict each other; choose one")
        self.path = Path(path)
        self.recipe = recipe
        self.processes = processes or Processes(0, 1, torch.device("cpu"))
        self.main = self.processes.main
        self._lock: OutputLock | None = None
        self._tensorboard: Any = None
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"--out {self.path} is a file, not a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunError(f"cannot create --out {self.path}: {err.strerror or err}") from err
        if self.main:
            self._lock = OutputLock(self.path / "run", "another training run")
            try:
                self._lock.acquire()
            except RuntimeError as err:
                raise RunError(str(err)) from None
            except OSError as err:
                raise RunError(f"cannot write in {self.path}: {err.strerror or err}") from err
        try:
            self._check(resume, overwrite)
            if self.main:
                self._prepare(overwrite)
        except BaseException:
            self.close()
            raise
        if is_distributed():
            dist.barrier()
        self.resume = resume

    # -- starting ---------------------------------------------------------------------------

    def _existing_step(self) -> int | None:
        """The step of the run in the folder (0 if it has results but no log), or None when it
        holds nothing to lose (no checkpoint, encoder, report or logged step; a run that
        stopped before its first step leaves only its recipe)."""
        entries = _read_log(self.path / "log.jsonl")
        if entries:
            return int(entries[-1].get("step", 0))
        results = ("checkpoint.pt", "encoder.pt", "report.json")
        return 0 if any((self.path / f).exists() for f in results) else None

    def _check(self, resume: bool, overwrite: bool) -> None:
        step = self._existing_step()
        if step is None or overwrite:
            return
        if not resume:
            raise RunError(
                f"{self.path} already holds a run (logged up to step {step}); pass --resume to "
                "continue it, --overwrite to replace it, or choose another --out"
            )
        recorded = self.path / "recipe.json"
        if recorded.exists():
            try:
                old = json.loads(recorded.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise RunError(
                    f"{recorded} cannot be read ({err}); restore it or --overwrite"
                ) from err
            changes = recipe_differences(old, self.recipe)
            if changes:
                raise RunError(
                    f"--resume with a different recipe than the run in {self.path}: "
                    + "; ".join(changes)
                    + ". Resume with the same values, or start a new run with another --out"
                )

    def _prepare(self, overwrite: bool) -> None:
        if overwrite:
            for name in RUN_FILES:
                (self.path / name).unlink(missing_ok=True)
            for name in RUN_FOLDERS:
                shutil.rmtree(self.path / name, ignore_errors=True)
        for name in RUN_FILES:  # writes that a kill interrupted
            for leftover in leftover_temporaries(self.path / name):
                leftover.unlink(missing_ok=True)
        atomic_write_text(self.path / "recipe.json", json.dumps(self.recipe, indent=2) + "\n")

    # -- checkpoints ------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    def load_checkpoint(self, device: torch.device | str = "cpu") -> dict[str, Any] | None:
        """The run's checkpoint when resuming and one exists, else None.

        Raises:
            RunError: the checkpoint is damaged.
        """
        if not (self.resume and self.checkpoint_path.exists()):
            return None
        try:
            checkpoint: dict[str, Any] = load_torch_file(self.checkpoint_path, device)
        except ValueError as err:
            raise RunError(
                f"{self.checkpoint_path} is damaged and cannot be resumed from ({err}); delete "
                "it to start over, or restore a copy"
            ) from None
        return checkpoint

    def save_checkpoint(self, state: Mapping[str, Any]) -> None:
        """Write ``state`` plus every process's RNG states as ``checkpoint.pt``, atomically
        (rank 0 writes; every process must call it, as the RNG states are gathered)."""
        rng = capture_rng_state()
        if is_distributed():
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, rng)
        else:
            gathered = [rng]
        if self.main:
            with atomic_writer(self.checkpoint_path) as fh:
                torch.save({**state, "rng": gathered}, fh)

    def restore_rng(self, checkpoint: Mapping[str, Any]) -> None:
        """Put this process's RNG states back from ``checkpoint`` (when it was written with the
        same number of processes; otherwise the caller's seeding stands, with a warning)."""
        states = checkpoint.get("rng", [])
        if len(states) == self.processes.world:
            restore_rng_state(states[self.processes.rank])
        else:
            warnings.warn(
                f"the checkpoint holds RNG states of {len(states)} processes, this run has "
                f"{self.processes.world}: the resumed run's random draws differ from an "
                "uninterrupted one",
                stacklevel=2,
            )

    def save_state(
        self,
        step: int,
        modules: Mapping[str, torch.nn.Module],
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
    ) -> None:
        """:meth:`save_checkpoint` of a training state: the modules' state dicts under their
        names, optimiser, scaler, step, and the recipe's architecture (so that
        :func:`~saliencyaug.models.load_encoder` reads the checkpoint; the ``"online"`` module's
        ``backbone`` is the encoder)."""
        model = self.recipe["model"]
        self.save_checkpoint(
            {
                "format": CHECKPOINT_FORMAT,
                "arch": model["arch"],
                "options": backbone_options(self.recipe),
                **{name: module.state_dict() for name, module in modules.items()},
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "step": step,
            }
        )
        every = self.recipe["train"]["snapshot_every"]
        if self.main and every > 0 and step > 0 and step % every == 0:
            backbone = getattr(modules["online"], "backbone", modules["online"])
            save_encoder(
                self.path / "snapshots" / f"encoder-step{step:06d}.pt",
                backbone,
                model["arch"],
                backbone_options(self.recipe),
            )

    def saves_at(self, step: int, total: int) -> bool:
        """Whether the trainer calls :meth:`save_state` after ``step``: every
        ``train.checkpoint_every`` and ``train.snapshot_every`` steps, and at the last step."""
        train = self.recipe["train"]
        return (
            step == total
            or step % train["checkpoint_every"] == 0
            or (train["snapshot_every"] > 0 and step % train["snapshot_every"] == 0)
        )

    def resume_state(
        self,
        modules: Mapping[str, torch.nn.Module],
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
    ) -> int | None:
        """Load the checkpoint written by :meth:`save_state` into the modules, optimiser and
        scaler and restore the RNG states; returns its step, or None when the run starts
        fresh. Then opens the log (kept up to that step)."""
        checkpoint = self.load_checkpoint(self.processes.device)
        step = None
        if checkpoint is not None:
            missing = [name for name in modules if name not in checkpoint]
            if missing:
                raise RunError(
                    f"{self.checkpoint_path} holds no {', '.join(missing)}: it was written by "
                    "another trainer or recipe"
                )
            for name, module in modules.items():
                module.load_state_dict(checkpoint[name])
            optimizer.load_state_dict(checkpoint["optimizer"])
            scaler.load_state_dict(checkpoint["scaler"])
            step = int(checkpoint["step"])
            self.restore_rng(checkpoint)
        self.open_log(step, tensorboard=self.recipe["train"]["tensorboard"])
        return step

    def save_encoder(
        self, backbone: torch.nn.Module, arch: str, options: Mapping[str, Any]
    ) -> Path:
        """Write ``encoder.pt`` (rank 0), atomically; returns its path."""
        path = self.path / "encoder.pt"
        if self.main:
            save_encoder(path, backbone, arch, options)
        return path

    def write_json(self, name: str, data: Any) -> None:
        """Write ``name`` (e.g. ``report.json``) in the folder, atomically (rank 0)."""
        if self.main:
            atomic_write_text(self.path / name, json.dumps(data, indent=2) + "\n")

    # -- logs -------------------------------------------------------------------------------

    def open_log(self, resume_step: int | None, *, tensorboard: bool = True) -> None:
        """Start ``log.jsonl`` (rank 0): kept up to ``resume_step`` when resuming, else new."""
        if not self.main:
            return
        path = self.path / "log.jsonl"
        entries = _read_log(path) if resume_step is not None else []
        kept = [e for e in entries if int(e.get("step", 0)) <= (resume_step or 0)]
        atomic_write_text(path, "".join(json.dumps(e) + "\n" for e in kept))
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # optional: pip install 'saliencyaug[train]'
                return
            self._tensorboard = SummaryWriter(
                str(self.path / "tensorboard"), purge_step=resume_step
            )

    def log(self, entry: Mapping[str, Any]) -> None:
        """Append one entry (a dict with ``step``) to ``log.jsonl`` and TensorBoard (rank 0)."""
        if not self.main:
            return
        with open(self.path / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(dict(entry)) + "\n")
        if self._tensorboard is not None:
            for key, value in entry.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._tensorboard.add_scalar(key, value, int(entry["step"]))

    def close(self) -> None:
        """Flush the logs and release the folder."""
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_log(path: Path) -> list[dict[str, Any]]:
    """The entries of a ``log.jsonl``; a torn or damaged line (a kill mid-write) is skipped."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


__all__ = [
    "RUN_FILES",
    "RunError",
    "RunFolder",
    "capture_rng_state",
    "restore_rng_state",
]
