"""The reference trainers in examples/: smoke recipes, kill-and-resume, DDP, EMA copies."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

import common  # noqa: E402
import train_byol  # noqa: E402
import train_moco  # noqa: E402
import train_simsiam  # noqa: E402

RECIPES = {
    "smoke_byol": train_byol,
    "smoke_cvsa": train_byol,
    "smoke_moco": train_moco,
    "smoke_moco_pairs": train_moco,
    "smoke_simsiam_pairs": train_simsiam,
}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_smoke_recipe_runs_with_finite_changing_losses(recipe: str, tmp_path: Path) -> None:
    cfg = common.load_config(EXAMPLES / "configs" / f"{recipe}.toml")
    result = RECIPES[recipe].train(cfg, tmp_path, resume=False)
    entries = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in entries] == [1, 2, 3]
    losses = [e["loss"] for e in entries]
    assert all(math.isfinite(v) for v in losses) and len(set(losses)) > 1
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "encoder.pt").exists()
    report = json.loads((tmp_path / "report.json").read_text())
    assert {"knn", "retrieval", "linear_probe_lbfgs"} <= set(report)
    assert result["report"]["num_test"] == 6
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 3


def _run(script: str, recipe: str, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        str(EXAMPLES / script),
        "--config",
        str(EXAMPLES / "configs" / f"{recipe}.toml"),
        "--out",
        str(out),
    ]
    cmd += [
        *extra,
        "--set",
        "optim.max_steps=6",
        "train.deterministic=true",
        "train.checkpoint_every=2",
    ]
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


@pytest.mark.parametrize(
    ("script", "recipe"), [("train_byol.py", "smoke_cvsa"), ("train_moco.py", "smoke_moco_pairs")]
)
def test_killed_and_resumed_run_ends_bit_identical(
    script: str, recipe: str, tmp_path: Path
) -> None:
    straight = _run(script, recipe, tmp_path / "straight")
    killed = _run(script, recipe, tmp_path / "killed")
    ckpt = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 240
    while not ckpt.exists() and time.time() < deadline and killed.poll() is None:
        time.sleep(0.02)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    stopped_at = torch.load(ckpt, weights_only=True)["step"]
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
    log = [
        json.loads(line)["step"]
        for line in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()
    ]
    assert log == [1, 2, 3, 4, 5, 6]  # entries past the checkpoint were dropped, none repeated


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _batch(n: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(5)
    x1, x2 = torch.randn(n, 3, 32, 32, generator=g), torch.randn(n, 3, 32, 32, generator=g)
    m1 = (torch.rand(n, 1, 32, 32, generator=g) > 0.5).to(torch.uint8)
    return x1, m1, x2, m1.flip(-1)


def _first_step(
    trainer: str, cfg: dict, d: common.Dist, batch: tuple[torch.Tensor, ...]
) -> tuple[float, torch.Tensor]:
    """First loss and the gradient of the first projector layer after backward (DDP-averaged
    under DDP). BatchNorm uses running statistics (eval mode): SyncBatchNorm needs CUDA, and
    with per-rank batch statistics the outputs would depend on how the batch is split."""
    torch.manual_seed(0)
    if trainer == "byol":
        online, target = train_byol.build(cfg, d)
        online.eval()
        target.eval()
        loss, _ = train_byol.loss_fn(online, target, batch, cfg)
        weight = common.unwrap(online).projector[0].weight
    else:
        online, target, moco = train_moco.build(cfg, d)
        online.eval()
        target.eval()
        loss, _ = train_moco.moco_loss(online, target, moco, batch[0], batch[2], update=False)
        weight = common.unwrap(online).head[0].weight
    loss.backward()
    return float(loss.detach()), weight.grad.detach().clone()


def _ddp_worker(rank: int, port: int, trainer: str, cfg: dict, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE="2",
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    d = common.setup_distributed()
    try:
        batch = tuple(t[2 * rank : 2 * rank + 2] for t in _batch(4))
        loss, grad = _first_step(trainer, cfg, d, batch)
        total = torch.tensor(loss, dtype=torch.float64)
        torch.distributed.all_reduce(total)
        torch.save({"loss": total / 2, "grad": grad}, os.path.join(out_dir, f"r{rank}.pt"))
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.parametrize(("trainer", "recipe"), [("byol", "smoke_cvsa"), ("moco", "smoke_moco")])
def test_two_gloo_processes_match_one_process_with_the_combined_batch(
    trainer: str, recipe: str
) -> None:
    # each rank holds half of the batch: the mean of the ranks' losses and the DDP-averaged
    # gradients equal the single process's on the whole batch
    cfg = common.load_config(EXAMPLES / "configs" / f"{recipe}.toml")
    cfg["model"]["freeze_stages"] = 0
    single_loss, single_grad = _first_step(
        trainer, cfg, common.Dist(0, 1, torch.device("cpu")), _batch(4)
    )
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_ddp_worker, args=(_free_port(), trainer, cfg, tmp), nprocs=2, join=True)
        res = [torch.load(os.path.join(tmp, f"r{r}.pt"), weights_only=True) for r in range(2)]
    assert float(res[0]["loss"]) == float(res[1]["loss"])
    assert float(res[0]["loss"]) == pytest.approx(single_loss, rel=1e-5, abs=1e-7)
    torch.testing.assert_close(res[0]["grad"], res[1]["grad"])
    torch.testing.assert_close(res[0]["grad"], single_grad, rtol=1e-4, atol=1e-6)


def test_momentum_networks_are_ema_copies_not_the_online_modules() -> None:
    cfg = common.load_config(EXAMPLES / "configs" / "smoke_cvsa.toml")
    d = common.Dist(0, 1, torch.device("cpu"))
    online, target = train_byol.build(cfg, d)
    online_ptrs = {p.data_ptr() for p in online.parameters()}
    assert not online_ptrs & {p.data_ptr() for p in target.parameters()}
    assert all(not p.requires_grad for p in target.parameters())
    # the target branch never runs a predictor: poisoning the target's predictors changes nothing
    x = torch.randn(2, 3, 32, 32)
    target.eval()
    before = target.target_forward(x)
    with torch.no_grad():
        for p in list(target.predictor.parameters()) + list(target.conv_predictor.parameters()):
            p.fill_(float("nan"))
    after = target.target_forward(x)
    assert all(torch.equal(before[k], after[k]) for k in before)
    m_online, m_target, _ = train_moco.build(
        common.load_config(EXAMPLES / "configs" / "smoke_moco.toml"), d
    )
    assert not {p.data_ptr() for p in m_online.parameters()} & {
        p.data_ptr() for p in m_target.parameters()
    }


@pytest.mark.parametrize("recipe", sorted(p.name for p in (EXAMPLES / "configs").glob("*.toml")))
def test_every_recipe_parses_with_known_keys(recipe: str) -> None:
    cfg = common.load_config(EXAMPLES / "configs" / recipe)
    assert cfg["optim"]["batch_size"] >= 1 and cfg["data"]["dataset"] in {
        "cub",
        "cars",
        "aircraft",
        "nabirds",
        "bundled",
        "folder",
    }


def test_recipe_typos_and_bad_overrides_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim]\nbatchsize = 4\n")
    with pytest.raises(ValueError, match="unknown key"):
        common.load_config(bad)
    bad.write_text("[optimiser]\nbatch_size = 4\n")
    with pytest.raises(ValueError, match="unknown section"):
        common.load_config(bad)
    with pytest.raises(ValueError, match=r"known section\.key"):
        common.load_config(EXAMPLES / "configs" / "smoke_byol.toml", ["optim.nope=1"])
    cfg = common.load_config(
        EXAMPLES / "configs" / "smoke_byol.toml", ["optim.max_steps=9", "views.scale=[0.3, 1.0]"]
    )
    assert cfg["optim"]["max_steps"] == 9 and cfg["views"]["scale"] == [0.3, 1.0]
