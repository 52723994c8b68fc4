"""The box-file format: reading, merging, saving, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliencyaug.boxes import Box, scale_box
from saliencyaug.data.box_builder import parse_shard
from saliencyaug.data.box_file import BoxCache, BoxRecord


def test_format_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "other"}\n')
    with pytest.raises(ValueError, match="not a saliencyaug box file"):
        BoxCache.load(bad)
    header = '{"format": "saliencyaug-boxes", "version": 1}\n'
    bad.write_text(header + '{"path": "a", "size": [4, 4], "box": [0, 0, 9, 1]}\n')
    with pytest.raises(ValueError, match="outside"):
        BoxCache.load(bad)
    bad.write_text('{"format": "saliencyaug-boxes", "version": 1}\n{"path": "a", "si')
    with pytest.raises(ValueError, match="incomplete"):
        BoxCache.load(bad)
    bad.write_text('{"format": "saliencyaug-boxes", "version": 7}\n')
    with pytest.raises(ValueError, match="version"):
        BoxCache.load(bad)
    with pytest.raises(ValueError, match="i/n"):
        parse_shard("1-2")
    with pytest.raises(ValueError, match="0 <= i < n"):
        parse_shard("2/2")


def test_save_load_round_trip_and_scale_box(tmp_path: Path) -> None:
    cache = BoxCache(
        Path("/data"),
        [BoxRecord("x/a.jpg", (10, 20), Box(1, 2, 3, 4))],
        [{"path": "b.jpg", "error": "bad"}],
    )
    cache.save(tmp_path / "c.jsonl")
    back = BoxCache.load(tmp_path / "c.jsonl")
    assert (
        back.records == cache.records and back.errors == cache.errors and back.root == Path("/data")
    )
    assert "x/a.jpg" in back and back.get("nope") is None
    assert scale_box(Box(0, 0, 1, 1), (10, 10), (100, 50)) == Box(0, 0, 5, 10)
    assert scale_box(Box(9, 9, 10, 10), (10, 10), (3, 3)) == Box(2, 2, 3, 3)
