"""``saliencyaug study --scale smoke``: every arm end to end with the repository's trainers,
resumable, with its summary; and the box-quality benchmark on composites."""

from __future__ import annotations

import json
from pathlib import Path

from saliencyaug.cli import main
from saliencyaug.study import DEFAULT_ARMS, METRICS, SCALES


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
    summary = json.loads((out / "summary.json").read_text())
    assert {(r["arm"], r["share"]) for r in summary["rows"]} == {
        (arm, share) for arm in DEFAULT_ARMS for share in spec.shares
    }
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert "background leakage" in (out / "summary.md").read_text()
    # a rerun trains nothing and leaves every result as it was
    before = {p.name: p.read_text() for p in results}
    stamps = {p: p.stat().st_mtime for p in (out / "runs").rglob("encoder.pt")}
    assert main(argv) == 0
    assert {p.name: p.read_text() for p in sorted((out / "results").glob("*.json"))} == before
    assert {p: p.stat().st_mtime for p in (out / "runs").rglob("encoder.pt")} == stamps


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

    spec = SCALES["cpu"]  # two r, two seeds
    assert len(spec.shares) == len(spec.seeds) == 2
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
    assert abs(rrc[0]["background_leakage_std"] - sample_std) < 1e-12
    (comparison,) = summary["comparisons"]
    assert (comparison["method"], comparison["baseline"], comparison["runs"]) == (
        "byol-saliencyswap",
        "byol-rrc",
        n,
    )
    leak_diffs = [70.0 - (80.0 + i) for i in range(n)]
    linear_diffs = [(11.0 - i) - 10.0 for i in range(n)]
    assert comparison["background_leakage"] == {
        "mean": sum(leak_diffs) / n,
        "min": min(leak_diffs),
        "max": max(leak_diffs),
        "higher": 0,
    }
    assert comparison["linear_top1"]["higher"] == sum(d > 0 for d in linear_diffs) == 1
    assert "byol-saliencyswap - byol-rrc" in (tmp_path / "summary.md").read_text()
