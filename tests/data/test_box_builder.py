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

from saliencyaug.boxes import Box, BoxSearch
from saliencyaug.data.box_builder import build_box_cache, compute_record
from saliencyaug.data.box_file import BoxCache
from saliencyaug.image import list_images
from saliencyaug.saliency import DEFAULT_DETECTOR, get_detector

SLOW_DETECTOR = """
import time
from saliencyaug.saliency import spectral_residual

def detect(image):
    time.sleep({delay})
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


def _expected(root: Path, detector: str = DEFAULT_DETECTOR) -> dict[str, dict]:
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
    assert header["format"] == "saliencyaug-boxes"
    assert header["detector"] == DEFAULT_DETECTOR == "geodesic"
    expected = _expected(image_tree)
    assert {e["path"]: e for e in entries} == expected
    cache = BoxCache.load(out)
    assert len(cache) == 40 and cache.root == image_tree.resolve()
    rec = cache.records[0]
    arr = np.asarray(Image.open(cache.path_of(rec)).convert("RGB"))
    assert rec.box == BoxSearch()(get_detector(DEFAULT_DETECTOR)(arr))


def test_parallel_workers_give_the_same_boxes(image_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "par.jsonl"
    build_box_cache(image_tree, out, workers=2, progress=False)
    assert {e["path"]: e for e in _lines(out)[1:]} == _expected(image_tree)


def _run_cli(
    root: Path, out: Path, tmp_path: Path, workers: int, delay: float = 0.08
) -> subprocess.Popen:
    (tmp_path / "slowdet.py").write_text(SLOW_DETECTOR.format(delay=delay))
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
    # slowdet:detect is spectral_residual behind a sleep
    assert {e["path"]: e for e in entries} == _expected(image_tree, "spectral_residual")
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


# ----------------------------------------------------------------------------------------
# One writer, confined paths, every skip reported, damaged files named, nothing redone
# ----------------------------------------------------------------------------------------


def test_two_concurrent_builds_one_writes_the_other_is_refused(
    image_tree: Path, tmp_path: Path
) -> None:
    out = tmp_path / "both.jsonl"
    # 0.5 s per image: the first build must still be running when the second one has imported
    # torch and reaches the lock (seconds on a loaded 2-core machine; 0.08 s was a race)
    first = _run_cli(image_tree, out, tmp_path, 1, delay=0.5)
    lock = tmp_path / "both.jsonl.lock"
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline:
        time.sleep(0.02)
    second = _run_cli(image_tree, out, tmp_path, 1, delay=0.5)
    _, err2 = second.communicate(timeout=120)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1.decode()
    assert second.returncode == 2 and "is being written by" in err2.decode()
    entries = _lines(out)[1:]
    assert len(entries) == 41 == len({e["path"] for e in entries})  # one writer, no duplicates
    assert not lock.exists()


def test_a_held_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    from saliencyaug.io import OutputLock

    out = tmp_path / "x.jsonl"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from saliencyaug.io import OutputLock; import time\n"
            f"OutputLock({str(out)!r}).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
    with pytest.raises(RuntimeError, match=r"being written by .*pid"):
        OutputLock(out).acquire()
    holder.kill()
    holder.wait()
    with OutputLock(out):  # the kernel released the dead holder's lock
        pass


def test_box_files_cannot_point_outside_their_root(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    for bad in ("../secret.png", "/etc/passwd", "a/../../x.png", "a\\b.png", "./a.png"):
        path = tmp_path / "bad.jsonl"
        path.write_text(
            json.dumps({"format": "saliencyaug-boxes", "version": 1})
            + "\n"
            + json.dumps({"path": bad, "size": [4, 4], "box": [0, 0, 2, 2]})
            + "\n"
        )
        with pytest.raises(ValueError, match="relative to the root"):
            BoxCache.load(path, root=tmp_path / "root")
    # a symlink inside the root that leads out of it is refused when the image is opened
    outside = tmp_path / "outside.png"
    Image.new("RGB", (4, 4)).save(outside)
    (tmp_path / "root" / "link.png").symlink_to(outside)
    from saliencyaug.data.box_file import BoxRecord

    cache = BoxCache(
        root=tmp_path / "root", records=[BoxRecord("link.png", (4, 4), Box(0, 0, 2, 2))]
    )
    with pytest.raises(ValueError, match="outside the image root"):
        cache.path_of(cache.records[0])


def test_symlinked_and_unreadable_folders_are_reported(
    image_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "elsewhere" / "c"
    extra.mkdir(parents=True)
    Image.new("RGB", (20, 16), (200, 10, 10)).save(extra / "linked.png")
    (image_tree / "c").symlink_to(extra)  # a symlinked class folder is followed
    (image_tree / "c" / "loop").symlink_to(image_tree)  # ... once
    locked = image_tree / "locked"
    locked.mkdir()
    Image.new("RGB", (8, 8)).save(locked / "hidden.png")
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:  # as root, chmod cannot make a folder unreadable
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    report = build_box_cache(image_tree, tmp_path / "b.jsonl", workers=0, progress=False)
    assert report.total == 42  # 41 + the linked image
    assert any(p.endswith("locked") and "unreadable folder" in r for p, r in report.skipped)
    assert any("symlink loop" in r for _, r in report.skipped)
    assert BoxCache.load(tmp_path / "b.jsonl").get("c/linked.png") is not None


def test_an_unreadable_or_empty_root_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from saliencyaug.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["boxes", str(empty), "--out", str(tmp_path / "e.jsonl"), "--no-progress"]) == 1
    assert "no image could be read" in capsys.readouterr().err
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        if str(path) == str(empty):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(ValueError, match="cannot read image folder"):
        build_box_cache(empty, tmp_path / "u.jsonl", workers=0, progress=False)


def test_damaged_part_files_are_restarted_or_named(image_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    part = tmp_path / "d.jsonl.part"
    part.write_text("")  # killed right after creating it: nothing to keep, start over
    assert build_box_cache(image_tree, out, workers=0, progress=False).computed == 41
    part.write_text('{"format": "saliencyaug-bo')  # torn first line: the same
    out.unlink()
    assert build_box_cache(image_tree, out, workers=0, progress=False).computed == 41
    out.unlink()
    part.write_text("not json at all\n")
    with pytest.raises(ValueError, match=r"d\.jsonl\.part .*delete it to start over"):
        build_box_cache(image_tree, out, workers=0, progress=False)


def test_an_unwritable_output_folder_gets_a_clear_message(image_tree: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"cannot write to .*choose another output"):
        build_box_cache(image_tree, blocker / "b.jsonl", workers=0, progress=False)


def test_reruns_compute_only_what_changed(image_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    build_box_cache(image_tree, out, workers=0, progress=False)
    before = out.stat().st_mtime_ns
    again = build_box_cache(image_tree, out, workers=0, progress=False)
    assert again.up_to_date and again.computed == 0 and out.stat().st_mtime_ns == before
    (image_tree / "b" / "img00.png").unlink()  # a deleted image: its entry is dropped
    Image.new("RGB", (30, 20), (9, 9, 200)).save(image_tree / "a" / "new.png")  # one new
    report = build_box_cache(image_tree, out, workers=0, progress=False)
    assert (report.computed, report.stale, report.total) == (1, 1, 41)
    cache = BoxCache.load(out)
    assert cache.get("b/img00.png") is None and cache.get("a/new.png") is not None
    assert {e["path"]: e for e in _lines(out)[1:]} == _expected(image_tree)
    with pytest.raises(ValueError, match=r"another configuration .*detector"):
        build_box_cache(image_tree, out, detector="rbd", workers=0, progress=False)
