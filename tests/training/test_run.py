"""Run folders: nothing overwritten unless asked, recipes recorded and compared, atomic files,
torn logs and damaged checkpoints handled, one writer at a time, one-line errors."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from saliencyaug.training import (
    RunError,
    RunFolder,
    apply_overrides,
    capture_rng_state,
    load_recipe,
    restore_rng_state,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _tiny_encoder() -> torch.nn.Module:
    from saliencyaug.models import make_backbone

    return make_backbone("small_resnet", widths=(4, 8, 8, 8))


TINY = ("small_resnet", {"widths": [4, 8, 8, 8]})


def _finished_run(path: Path) -> None:
    with RunFolder(path, load_recipe("smoke-byol")) as run:
        run.open_log(None, tensorboard=False)
        for step in (1, 2, 3):
            run.log({"step": step, "loss": 1.0 / step})
        run.save_checkpoint({"step": 3, "weights": torch.ones(3)})
        run.save_encoder(_tiny_encoder(), *TINY)


def test_a_run_is_never_overwritten_without_being_told(tmp_path: Path) -> None:
    _finished_run(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(RunError, match=r"already holds a run.*step 3.*--resume.*--overwrite"):
        RunFolder(tmp_path, load_recipe("smoke-byol"))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    mine = tmp_path / "notes.txt"
    mine.write_text("keep me")
    with RunFolder(tmp_path, load_recipe("smoke-cvsa"), overwrite=True):
        pass
    assert not (tmp_path / "checkpoint.pt").exists() and mine.read_text() == "keep me"
    assert json.loads((tmp_path / "recipe.json").read_text())["cvsa"]["enabled"] is True


def test_resume_refuses_a_different_recipe_and_names_each_change(tmp_path: Path) -> None:
    _finished_run(tmp_path)
    changed = apply_overrides(
        load_recipe("smoke-byol"),
        ["optim.base_lr=30", "optim.batch_size=2", "data.size=32", "train.seed=7"],
    )
    with pytest.raises(RunError) as err:
        RunFolder(tmp_path, changed, resume=True)
    message = str(err.value)
    for change in ("optim.base_lr: 0.3 -> 30.0", "optim.batch_size: 4 -> 2", "data.size: 64 -> 32"):
        assert change in message
    assert "train.seed: 0 -> 7" in message and "\n" not in message
    moved = apply_overrides(load_recipe("smoke-byol"), ["data.root=/moved", "train.log_every=9"])
    with RunFolder(tmp_path, moved, resume=True) as run:
        assert run.load_checkpoint()["step"] == 3  # type: ignore[index]


def test_torn_log_line_and_entries_past_the_checkpoint_are_dropped(tmp_path: Path) -> None:
    _finished_run(tmp_path)
    with open(tmp_path / "log.jsonl", "a") as fh:
        fh.write('{"step": 4, "loss": 0.2}\n{"step": 5, "lo')  # killed mid-write
    with RunFolder(tmp_path, load_recipe("smoke-byol"), resume=True) as run:
        run.open_log(3, tensorboard=False)
        run.log({"step": 4, "loss": 0.25})
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]


def test_damaged_checkpoint_is_named_and_leftover_temporaries_removed(tmp_path: Path) -> None:
    _finished_run(tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    leftover = tmp_path / ".checkpoint.pt.abc123.tmp"
    leftover.write_bytes(b"half")
    with RunFolder(tmp_path, load_recipe("smoke-byol"), resume=True) as run:
        assert not leftover.exists()
        with pytest.raises(RunError, match=r"checkpoint.pt is damaged.*delete it"):
            run.load_checkpoint()


def test_a_failed_write_leaves_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _finished_run(tmp_path)
    encoder = (tmp_path / "encoder.pt").read_bytes()

    def dies_midway(obj: object, f: object, *args: object, **kwargs: object) -> None:
        f.write(b"half a file")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_midway)
    with RunFolder(tmp_path, load_recipe("smoke-byol"), resume=True) as run:
        with pytest.raises(KeyboardInterrupt):
            run.save_encoder(_tiny_encoder(), *TINY)
        with pytest.raises(KeyboardInterrupt):
            run.save_checkpoint({"step": 4})
    assert (tmp_path / "encoder.pt").read_bytes() == encoder
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 3
    assert not list(tmp_path.glob(".*.tmp"))


def test_one_writer_per_folder(tmp_path: Path) -> None:
    with (
        RunFolder(tmp_path, load_recipe("smoke-byol")),
        pytest.raises(RunError, match="being written by another training run"),
    ):
        RunFolder(tmp_path, load_recipe("smoke-byol"), resume=True)
    with RunFolder(tmp_path, load_recipe("smoke-byol")):  # released: a run that never
        pass  # logged a step leaves nothing to protect


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    saved = capture_rng_state()
    expected = (torch.rand(2), np.random.rand(2), random.random())
    torch.save(saved, tmp_path / "rng.pt")
    torch.manual_seed(9)
    np.random.seed(9)
    random.seed(9)
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1])
    assert expected[2] == again[2]


def _trainer_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "train_byol.py"), *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_user_mistakes_end_in_one_line(tmp_path: Path) -> None:
    cases = [
        (
            ["--recipe", "smoke-byol", "--out", str(tmp_path), "--set", "optim.epochs=two"],
            "whole number",
        ),
        (["--recipe", "nope", "--out", str(tmp_path)], "no recipe named 'nope'"),
        (["--recipe", "cvsa-table1-cub", "--out", str(tmp_path)], "data.root"),
    ]
    for argv, message in cases:
        done = _trainer_cli(*argv)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_ctrl_c_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--recipe", "smoke-byol", "--out", str(out), "--set", "optim.max_steps=1000"]
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "train_byol.py"), *argv, "train.checkpoint_every=1"],
        stderr=subprocess.PIPE,
        text=True,
        # as at a terminal: a test run started in the background (`pytest &`, nohup) inherits
        # SIGINT ignored, and Python then keeps ignoring it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in err and "Traceback" not in err


def test_tensorboard_logs_beside_the_json_lines(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    with RunFolder(tmp_path, load_recipe("smoke-byol")) as run:
        run.open_log(None, tensorboard=True)
        run.log({"step": 1, "loss": 0.5, "note": "text is skipped"})
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_snapshots_every_n_steps_load_as_the_encoder_at_that_step(tmp_path: Path) -> None:
    from saliencyaug.models import load_encoder

    recipe = apply_overrides(
        load_recipe("smoke-byol"),
        [
            "model.backbone={widths = [4, 8, 8, 8]}",
            "train.checkpoint_every=4",
            "train.snapshot_every=3",
        ],
    )
    online = torch.nn.Module()
    online.backbone = _tiny_encoder()
    optimizer = torch.optim.SGD(online.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    saved = {}
    with RunFolder(tmp_path, recipe) as run:
        run.open_log(None, tensorboard=False)
        due = [step for step in range(1, 8) if run.saves_at(step, 7)]
        assert due == [3, 4, 6, 7]  # every 3 (snapshots), every 4 (checkpoints), the last
        for step in due:
            with torch.no_grad():
                next(online.parameters()).add_(1.0)  # the weights move between saves
            saved[step] = next(online.backbone.parameters()).clone()
            run.save_state(step, {"online": online}, optimizer, scaler)
    snapshots = sorted(p.name for p in (tmp_path / "snapshots").iterdir())
    assert snapshots == ["encoder-step000003.pt", "encoder-step000006.pt"]
    for step in (3, 6):
        loaded = load_encoder(tmp_path / "snapshots" / f"encoder-step{step:06d}.pt")
        assert torch.equal(next(loaded.parameters()), saved[step])
    with RunFolder(tmp_path, recipe, overwrite=True):  # overwrite removes them too
        assert not (tmp_path / "snapshots").exists()
