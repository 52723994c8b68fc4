"""Precomputed salient boxes for an image folder: a JSON-lines file, built resumably.

File format (JSON lines, UTF-8; no pickle)::

    {"format": "saliencyaug-boxes", "version": 1, "detector": "...", "search": {...}, ...}
    {"path": "class_a/img1.jpg", "size": [375, 500], "box": [x0, y0, x1, y1]}
    {"path": "class_b/broken.jpg", "error": "cannot identify image file ..."}

Paths are relative to the image root, with ``/`` separators. Boxes are integer XYXY, half-open,
in the pixel coordinates of the original image.

:func:`build_box_cache` writes to ``OUT.part`` as results arrive (one flushed line per image)
and renames it to ``OUT`` atomically when every image of its shard is done. Killed, it resumes
from ``OUT.part``: complete lines are kept, a torn last line is cut off, and only the missing
images are processed, so nothing is lost or written twice. Images that cannot be read are
recorded with their error, reported and skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from saliencyaug.boxes import Box, BoxSearch

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

    Example:
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
        """Absolute path of a record's image.

        Raises:
            ValueError: the cache has no root.
        """
        if self.root is None:
            raise ValueError("this BoxCache has no root; load it with root=IMAGE_FOLDER")
        return self.root / record.path

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
        records: list[BoxRecord] = []
        errors: list[dict[str, str]] = []
        meta: dict[str, Any] = {}
        seen: set[str] = set()
        for p in paths:
            header, lines = _read_lines(Path(p), allow_torn_tail=False)
            meta = meta or header
            for entry in lines:
                rel = entry["path"]
                if rel in seen:
                    raise ValueError(f"{p}: image {rel!r} appears in more than one box file")
                seen.add(rel)
                if "error" in entry:
                    errors.append({"path": rel, "error": entry["error"]})
                else:
                    records.append(_record(entry, p))
        root_path = (
            Path(root) if root is not None else (Path(meta["root"]) if meta.get("root") else None)
        )
        return cls(root_path, records, errors, meta)

    def save(self, path: str | Path) -> None:
        """Write the cache as one box file, atomically."""
        from saliencyaug.io import atomic_write_text

        header = dict(self.meta) or {"format": FORMAT, "version": VERSION}
        header.update(format=FORMAT, version=VERSION)
        if self.root is not None:
            header["root"] = str(self.root)
        lines = [json.dumps(header)]
        lines += [_record_json(r) for r in self.records]
        lines += [json.dumps(e) for e in self.errors]
        atomic_write_text(path, "\n".join(lines) + "\n")


def _record(entry: dict[str, Any], source: Path) -> BoxRecord:
    try:
        h, w = (int(v) for v in entry["size"])
        box = Box(*(int(v) for v in entry["box"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{source}: malformed record {entry!r}") from err
    if not (0 <= box.x0 < box.x1 <= w and 0 <= box.y0 < box.y1 <= h):
        raise ValueError(
            f"{source}: box {list(box)} of {entry['path']!r} is outside its {h}x{w} image"
        )
    return BoxRecord(entry["path"], (h, w), box)


def _record_json(record: BoxRecord) -> str:
    return json.dumps({"path": record.path, "size": list(record.size), "box": list(record.box)})


def _read_lines(path: Path, allow_torn_tail: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
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


# ----------------------------------------------------------------------------------------
# Building
# ----------------------------------------------------------------------------------------


@dataclass
class BuildReport:
    """What :func:`build_box_cache` did."""

    out: Path
    total: int
    computed: int
    resumed: int
    errors: list[dict[str, str]]


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` to ``(i, n)`` with 0 <= i < n.

    Raises:
        ValueError: malformed or out of range.
    """
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError as err:
        raise ValueError(f"shard must look like i/n (e.g. 0/4), got {text!r}") from err
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"shard i/n needs 0 <= i < n, got {text!r}")
    return i, n


def shard_files(files: Sequence[Path], shard: tuple[int, int]) -> list[Path]:
    """The files of shard ``i`` of ``n``: every n-th file of the sorted list, from i."""
    i, n = shard
    return list(files[i::n])


def resolve_detector(spec: str) -> Callable[[Any], np.ndarray]:
    """A registered detector name, or ``"package.module:function"`` for a custom one."""
    from saliencyaug.saliency import get_detector

    if ":" in spec:
        import importlib

        module, _, attr = spec.partition(":")
        fn = getattr(importlib.import_module(module), attr, None)
        if not callable(fn):
            raise ValueError(f"detector {spec!r}: {attr!r} is not a callable of module {module!r}")
        return fn
    return get_detector(spec)


def compute_record(
    root: Path, path: Path, detector: str, search: BoxSearch, max_side: int | None
) -> dict[str, Any]:
    """Detect and box one image; ``{"path", "size", "box"}`` or ``{"path", "error"}``."""
    from saliencyaug.saliency.superpixels import work_image
    from saliencyaug.transforms.backgrounds import load_image

    rel = path.relative_to(root).as_posix()
    try:
        image = load_image(path).permute(1, 2, 0).numpy()
    except Exception as err:  # any decoding failure is reported and skipped
        return {"path": rel, "error": f"{type(err).__name__}: {err}"}
    h, w = image.shape[:2]
    small = work_image(image, max_side)
    box = search(resolve_detector(detector)(small))
    if small.shape[:2] != (h, w):
        box = scale_box(box, small.shape[:2], (h, w))
    return {"path": rel, "size": [h, w], "box": list(box)}


