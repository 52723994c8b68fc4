"""The box file: precomputed salient boxes of an image folder, one JSON line per image.

Format (JSON lines, UTF-8; no pickle)::

    {"format": "saliencyaug-boxes", "version": 1, "detector": "...", "search": {...}, ...}
    {"path": "class_a/img1.jpg", "size": [375, 500], "box": [x0, y0, x1, y1]}
    {"path": "class_b/broken.jpg", "error": "cannot identify image file ..."}

Paths are relative to the image root, with ``/`` separators. Boxes are integer XYXY, half-open,
in the pixel coordinates of the original image.

:func:`saliencyaug.data.box_builder.build_box_cache` writes these files (resumably, in
parallel); this module reads, merges and saves them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saliencyaug.boxes.geometry import Box
from saliencyaug.io import atomic_write_text

FORMAT = "saliencyaug-boxes"
VERSION = 1


@dataclass(frozen=True)
class BoxRecord:
    """One image's box: ``path`` relative to the root, ``size`` ``(H, W)``, ``box`` XYXY."""

    path: str
    size: tuple[int, int]
    box: Box


@dataclass
class BoxCache:
    """Boxes of the images below ``root``, loaded from one or more box files.

    Attributes:
        root: image root the record paths are relative to (may be None).
        records: the boxes, in file order.
        errors: ``{"path": ..., "error": ...}`` of images that could not be read.
        meta: the header of the (first) file.

    Examples:
        >>> cache = BoxCache(records=[BoxRecord("a.jpg", (10, 20), Box(1, 2, 5, 8))])
        >>> cache.get("a.jpg")
        Box(x0=1, y0=2, x1=5, y1=8)
    """

    root: Path | None = None
    records: list[BoxRecord] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {r.path: i for i, r in enumerate(self.records)}

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, path: object) -> bool:
        return path in self._index

    def get(self, path: str) -> Box | None:
        """The box of ``path`` (relative, ``/``-separated), or None."""
        i = self._index.get(path)
        return None if i is None else self.records[i].box

    def path_of(self, record: BoxRecord) -> Path:
        """Path of a record's image, inside the root.

        Raises:
            ValueError: the cache has no root, or the record's path leads outside it (e.g.
                through a symlink).
        """
        if self.root is None:
            raise ValueError("this BoxCache has no root; load it with root=IMAGE_FOLDER")
        path = self.root / check_record_path(record.path)
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise ValueError(f"box record {record.path!r} leads outside the image root {root}")
        return path

    @classmethod
    def load(
        cls, paths: str | Path | Sequence[str | Path], root: str | Path | None = None
    ) -> BoxCache:
        """Read box files (several shards merge; a later duplicate path is an error).

        Args:
            paths: one file or several (e.g. the shards of one dataset).
            root: the image folder (default: the ``root`` of the first header, if present).

        Raises:
            ValueError: not a box file, an unsupported version, a malformed line, or one image
                in two files.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if (
            not isinstance(paths, (list, tuple))
            or not paths
            or not all(isinstance(p, (str, Path)) for p in paths)
        ):
            raise TypeError(f"paths must be a box file or a list of them, got {paths!r}")
        records: list[BoxRecord] = []
        errors: list[dict[str, str]] = []
        meta: dict[str, Any] = {}
        seen: set[str] = set()
        for p in paths:
            header, lines = read_box_file(Path(p), allow_torn_tail=False)
            meta = meta or header
            for entry in lines:
                rel = check_record_path(entry.get("path"), str(p))
                if rel in seen:
                    raise ValueError(f"{p}: image {rel!r} appears in more than one box file")
                seen.add(rel)
                if "error" in entry:
                    errors.append({"path": rel, "error": entry["error"]})
                else:
                    records.append(_record(entry, Path(p)))
        root_path = (
            Path(root) if root is not None else (Path(meta["root"]) if meta.get("root") else None)
        )
        return cls(root_path, records, errors, meta)

    def save(self, path: str | Path) -> None:
        """Write the cache as one box file, atomically."""
        header = dict(self.meta) or {"format": FORMAT, "version": VERSION}
        header.update(format=FORMAT, version=VERSION)
        if self.root is not None:
            header["root"] = str(self.root)
        lines = [json.dumps(header)]
        lines += [record_json(r) for r in self.records]
        lines += [json.dumps(e) for e in self.errors]
        atomic_write_text(path, "\n".join(lines) + "\n")


def check_record_path(path: Any, source: str = "box record") -> str:
    """A record's image path: relative to the root, ``/``-separated, normalised, without
    ``..`` -- so that a box file never makes a reader open a file outside its root.

    Raises:
        ValueError: an absolute path, a ``..`` component, a backslash or an empty path.
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f"{source}: the image path must be a non-empty string, got {path!r}")
    parts = path.split("/")
    if (
        path.startswith("/")
        or "\\" in path
        or ":" in parts[0]
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(
            f"{source}: image path {path!r} must be relative to the root, '/'-separated and "
            "without '.' or '..' (a box file cannot point outside its folder)"
        )
    return path


def _record(entry: dict[str, Any], source: Path) -> BoxRecord:
    check_record_path(entry.get("path"), str(source))
    try:
        size, coords = list(entry["size"]), list(entry["box"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{source}: malformed record {entry!r}") from err
    if len(size) != 2 or len(coords) != 4:
        raise ValueError(f"{source}: malformed record {entry!r} (size: 2 values, box: 4)")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in [*size, *coords]):
        # 3.7 or true would be truncated to a different box without a word
        raise ValueError(
            f"{source}: the size and box of {entry['path']!r} must be integers (pixels), got "
            f"size {size} and box {coords}"
        )
    h, w = size
    box = Box(*coords)
    if not (0 <= box.x0 < box.x1 <= w and 0 <= box.y0 < box.y1 <= h):
        raise ValueError(
            f"{source}: box {list(box)} of {entry['path']!r} is outside its {h}x{w} image"
        )
    return BoxRecord(entry["path"], (h, w), box)


def record_json(record: BoxRecord) -> str:
    return json.dumps({"path": record.path, "size": list(record.size), "box": list(record.box)})


def read_box_file(path: Path, allow_torn_tail: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Header and entries of a box file. With ``allow_torn_tail`` an incomplete last line
    (a killed writer) is ignored instead of being an error."""
    text = path.read_text(encoding="utf-8")
    raw = text.split("\n")
    complete = raw[:-1]  # text after the last newline is incomplete (or empty)
    if raw[-1].strip() and not allow_torn_tail:
        raise ValueError(f"{path}: the last line is incomplete (an interrupted write?)")
    if not complete:
        raise ValueError(f"{path}: empty box file")
    try:
        header = json.loads(complete[0])
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: the first line is not a saliencyaug box-file header") from err
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a saliencyaug box file (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: unsupported box-file version {header.get('version')!r}")
    entries = []
    for n, line in enumerate(complete[1:], start=2):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{n}: malformed line") from err
    return header, entries


__all__ = [
    "FORMAT",
    "VERSION",
    "BoxCache",
    "BoxRecord",
    "check_record_path",
    "read_box_file",
    "record_json",
]
