"""The ``saliencyaug`` command line: demo, box-search benchmark, argument errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from saliencyaug.cli import main


def exit_code(argv: list[str]) -> int:
    """main's exit code, whether it returns it or argparse exits (bad arguments: 2)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_demo_writes_a_png_grid(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "demo.png"
    assert main(["demo", "--out", str(out), "--detectors", "spectral_residual", "rbd"]) == 0
    img = np.asarray(Image.open(out))
    # 4 bundled photos x (photo, 2 maps, boxes) tiles of 224 px plus label strips
    assert img.shape == (4 * (224 + 18), 4 * 224, 3)
    assert img.std() > 20  # real content, not a blank canvas
    assert not list(out.parent.glob(".*.tmp"))  # the atomic write left no temporary file


def test_demo_synthetic_and_objectives(tmp_path: Path) -> None:
    out = tmp_path / "syn.png"
    assert (
        main(
            [
                "demo",
                "--synthetic",
                "--out",
                str(out),
                "--objective",
                "mean",
                "--detectors",
                "geodesic",
            ]
        )
        == 0
    )
    assert np.asarray(Image.open(out)).shape == (3 * (224 + 18), 3 * 224, 3)


def test_console_script_runs_demo_without_arguments(tmp_path: Path) -> None:
    # the README's first command: no arguments, no downloads
    res = subprocess.run(
        [sys.executable, "-m", "saliencyaug.cli", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "saliencyaug-demo.png").stat().st_size > 10_000


def test_bench_box_search_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "box-search",
            "--maps",
            "3",
            "--sizes",
            "24x32",
            "--repeats",
            "1",
            "--brute-maps",
            "1",
            "--batch",
            "4",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "baseline: plain max-subarray" in text and "baseline: brute force" in text
    report = json.loads(out.read_text())
    assert report["header"]["numba_threads"] >= 1 and "torch" in report["header"]
    methods = {r["method"] for r in report["rows"]}
    assert {"excess", "threshold (otsu)"} <= methods
    for row in report["rows"]:
        assert row["median_ms"] > 0 and row["n"] >= 1
    excess = [r for r in report["rows"] if r["method"] == "excess"]
    assert all(r["vs_kadane"] is not None and r["vs_brute"] is not None for r in excess)
    assert any(b["method"].startswith("excess batch,") for b in report["batch"])


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "box-search", "--sizes", "12"],
        ["bench", "box-search", "--sizes", "0x5"],
        ["nope"],
        ["demo", "--objective", "fixed"],
    ],
)
def test_bad_arguments_exit_with_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_non_positive_counts_are_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, flag in (
        (["bench", "box-search", "--maps", "0"], "--maps"),
        (["grid", "--n", "0"], "--n"),
        (["eval", "--checkpoint", "c", "--out", "o", "--knn-k", "-3"], "--knn-k"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: expected an integer >= 1" in err
        assert err.startswith(f"usage: saliencyaug {argv[0]}")  # the command's own usage


def test_a_wrong_flag_shows_the_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, usage in (
        (["recipes", "--bogus"], "usage: saliencyaug recipes"),
        (["bench", "pipeline", "--bogus"], "usage: saliencyaug bench pipeline"),
        (["boxes", "root", "--out", "o", "--bogus"], "usage: saliencyaug boxes"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.startswith(usage), err
        assert "unrecognized arguments: --bogus" in err


def test_version_and_help_answer_without_importing_torch() -> None:
    import saliencyaug

    code = (
        "import sys\n"
        "from saliencyaug.cli import main\n"
        "for argv in (['--help'], ['--version']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0\n"
        "print('torch' in sys.modules, 'numba' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"saliencyaug {saliencyaug.__version__}" in done.stdout
    assert "eval " in done.stdout and "bench " in done.stdout  # every command is listed
    assert done.stdout.strip().endswith("False True")  # numba: the box search, not torch


def test_every_option_has_help_and_says_its_default() -> None:
    import argparse

    from saliencyaug.cli import COMMANDS, build_parser

    def parsers(parser: argparse.ArgumentParser, name: str) -> list[tuple[str, Any]]:
        out = [(name, parser)]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    out += parsers(sub, f"{name} {sub_name}")
        return out

    found = parsers(build_parser(full=True), "saliencyaug")
    assert {n.split(" ")[1] for n, _ in found if " " in n} == set(COMMANDS)
    missing = []
    for name, parser in found:
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if action.help == argparse.SUPPRESS:
                continue
            text = action.help or ""
            optional_with_value = (
                action.option_strings and not action.required and action.nargs != 0
            )
            if not text or (optional_with_value and "default" not in text):
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing


def test_quick_box_search_times_brute_force_on_small_maps_only() -> None:
    from saliencyaug.bench import box_search

    report = box_search.run(
        n_maps=2,
        sizes=[(16, 16), (24, 24)],
        repeats=1,
        brute_maps=1,
        batch_size=2,
        brute_max_pixels=16 * 16,
    )
    objective_rows = [r for r in report.rows if not r.method.startswith(("baseline", "batched"))]
    timed = {r.size: r.vs_brute is not None for r in objective_rows}
    assert timed == {"16x16": True, "24x24": False}


def test_grid_default_and_folder_with_boxes(tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    assert main(["grid", "--out", str(out), "--n", "2", "--size", "64"]) == 0
    assert np.asarray(Image.open(out)).shape == (2 * (192 + 18), 4 * 192, 3)

    from saliencyaug.data import build_box_cache

    root = tmp_path / "imgs"
    root.mkdir()
    for i in range(3):
        arr = np.full((40, 50, 3), 30 * i, np.uint8)
        arr[10:30, 15:40] = 240
        Image.fromarray(arr).save(root / f"{i}.png")
    build_box_cache(root, tmp_path / "b.jsonl", workers=0, progress=False)
    out2 = tmp_path / "grid2.png"
    code = main(
        [
            "grid",
            str(root),
            "--boxes",
            str(tmp_path / "b.jsonl"),
            "--out",
            str(out2),
            "--mode",
            "paste",
            "--n",
            "3",
        ]
    )
    assert code == 0 and np.asarray(Image.open(out2)).shape[0] == 3 * (192 + 18)
    assert main(["grid", str(tmp_path / "empty"), "--out", str(out2)]) == 2
    assert exit_code(["grid", "--n", "0"]) == 2


def test_bench_pipeline_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pipe.json"
    assert (
        main(
            [
                "bench",
                "pipeline",
                "--images",
                "2",
                "--rounds",
                "1",
                "--batch",
                "2",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["rows"][0]["pipeline"] == "RandomResizedCrop (baseline)"
    assert all(r["ms_per_image"] > 0 for r in report["rows"])
    # each tail has its own baseline, and the ratios are to it
    for tail in ("moco_v2", "light"):
        rows = [r for r in report["rows"] if r["tail"] == tail]
        assert rows[0]["pipeline"] == "RandomResizedCrop (baseline)"
        assert rows[0]["vs_baseline"] == 1.0
        for r in rows:
            assert r["vs_baseline"] == pytest.approx(r["ms_per_image"] / rows[0]["ms_per_image"])
    assert report["batch"][0]["device"] == "cpu"
    assert "SaliencySwap, cached boxes" in capsys.readouterr().out
    # every detector on the fly, the default first (what users get without boxes)
    from saliencyaug.saliency import DEFAULT_DETECTOR

    on_the_fly = [
        r["pipeline"]
        for r in report["rows"]
        if "on the fly" in r["pipeline"] and r["tail"] == "light"
    ]
    assert on_the_fly[0] == f"SaliencySwap, {DEFAULT_DETECTOR} on the fly (default)"
    assert len(on_the_fly) >= 3
    targets = [t["target"] for t in report["targets"]]
    assert [f"({DEFAULT_DETECTOR}) <= 2x" in t for t in targets] == [False, True, True]
    assert all(t["met"] == (t["value"] <= t["limit"]) for t in report["targets"])


def test_bench_cvsa_step_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "step.json"
    args = ["bench", "cvsa-step", "--batch", "2", "--size", "32", "--steps", "1", "--repeats", "1"]
    assert main([*args, "--hidden", "16", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["variant"] for r in report["rows"]] == ["BYOL", "BYOL + CVSA alignment (stage 4)"]
    assert all(r["median_step_s"] > 0 and r["peak_rss_mib"] > 0 for r in report["rows"])
    assert report["target"]["value"] == pytest.approx(1 + report["overhead"])
    assert "overhead:" in capsys.readouterr().out
    assert exit_code(["bench", "cvsa-step", "--steps", "0"]) == 2


def test_pairs_demo_writes_the_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pairs.png"
    assert main(["pairs-demo", "--synthetic", "--steps", "5", "--out", str(out)]) == 0
    # 4 scenes x (clean, reconstructed, 2 perturbed) tiles of 128 px
    assert np.asarray(Image.open(out)).shape == (4 * (128 + 18), 4 * 128, 3)
    assert "decoder MSE" in capsys.readouterr().out
    assert exit_code(["pairs-demo", "--size", "100", "--steps", "1", "--out", str(out)]) == 2
    assert exit_code(["pairs-demo", "--steps", "0"]) == 2


def test_bench_pairs_step_smoke(tmp_path: Path) -> None:
    out = tmp_path / "pairs.json"
    args = ["bench", "pairs-step", "--batch", "2", "--size", "32", "--decoder-size", "32"]
    assert main([*args, "--steps", "1", "--repeats", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["variant"] for r in report["rows"]] == ["MoCo v2", "MoCo v2 + decoder-pair objective"]
    assert report["header"]["decoder_size"] == 32 and report["target"]["target"].endswith(
        "2.50x MoCo v2 step"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["study", "--scale", "smoke", "--out", "FILE"], "--out FILE is a file"),
        (["study", "--scale", "smoke", "--out", "new", "--assets", "FILE"], "--assets FILE"),
        (["assets", "--out", "FILE"], "--out FILE is a file"),
        (["demo", "--out", "DIR"], "--out DIR is a folder"),
        (["grid", "--out", "DIR"], "--out DIR is a folder"),
        (["pairs-demo", "--out", "DIR"], "--out DIR is a folder"),
        (["boxes", "DIR", "--out", "DIR"], "--out DIR is a folder"),
        (["boxes-merge", "FILE", "--out", "DIR"], "--out DIR is a folder"),
        (["boxes-merge", "FILE", "--out", "merged.jsonl"], "FILE: empty box file"),
        (
            ["eval", "--checkpoint", "FILE", "--train", "DIR", "--test", "DIR", "--out", "DIR"],
            "--out DIR is a folder",
        ),
        (
            ["eval", "--checkpoint", "FILE", "--train", "DIR", "--test", "DIR", "--out", "r.json"],
            "FILE: not a file of tensors that can be loaded safely",
        ),
        (["recipes", "nope"], "no recipe named 'nope'"),
    ],
)
def test_user_errors_are_one_line_never_a_traceback(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "FILE").write_text("")
    (tmp_path / "DIR").mkdir()
    names = {"FILE": str(tmp_path / "FILE"), "DIR": str(tmp_path / "DIR")}
    assert main([names.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err
    expected = message.replace("FILE", names["FILE"]).replace("DIR", names["DIR"])
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1, err
