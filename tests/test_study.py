"""``saliencyaug study --scale smoke``: every arm end to end with the repository's trainers,
resumable, with its summary; and the box-quality benchmark on composites."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from saliencyaug.cli import main
from saliencyaug.study import DEFAULT_ARMS, METRICS, SCALES, paired_interval


def test_smoke_study_runs_every_arm_and_resumes(composite_assets: Path, tmp_path: Path) -> None:
    out = tmp_path / "study"
    argv = ["study", "--scale", "smoke", "--out", str(out), "--assets", str(composite_assets)]
    assert main(argv) == 0
    spec = SCALES["smoke"]
    results = sorted((out / "results").glob("*.json"))
    assert len(results) == len(DEFAULT_ARMS) * len(spec.shares) * len(spec.seeds)
    for path in results:
        record = json.loads(path.read_text())
        for key, _ in METRICS:
            assert 0.0 <= record[key] <= 100.0, (path.name, key)
        if record["arm"] != "untrained":
            log = out / "runs" / path.stem / "log.jsonl"
            steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
            assert max(steps) == spec.steps
            # the learning curve: one validation score per encoder snapshot
            expected = list(range(spec.snapshot_every, spec.steps + 1, spec.snapshot_every))
            assert [c["step"] for c in record["curve"]] == expected
        else:
            assert [c["step"] for c in record["curve"]] == [0]
        assert all(0.0 <= c["val_knn"] <= 100.0 for c in record["curve"])
    summary = json.loads((out / "summary.json").read_text())
    assert {(r["arm"], r["share"]) for r in summary["rows"]} == {
        (arm, share) for arm in DEFAULT_ARMS for share in spec.shares
    }
    assert summary["machine"]["torch"] and summary["wall_minutes"] > 0
    assert summary["scale"]["steps"] == spec.steps
    assert all(row["curve"] for row in summary["rows"])
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert "background leakage" in (out / "summary.md").read_text()
    # a rerun trains nothing and leaves every result as it was
    before = {p.name: p.read_text() for p in results}
    stamps = {p: p.stat().st_mtime for p in (out / "runs").rglob("encoder.pt")}
    assert main(argv) == 0
    assert {p.name: p.read_text() for p in sorted((out / "results").glob("*.json"))} == before
    assert {p: p.stat().st_mtime for p in (out / "runs").rglob("encoder.pt")} == stamps


def test_device_scale_machinery_on_cpu_with_a_tiny_step_count(
    composite_assets: Path, tmp_path: Path
) -> None:
    from saliencyaug.study import run_study

    lines: list[str] = []
    tiny = {
        "steps": 2,
        "pretrain_images": 32,
        "batch_size": 8,
        "probe_train": 40,
        "probe_test": 20,
        "validation": 16,
        "snapshot_every": 1,
        "seeds": (0,),
        "shares": (16,),
        "workers": 0,
        "device": "cpu",
    }
    summary = run_study(
        tmp_path / "device",
        "device",
        ("untrained", "byol-rrc"),
        composite_assets,
        log=lines.append,
        overrides=tiny,
    )
    assert lines[0].startswith("estimate: ") and "min per seed" in lines[0]
    assert [r["arm"] for r in summary["rows"]] == ["untrained", "byol-rrc"]
    record = json.loads((tmp_path / "device/results/byol-rrc-r16-s0.json").read_text())
    assert [c["step"] for c in record["curve"]] == [1, 2]
    encoder = tmp_path / "device/runs/byol-rrc-r16-s0/encoder.pt"
    from saliencyaug.models import load_encoder

    device = SCALES["device"]
    net = load_encoder(encoder)  # the device scale's network and stem: 48 px keep a 6x6 map
    out = net(torch.zeros(1, 3, device.size, device.size))
    assert out.pooled.shape == (1, device.widths[-1])
    assert out.maps[4].shape[-1] == device.size // 8
    with pytest.raises(ValueError, match="no Scale field"):
        run_study(tmp_path / "x", "device", overrides={"stepz": 1})


def test_the_recipe_search_script_as_documented(composite_assets: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "study_search.py"
    out = tmp_path / "search"
    argv = [sys.executable, str(script), "--out", str(out), "--steps", "2"]
    argv += ["--assets", str(composite_assets)]
    for only in ("untrained", "(short-moco)"):
        done = subprocess.run([*argv, "--only", only], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    trials = {json.loads(p.read_text())["name"]: p for p in (out / "trials").glob("*.json")}
    assert set(trials) == {"untrained (the floor)", "moco key momentum 0.999 (short-moco)"}
    moco = json.loads(trials["moco key momentum 0.999 (short-moco)"].read_text())
    assert [c["step"] for c in moco["curve"]] == [2] and moco["overrides"] == []
    table = subprocess.run([*argv, "--table"], capture_output=True, text=True).stdout
    assert table.count("\n| ") == 3  # the header and the two trials
    # the search's validation split is the pre-training split past the images runs train on
    from saliencyaug.study import validation_split

    val = validation_split(SCALES["cpu"], composite_assets, 16)
    assert val.indices[0] == SCALES["cpu"].pretrain_images and val.dataset.split == "pretrain"


def test_box_quality_benchmark_on_composites(composite_assets: Path, tmp_path: Path) -> None:
    report = tmp_path / "quality.json"
    argv = ["bench", "box-quality", "--images", "6", "--size", "64"]
    argv += ["--assets", str(composite_assets), "--json", str(report)]
    assert main(argv) == 0
    rows = json.loads(report.read_text())["rows"]
    assert len(rows) == 4 * 4 + 1
    assert all(0.0 <= r["mean_iou"] <= 1.0 and r["ms_per_image"] >= 0 for r in rows)


def test_summary_means_sample_std_and_paired_differences_by_hand(tmp_path: Path) -> None:
    from saliencyaug.study import summarize

    spec = replace(SCALES["smoke"], shares=(1, 8), seeds=(0, 1))  # two r, two seeds
    (tmp_path / "results").mkdir()
    # byol-rrc and byol-saliencyswap at every (r, seed); leakage and linear by hand
    values = {}
    for i, (share, seed) in enumerate((s, d) for s in spec.shares for d in spec.seeds):
        for arm, leak, linear in (
            ("byol-rrc", 80.0 + i, 10.0),
            ("byol-saliencyswap", 70.0, 11.0 - i),
        ):
            record = {k: 50.0 for k, _ in METRICS}
            record.update(
                arm=arm,
                share=share,
                seed=seed,
                background_leakage=leak,
                linear_top1=linear,
                background_chance=10.0,
                train_seconds=60.0,
                eval_seconds=6.0,
                curve=[{"step": 2, "val_knn": 20.0 + i, "val_linear": 30.0}],
            )
            values[(arm, share, seed)] = record
            name = f"{arm}-r{share}-s{seed}.json"
            (tmp_path / "results" / name).write_text(json.dumps(record))
    summary = summarize(tmp_path, ("byol-rrc", "byol-saliencyswap"), spec)
    n = len(spec.shares) * len(spec.seeds)
    rrc = [r for r in summary["rows"] if r["arm"] == "byol-rrc"]
    first = [80.0 + i for i in range(len(spec.seeds))]  # the first r's seeds
    mean = sum(first) / len(first)
    sample_std = (sum((v - mean) ** 2 for v in first) / (len(first) - 1)) ** 0.5
    assert rrc[0]["background_leakage"] == mean
    assert rrc[0]["curve"] == [{"step": 2, "val_knn": mean - 60.0, "val_linear": 30.0}]
    assert summary["wall_minutes"] == pytest.approx(2 * n * 66.0 / 60)
    assert abs(rrc[0]["background_leakage_std"] - sample_std) < 1e-12
    (comparison,) = summary["comparisons"]
    assert (comparison["method"], comparison["baseline"], comparison["runs"]) == (
        "byol-saliencyswap",
        "byol-rrc",
        n,
    )
    leak_diffs = [70.0 - (80.0 + i) for i in range(n)]
    linear_diffs = [(11.0 - i) - 10.0 for i in range(n)]
    leak = comparison["background_leakage"]
    assert {k: leak[k] for k in ("mean", "min", "max", "higher")} == {
        "mean": sum(leak_diffs) / n,
        "min": min(leak_diffs),
        "max": max(leak_diffs),
        "higher": 0,
    }
    # 95 % interval of the mean difference: t(0.975, 3 degrees of freedom) = 3.182446305...
    diff_mean = sum(leak_diffs) / n
    diff_sd = (sum((d - diff_mean) ** 2 for d in leak_diffs) / (n - 1)) ** 0.5
    half = 3.182446305284263 * diff_sd / n**0.5
    assert leak["ci95"] == pytest.approx([diff_mean - half, diff_mean + half], abs=1e-9)
    assert paired_interval([1.0]) is None
    assert comparison["linear_top1"]["higher"] == sum(d > 0 for d in linear_diffs) == 1
    assert "byol-saliencyswap - byol-rrc" in (tmp_path / "summary.md").read_text()