def scale_box(box: Box, from_size: tuple[int, int], to_size: tuple[int, int]) -> Box:
    """Map a box between resolutions, rounding outwards, clipped and never empty."""
    import math

    fy, fx = to_size[0] / from_size[0], to_size[1] / from_size[1]
    x0 = min(to_size[1] - 1, max(0, math.floor(box.x0 * fx)))
    y0 = min(to_size[0] - 1, max(0, math.floor(box.y0 * fy)))
    x1 = max(x0 + 1, min(to_size[1], math.ceil(box.x1 * fx)))
    y1 = max(y0 + 1, min(to_size[0], math.ceil(box.y1 * fy)))
    return Box(x0, y0, x1, y1)


def _worker_init() -> None:  # pragma: no cover - runs in worker processes
    # one process per core already; OpenCV's own threads would oversubscribe the cores
    import cv2

    cv2.setNumThreads(1)


def _work(
    args: tuple[Path, Path, str, BoxSearch, int | None],
) -> dict[str, Any]:  # pragma: no cover
    return compute_record(*args)


def build_box_cache(
    root: str | Path,
    out: str | Path,
    detector: str = "spectral_residual",
    search: BoxSearch | None = None,
    shard: tuple[int, int] = (0, 1),
    workers: int | None = None,
    max_side: int | None = None,
    progress: bool = True,
    on_error: Callable[[dict[str, str]], None] | None = None,
) -> BuildReport:
    """Compute the salient box of every image below ``root`` (of one shard) into ``out``.

    Args:
        root: image folder (searched recursively).
        out: the box file to write (``out + ".part"`` while in progress).
        detector: a registered detector name or ``"module:function"``.
        search: the box objective (default ``BoxSearch()``, i.e. ``excess``).
        shard: ``(i, n)``: process every n-th image from the i-th (sorted by path), so that
            several machines or ``torchrun`` ranks can split a dataset.
        workers: processes (default: all cores; 0 or 1 computes in this process).
        max_side: run the detector with the longer side at most this (boxes are scaled back).
        progress: show a tqdm progress bar.
        on_error: called with ``{"path", "error"}`` for each unreadable image.

    Returns:
        A :class:`BuildReport`.

    Raises:
        ValueError: a bad root, or an existing ``.part`` file from a different configuration.
    """
    from tqdm.auto import tqdm

    from saliencyaug.transforms.backgrounds import list_images

    root = Path(root).resolve()
    out = Path(out)
    part = out.with_name(out.name + ".part")
    search = search or BoxSearch()
    resolve_detector(detector)  # fail early on a bad name
    files = shard_files(list_images(root), shard)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "root": str(root),
        "detector": detector,
        "search": {k: v for k, v in asdict(search).items() if v is not None},
        "shard": list(shard),
        "max_side": max_side,
    }
    done: set[str] = set()
    if part.exists():
        old_header, entries = _read_lines(part, allow_torn_tail=True)
        if {k: old_header.get(k) for k in header} != header:
            raise ValueError(
                f"{part} was started with another configuration ({old_header}); remove it or "
                "use the same arguments"
            )
        done = {e["path"] for e in entries}
        _truncate_torn_tail(part)
    else:
        part.parent.mkdir(parents=True, exist_ok=True)
        with open(part, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(header) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    todo = [p for p in files if p.relative_to(root).as_posix() not in done]
    errors: list[dict[str, str]] = []
    jobs = [(root, p, detector, search, max_side) for p in todo]
    n_workers = (os.cpu_count() or 1) if workers is None else workers
    with open(part, "a", encoding="utf-8") as fh:
        bar = tqdm(
            total=len(files),
            initial=len(files) - len(todo),
            disable=not progress,
            unit="img",
            desc="boxes",
        )
        for entry in _results(jobs, n_workers):
            fh.write(json.dumps(entry) + "\n")
            fh.flush()  # a killed run loses at most the line being written
            if "error" in entry:
                errors.append(entry)
                if on_error is not None:
                    on_error(entry)
            bar.update(1)
        bar.close()
        os.fsync(fh.fileno())
    os.replace(part, out)
    return BuildReport(out, len(files), len(todo), len(files) - len(todo), errors)


def _results(
    jobs: list[tuple[Path, Path, str, BoxSearch, int | None]], workers: int
) -> Iterable[dict[str, Any]]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield compute_record(*job)
        return
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # safe beside torch/OpenMP threads of the parent
    with ctx.Pool(workers, initializer=_worker_init) as pool:
        yield from pool.imap_unordered(_work, jobs, chunksize=4)


def _truncate_torn_tail(path: Path) -> None:
    """Cut an incomplete last line (no trailing newline) left by a killed writer."""
    with open(path, "rb+") as fh:
        data = fh.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            fh.truncate(end)
