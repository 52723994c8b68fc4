"""Building box files: resumable, shardable, parallel; kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from saliencyaug.boxes import BoxSearch
from saliencyaug.data.box_builder import build_box_cache, compute_record
from saliencyaug.data.box_file import BoxCache
from saliencyaug.image import list_images
from saliencyaug.saliency import spectral_residual

SLOW_DETECTOR = """
import time
from saliencyaug.saliency import spectral_residual

def detect(image):
    time.sleep(0.08)
    return spectral_residual(image)
"""


@pytest.fixture
def image_tree(tmp_path: Path) -> Path:
    """40 small images in two class folders, one corrupt file, one non-image."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for i in range(40):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 80, (24 + i % 5, 32, 3), dtype=np.uint8)
        arr[5:15, 8 + i % 10 : 20 + i % 10] = 230
        Image.fromarray(arr).save(folder / f"img{i:02d}.png")
    (root / "a" / "broken.jpg").write_bytes(b"this is not a jpeg")
    (root / "readme.txt").write_text("skip me")
    return root


def _expected(root: Path, detector: str = "spectral_residual") -> dict[str, dict]:
    return {
        p.relative_to(root).as_posix(): compute_record(root, p, detector, BoxSearch(), None)
        for p in list_images(root)
    }


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_build_matches_direct_computation(image_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "boxes.jsonl"
    errors: list[dict] = []
    report = build_box_cache(image_tree, out, workers=0, progress=False, on_error=errors.append)
    assert report.total == 41 and report.computed == 41 and report.resumed == 0
    assert [e["path"] for e in errors] == ["a/broken.jpg"] == [e["path"] for e in report.errors]
    assert not (tmp_path / "boxes.jsonl.part").exists()
    header, *entries = _lines(out)
    assert header["format"] == "saliencyaug-boxes" and header["detector"] == "spectral_residual"
    expected = _expected(image_tree)
    assert {e["path"]: e for e in entries} == expected
    cache = BoxCache.load(out)
    assert len(cache) == 40 and cache.root == image_tree.resolve()
    rec = cache.records[0]
    arr = np.asarray(Image.open(cache.path_of(rec)).convert("RGB"))
    assert rec.box == BoxSearch()(spectral_residual(arr))


def test_parallel_workers_give_the_same_boxes(image_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "par.jsonl"
    build_box_cache(image_tree, out, workers=2, progress=False)
    assert {e["path"]: e for e in _lines(out)[1:]} == _expected(image_tree)


def _run_cli(root: Path, out: Path, tmp_path: Path, workers: int) -> subprocess.Popen:
    (tmp_path / "slowdet.py").write_text(SLOW_DETECTOR)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    cmd = [
        sys.executable,
        "-m",
        "saliencyaug.cli",
        "boxes",
        str(root),
        "--out",
        str(out),
        "--detector",
        "slowdet:detect",
        "--workers",
        str(workers),
        "--no-progress",
    ]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_killed_run_resumes_with_nothing_lost_or_duplicated(
    image_tree: Path, tmp_path: Path, workers: int
) -> None:
    out = tmp_path / "killed.jsonl"
    part = tmp_path / "killed.jsonl.part"
    proc = _run_cli(image_tree, out, tmp_path, workers)
    deadline = time.time() + 120
    while time.time() < deadline:
        if part.exists() and len(part.read_text().splitlines()) >= 8:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the CLI and its worker processes
    proc.wait()
    assert not out.exists(), "a killed run must not publish the box file"
    done_before = len(part.read_text().splitlines()) - 1
    assert 0 < done_before < 41

    proc = _run_cli(image_tree, out, tmp_path, workers)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr.decode()
    assert "41 images" in stdout.decode() and "from an earlier run" in stdout.decode()
    entries = _lines(out)[1:]
    paths = [e["path"] for e in entries]
    assert len(paths) == len(set(paths)) == 41  # nothing duplicated, nothing lost
    assert {e["path"]: e for e in entries} == _expected(image_tree)
    assert not part.exists()


def test_torn_last_line_is_cut_and_completed(image_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "torn.jsonl"
    part = tmp_path / "torn.jsonl.part"
    build_box_cache(image_tree, out, workers=0, progress=False)
    lines = out.read_text().splitlines()
    # simulate a writer killed after 10 records, in the middle of the 11th line
    part.write_text("\n".join(lines[:11]) + "\n" + lines[11][: len(lines[11]) // 2])
    out.unlink()
    report = build_box_cache(image_tree, out, workers=0, progress=False)
    assert report.resumed == 10 and report.computed == 31
    assert sorted(_lines(out)[1:], key=lambda e: e["path"]) == sorted(
        _lines_from(lines[1:]), key=lambda e: e["path"]
    )


def _lines_from(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines]


def test_a_part_file_of_another_configuration_is_refused(image_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "cfg.jsonl"
    part = tmp_path / "cfg.jsonl.part"
    header = {
        "format": "saliencyaug-boxes",
        "version": 1,
        "root": str(image_tree.resolve()),
        "detector": "fine_grained",
        "search": {"objective": "excess"},
        "shard": [0, 1],
        "max_side": None,
    }
    part.write_text(json.dumps(header) + "\n")
    with pytest.raises(ValueError, match="another configuration"):
        build_box_cache(image_tree, out, workers=0, progress=False)


def test_shards_split_the_dataset_and_merge(image_tree: Path, tmp_path: Path) -> None:
    outs = [tmp_path / f"s{i}.jsonl" for i in range(3)]
    for i, o in enumerate(outs):
        build_box_cache(image_tree, o, shard=(i, 3), workers=0, progress=False)
    parts = [{e["path"] for e in _lines(o)[1:]} for o in outs]
    assert sum(len(p) for p in parts) == 41 and len(set().union(*parts)) == 41
    merged = BoxCache.load(outs)
    assert len(merged) == 40 and len(merged.errors) == 1
    with pytest.raises(ValueError, match="more than one box file"):
        BoxCache.load([outs[0], outs[0]])
    from saliencyaug.cli import main

    assert main(["boxes-merge", *map(str, outs), "--out", str(tmp_path / "all.jsonl")]) == 0
    again = BoxCache.load(tmp_path / "all.jsonl")
    assert sorted(again.records, key=lambda r: r.path) == sorted(
        merged.records, key=lambda r: r.path
    )


def test_cli_boxes_with_objective_and_max_side(image_tree: Path, tmp_path: Path) -> None:
    from saliencyaug.cli import main

    out = tmp_path / "mean.jsonl"
    code = main(
        [
            "boxes",
            str(image_tree),
            "--out",
            str(out),
            "--objective",
            "mean",
            "--min-size",
            "8",
            "8",
            "--workers",
            "0",
            "--no-progress",
            "--max-side",
            "16",
        ]
    )
    assert code == 0
    cache = BoxCache.load(out)
    assert cache.meta["search"] == {"objective": "mean", "min_size": [8, 8]}
    for rec in cache.records:
        assert (
            0 <= rec.box.x0 < rec.box.x1 <= rec.size[1]
            and 0 <= rec.box.y0 < rec.box.y1 <= rec.size[0]
        )
    assert main(["boxes", str(image_tree), "--out", str(out), "--shard", "3/2"]) == 2
    assert main(["boxes", str(image_tree), "--out", str(out), "--objective", "fixed"]) == 2
    assert main(["boxes", str(tmp_path / "nope"), "--out", str(out)]) == 2
