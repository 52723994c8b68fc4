"""Atomic file writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliencyaug.io import atomic_write_bytes, atomic_write_text


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.bin"
    atomic_write_bytes(target, b"old")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.bin"]


def test_atomic_write_honours_the_umask(tmp_path: Path) -> None:
    import os

    from saliencyaug.io import _umask

    target = tmp_path / "mode.txt"
    atomic_write_text(target, "x")
    assert (target.stat().st_mode & 0o777) == (0o666 & ~_umask())
    old = os.umask(0o022)  # the test may change it; the library never does
    os.umask(old)
    assert _umask() == old
