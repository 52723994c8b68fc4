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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from saliencyaug.boxes.geometry import scale_box
from saliencyaug.boxes.search import BoxSearch
from saliencyaug.data.box_file import FORMAT, VERSION, read_box_file
from saliencyaug.image import list_images, load_image
from saliencyaug.saliency import get_detector
from saliencyaug.saliency.superpixels import work_image


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
        "search": search.to_dict(),
        "shard": list(shard),
        "max_side": max_side,
    }
    done: set[str] = set()
    if part.exists():
        old_header, entries = read_box_file(part, allow_torn_tail=True)
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


__all__ = [
    "BuildReport",
    "build_box_cache",
    "compute_record",
    "parse_shard",
    "resolve_detector",
    "shard_files",
]
