"""The reference trainers in examples/, run the way users run them: from their command line,
killed and resumed, and as two gloo processes with the trainers' own seeding and workers."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _trainer(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMOKE = {
    "smoke-byol": "train_byol",
    "smoke-cvsa": "train_byol",
    "smoke-moco": "train_moco",
    "smoke-moco-pairs": "train_moco",
    "smoke-simsiam-pairs": "train_simsiam",
    "smoke-supervised": "train_supervised",
}


def _log(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("recipe", sorted(SMOKE))
def test_smoke_recipe_runs_from_the_command_line(
    recipe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from saliencyaug.models import load_encoder
    from saliencyaug.training import run_trainer

    trainer = _trainer(SMOKE[recipe])
    out = tmp_path / "run"
    assert run_trainer(trainer.train, "smoke", ["--recipe", recipe, "--out", str(out)]) == 0
    summary = capsys.readouterr().out  # a few lines for people, not a Python dict
    assert summary.startswith(f"finished after 3 steps: {out}") and "{" not in summary
    assert "kNN top-1 (weighted, k=3, T=0.07)" in summary and "encoder.pt" in summary
    entries = [e for e in _log(out) if "loss" in e]
    assert [e["step"] for e in entries] == [1, 2, 3]
    losses = [e["loss"] for e in entries]
    assert all(math.isfinite(v) for v in losses) and len(set(losses)) > 1
    report = json.loads((out / "report.json").read_text())
    assert {"knn", "retrieval", "linear"} <= set(report) and report["num_test"] == 6
    assert [(r["protocol"], r["settings"]["solver"]) for r in report["linear"]] == [
        ("fast", "L-BFGS")
    ]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3
    recorded = json.loads((out / "recipe.json").read_text())
    assert recorded["optim"]["max_steps"] == 3
    encoder = load_encoder(out / "encoder.pt")  # names its own architecture
    assert encoder.output_dim == 64
    from_checkpoint = load_encoder(out / "checkpoint.pt")  # the trainer's checkpoint works too
    for key, value in encoder.state_dict().items():
        assert torch.equal(from_checkpoint.state_dict()[key], value), key


def test_any_backbone_trains_with_cvsa_a_tiny_vit(tmp_path: Path) -> None:
    from saliencyaug.training import run_trainer

    out = tmp_path / "vit"
    argv = [
        "--recipe",
        "smoke-cvsa",
        "--out",
        str(out),
        "--set",
        "model.arch=timm:vit_tiny_patch16_224",
    ]
    argv += ["model.backbone={img_size = 64}", "model.freeze_stages=0", "optim.max_steps=2"]
    assert run_trainer(_trainer("train_byol").train, "vit", argv) == 0
    entries = [e for e in _log(out) if "align" in e]
    assert len(entries) == 2 and all(math.isfinite(e["align"]) for e in entries)


def _run(script: str, recipe: str, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, str(EXAMPLES / script), "--recipe", recipe, "--out", str(out), *extra]
    cmd += ["--set", "optim.max_steps=6", "train.deterministic=true", "train.checkpoint_every=2"]
    cmd += ["data.num_workers=2"]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def _tensors(state: object, prefix: str = "") -> dict[str, torch.Tensor]:
    out = {}
    if isinstance(state, torch.Tensor):
        out[prefix] = state
    elif isinstance(state, dict):
        for k, v in state.items():
            out.update(_tensors(v, f"{prefix}/{k}"))
    elif isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            out.update(_tensors(v, f"{prefix}/{i}"))
    return out


def _checkpoint_step(path: Path) -> int:
    try:
        return int(torch.load(path, weights_only=True)["step"])
    except Exception:  # not written yet
        return -1


@pytest.mark.parametrize(
    ("script", "recipe"), [("train_byol.py", "smoke-cvsa"), ("train_moco.py", "smoke-moco-pairs")]
)
def test_killed_and_resumed_run_ends_bit_identical_with_workers(
    script: str, recipe: str, tmp_path: Path
) -> None:
    straight = _run(script, recipe, tmp_path / "straight")
    killed = _run(script, recipe, tmp_path / "killed")
    ckpt = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 240
    while _checkpoint_step(ckpt) < 2 and time.time() < deadline and killed.poll() is None:
        time.sleep(0.01)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    stopped_at = _checkpoint_step(ckpt)
    assert 2 <= stopped_at < 6, "the run must be interrupted before its end"
    resumed = _run(script, recipe, tmp_path / "killed", "--resume")
    for proc in (straight, resumed):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    a = _tensors(torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True))
    b = _tensors(torch.load(ckpt, weights_only=True))
    assert a.keys() == b.keys() and len(a) > 50
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]
    steps = [e["step"] for e in _log(tmp_path / "killed") if "loss" in e]
    assert steps == list(range(1, 7))  # entries past the checkpoint dropped, none repeated
    assert not list((tmp_path / "killed").glob(".*.tmp"))  # no temporary files left over


# -- two processes, seeded and loaded the way the trainers do it ----------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()[:16]


def _same_image_folder(root: Path) -> Path:
    """Six copies of one photo in two classes: equal views mean equal augmentation draws."""
    from PIL import Image
    from skimage import data

    photo = Image.fromarray(data.chelsea())
    for i in range(6):
        target = root / ("a" if i < 3 else "b") / f"copy{i}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        photo.save(target)
    return root


def _two_processes(script: str, recipe: str, out: Path, images: Path) -> list[dict[str, Any]]:
    """Run the trainer under torchrun (2 gloo processes), recording what the test checks."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    cmd += ["--master_port", str(_free_port()), str(Path(__file__).parent / "record_run.py")]
    cmd += [str(EXAMPLES / f"{script}.py"), "--recipe", recipe, "--out", str(out)]
    cmd += ["--set", "data.dataset=folder", f"data.root={images}", "data.num_workers=2"]
    cmd += ["optim.max_steps=3", "train.tensorboard=false"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


@pytest.mark.parametrize(
    ("script", "recipe"), [("train_byol", "smoke-cvsa"), ("train_moco", "smoke-moco-pairs")]
)
def test_two_processes_start_equal_draw_different_views_and_reproduce(
    script: str, recipe: str, tmp_path: Path
) -> None:
    images = _same_image_folder(tmp_path / "images")
    first = _two_processes(script, recipe, tmp_path / "run1", images)
    # momentum networks start as the online network DDP made, on every rank
    assert first[0]["online_start"] == first[1]["online_start"]
    assert all(r["target_start"] == r["online_start"] for r in first)
    # every view of every rank and worker is a different draw (the images are all the same)
    views = first[0]["views"] + first[1]["views"]
    assert len(views) == 2 * 3 * 2 and len(set(views)) == len(views)
    if recipe.endswith("pairs"):  # one decoder, trained the same on every rank
        assert first[0]["decoder_end"] == first[1]["decoder_end"]
    again = _two_processes(script, recipe, tmp_path / "run2", images)
    assert [r["views"] for r in again] == [r["views"] for r in first]  # a fixed seed reproduces


def _run_counted(
    script: str, recipe: str, out: Path, processes: int
) -> tuple[list[dict[str, float]], dict[str, np.ndarray]]:
    """Run a trainer on ``processes`` processes with BatchNorm frozen (compare_ranks.py): the
    losses of each step averaged over the processes (each logs the mean over its share of
    the global batch) and the trained parameters."""
    harness = str(Path(__file__).parent / "compare_ranks.py")
    cmd = [sys.executable]
    if processes > 1:
        cmd += ["-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
        cmd += ["--master_port", str(_free_port())]
    cmd += [harness, str(EXAMPLES / f"{script}.py"), "--recipe", recipe, "--out", str(out)]
    cmd += ["--set", "data.num_workers=2", "optim.max_steps=3", "train.log_every=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    per_rank = [json.loads((out / f"losses{r}.json").read_text()) for r in range(processes)]
    steps = []
    for entries in zip(*per_rank, strict=True):
        keys = [k for k, v in entries[0].items() if k not in ("step", "epoch", "lr")]
        steps.append(
            {k: float(np.mean([np.mean(e[k]) for e in entries])) for k in keys}
            | {"step": entries[0]["step"]}
        )
    with np.load(out / "parameters.npz") as params:
        return steps, {k: params[k] for k in params.files}


@pytest.mark.parametrize(
    ("script", "recipe"),
    [
        ("train_byol", "smoke-cvsa"),
        ("train_moco", "smoke-moco"),
        ("train_moco", "smoke-moco-pairs"),
    ],
)
def test_one_and_two_processes_train_alike_at_the_same_global_batch(
    script: str, recipe: str, tmp_path: Path
) -> None:
    # the trainer's own seeding and workers; only BatchNorm is frozen, since per-process batch
    # statistics are meant to differ. The pair and Grad-CAM terms gather their negatives and
    # draw their noise for the global batch: without that, 2 processes gave half the negatives
    one, one_params = _run_counted(script, recipe, tmp_path / "one", 1)
    two, two_params = _run_counted(script, recipe, tmp_path / "two", 2)
    assert [s["step"] for s in one] == [s["step"] for s in two] and len(one) >= 4 - 1
    loss_gap = max(abs(a[k] - b[k]) for a, b in zip(one, two, strict=True) for k in a)
    assert one_params.keys() == two_params.keys()
    param_gap = max(float(np.abs(one_params[k] - two_params[k]).max()) for k in one_params)
    print(f"{recipe}: max loss difference {loss_gap:.2e}, max parameter difference {param_gap:.2e}")
    assert loss_gap < 1e-4, (one, two)
    assert param_gap < 1e-5


def test_momentum_targets_never_run_a_predictor() -> None:
    from saliencyaug.training import load_recipe

    byol = _trainer("train_byol")
    network = byol.BYOLNetwork(load_recipe("smoke-cvsa")).eval()
    x = torch.randn(2, 3, 64, 64)
    before = network(x, predict=False)
    with torch.no_grad():
        for p in [*network.predictor.parameters(), *network.conv_predictor.parameters()]:
            p.fill_(float("nan"))
    after = network(x, predict=False)
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])


def test_a_run_with_the_small_stem_saves_an_encoder_that_rebuilds_it(tmp_path: Path) -> None:
    from saliencyaug.cli import main
    from saliencyaug.models import load_encoder
    from saliencyaug.training import (
        RecipeError,
        apply_overrides,
        build_backbone,
        load_recipe,
        run_trainer,
    )

    trainer = _trainer("train_byol")
    out = tmp_path / "run"
    argv = ["--recipe", "smoke-cvsa", "--out", str(out), "--set", "model.stem=small"]
    assert run_trainer(trainer.train, "stem", argv) == 0
    x = torch.randn(1, 3, 64, 64)
    for name in ("encoder.pt", "checkpoint.pt"):
        encoder = load_encoder(out / name, arch="resnet50").eval()  # the file names its own
        conv = encoder.stem[0]
        assert conv.kernel_size == (3, 3) and conv.stride == (1, 1)
        assert encoder(x).pooled.shape == (1, 64)
    bundled = out / "bundled"
    report = tmp_path / "eval.json"
    args = ["eval", "--checkpoint", str(out / "encoder.pt"), "--train", str(bundled)]
    args += ["--test", str(bundled), "--image-size", "64", "--knn-k", "3", "--out", str(report)]
    assert main([*args, "--no-progress"]) == 0  # saliencyaug eval rebuilds it too
    with pytest.raises(RecipeError, match=r"model\.stem must be"):
        build_backbone(apply_overrides(load_recipe("smoke-cvsa"), ["model.stem=tiny"]))


def test_the_supervised_reference_learns_its_labels(tmp_path: Path) -> None:
    # the study's ceiling must be able to learn: on the bundled photos (2 classes) the
    # training loss falls over 60 steps (measured: 0.56 -> 0.29, first and last 10 steps)
    from saliencyaug.training import run_trainer

    trainer = _trainer("train_supervised")
    out = tmp_path / "run"
    argv = ["--recipe", "smoke-supervised", "--out", str(out), "--set", "optim.max_steps=60"]
    argv += ["optim.base_lr=3", "eval.train_root=", "eval.test_root="]
    assert run_trainer(trainer.train, "supervised", argv) == 0
    losses = [e["loss"] for e in _log(out) if "loss" in e]
    assert len(losses) == 60
    assert sum(losses[-10:]) / 10 < 0.75 * sum(losses[:10]) / 10, losses
