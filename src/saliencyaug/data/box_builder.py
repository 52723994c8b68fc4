"""``saliencyaug boxes``: build a box file for an image folder, in parallel and resumably.

:func:`build_box_cache` writes to ``OUT.part`` as results arrive (one flushed line per image)
and renames it to ``OUT`` atomically when every image of its shard is done. Killed, it resumes
from ``OUT.part``: complete lines are kept, a torn last line is cut off, and only the missing
images are processed, so nothing is lost or written twice. Images that cannot be read are
recorded with their error, reported and skipped. The file format is
:mod:`saliencyaug.data.box_file`'s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from saliencyaug import _checks
from saliencyaug._opencv import require_cv2
from saliencyaug.boxes.geometry import scale_box
from saliencyaug.boxes.search import BoxSearch
from saliencyaug.data.box_file import FORMAT, VERSION, read_box_file
from saliencyaug.image import load_image, scan_images
from saliencyaug.io import OutputLock, atomic_write_text
from saliencyaug.saliency import DEFAULT_DETECTOR, get_detector
from saliencyaug.saliency.superpixels import work_image


@dataclass
class BuildReport:
    """What :func:`build_box_cache` did.

    Attributes:
        out: the box file.
        total: images of this shard.
        computed: images computed by this run.
        resumed: images whose boxes came from an earlier run (``OUT.part`` or ``OUT``).
        errors: ``{"path", "error"}`` of the images that could not be read.
        skipped: ``(path, reason)`` of folders and files passed over while listing.
        stale: entries of images that no longer exist, dropped.
        up_to_date: ``OUT`` was already complete for this configuration and left alone.
    """

    out: Path
    total: int
    computed: int
    resumed: int
    errors: list[dict[str, str]]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    stale: int = 0
    up_to_date: bool = False

    @property
    def read(self) -> int:
        """Images with a box (read and detected)."""
        return self.total - len(self.errors)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` to ``(i, n)`` with 0 <= i < n.

    Raises:
        ValueError: malformed or out of range.
    """
    if not isinstance(text, str):
        raise TypeError(f"shard must be a string i/n (e.g. 0/4), got {type(text).__name__}")
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


def _worker_init() -> None:  # pragma: no cover - runs in worker processes
    # one process per core already; OpenCV's own threads would oversubscribe the cores
    cv2 = require_cv2()

    cv2.setNumThreads(1)


def _work(
    args: tuple[Path, Path, str, BoxSearch, int | None],
) -> dict[str, Any]:  # pragma: no cover
    return compute_record(*args)


def build_box_cache(
    root: str | Path,
    out: str | Path,
    detector: str = DEFAULT_DETECTOR,
    search: BoxSearch | None = None,
    shard: tuple[int, int] = (0, 1),
    workers: int | None = None,
    max_side: int | None = None,
    progress: bool = True,
    on_error: Callable[[dict[str, str]], None] | None = None,
) -> BuildReport:
    """Compute the salient box of every image below ``root`` (of one shard) into ``out``.

    One process writes an output at a time (a lock, ``OUT.lock``, refuses a second one).
    Results go to ``OUT.part`` as they arrive and ``OUT`` is replaced atomically at the end. A
    killed run resumes from ``OUT.part``; a rerun over a finished ``OUT`` of the same
    configuration computes only images added since, drops entries of deleted images, and leaves
    the file untouched when nothing changed.

    Args:
        root: image folder (searched recursively; symlinked folders are followed).
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
        A :class:`BuildReport` (what was computed, reused, skipped or dropped).

    Raises:
        ValueError: a bad root or argument; an ``OUT.part`` or ``OUT`` from another
            configuration, or damaged; an output folder that cannot be written.
        RuntimeError: another process is writing ``out``.
    """
    from tqdm.auto import tqdm

    if max_side is not None:
        max_side = _checks.integer("max_side", max_side, minimum=1)
    if workers is not None:
        workers = _checks.integer("workers", workers, minimum=0)
    root = Path(root).resolve()
    out = Path(out)
    part = out.with_name(out.name + ".part")
    search = search or BoxSearch()
    resolve_detector(detector)  # fail early on a bad name
    scan = scan_images(root)
    files = shard_files(scan.files, shard)
    rels = {p.relative_to(root).as_posix() for p in files}
    header = {
        "format": FORMAT,
        "version": VERSION,
        "root": str(root),
        "detector": detector,
        "search": search.to_dict(),
        "shard": list(shard),
        "max_side": max_side,
    }
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lock = OutputLock(out, "another `saliencyaug boxes` run")
        lock.acquire()
    except OSError as err:
        raise ValueError(
            f"cannot write to {str(out.parent)!r}: {err.strerror}; choose another output folder"
        ) from err
    try:
        earlier, from_part = _earlier_entries(out, part, header)
        stale = [rel for rel in earlier if rel not in rels]
        kept = {rel: e for rel, e in earlier.items() if rel in rels}
        todo = [p for p in files if p.relative_to(root).as_posix() not in kept]
        if not from_part and out.exists() and not todo and not stale:
            errors = [e for e in kept.values() if "error" in e]
            return BuildReport(out, len(files), 0, len(kept), errors, scan.skipped, 0, True)
        try:  # the in-progress file: the header and the entries worth keeping, then appends
            atomic_write_text(part, "".join(json.dumps(x) + "\n" for x in [header, *kept.values()]))
        except OSError as err:
            raise ValueError(f"cannot write {part}: {err.strerror}; choose another output") from err
        errors = [e for e in kept.values() if "error" in e]
        jobs = [(root, p, detector, search, max_side) for p in todo]
        n_workers = (os.cpu_count() or 1) if workers is None else workers
        with open(part, "a", encoding="utf-8") as fh:
            bar = tqdm(
                total=len(files),
                initial=len(kept),
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
    finally:
        lock.release()
    return BuildReport(
        out, len(files), len(todo), len(kept), errors, scan.skipped, len(stale), False
    )


def _earlier_entries(
    out: Path, part: Path, header: dict[str, Any]
) -> tuple[dict[str, dict[str, Any]], bool]:
    """Entries of an interrupted run (``OUT.part``) or a finished one (``OUT``) made with the
    same configuration, by path, and whether they came from ``OUT.part``.

    Raises:
        ValueError: a file from another configuration, or a damaged one.
    """
    for path, in_progress in ((part, True), (out, False)):
        if not path.exists():
            continue
        if in_progress and _no_header(path):  # killed before its first line: nothing to keep
            path.unlink()
            continue
        what = "an interrupted run's" if in_progress else "an earlier run's"
        try:
            old_header, entries = read_box_file(path, allow_torn_tail=in_progress)
        except ValueError as err:
            raise ValueError(
                f"{path} is {what} box file but cannot be read ({err}); delete it to start over"
            ) from err
        if {k: old_header.get(k) for k in header} != header:
            changed = sorted(k for k in header if old_header.get(k) != header[k])
            raise ValueError(
                f"{path} was made with another configuration (different {', '.join(changed)}); "
                "delete it, or run with the same arguments"
            )
        return {e["path"]: e for e in entries if isinstance(e.get("path"), str)}, in_progress
    return {}, False


def _no_header(path: Path) -> bool:
    """True when a file holds no complete first line."""
    with open(path, "rb") as fh:
        return b"\n" not in fh.read(1 << 16)


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


__all__ = [
    "BuildReport",
    "build_box_cache",
    "compute_record",
    "parse_shard",
    "resolve_detector",
    "shard_files",
]
