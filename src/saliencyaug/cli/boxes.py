"""``saliencyaug boxes | boxes-merge``: box files of image folders."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from saliencyaug.cli._common import (
    box_search_arguments,
    box_search_from_args,
    fail,
    first_line,
)
from saliencyaug.data import BoxCache
from saliencyaug.data.box_builder import build_box_cache, parse_shard
from saliencyaug.saliency import DEFAULT_DETECTOR


def add_parser(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """Add the ``name`` command (boxes or boxes-merge) to ``sub``."""
    if name == "boxes-merge":
        merge = sub.add_parser(
            "boxes-merge",
            help=summary,
            description="Merge box files (the shards of one folder, say) into one; a path in "
            "two files is an error.",
        )
        merge.add_argument("files", nargs="+", help="box files")
        merge.add_argument("--out", required=True, help="merged box file to write")
        merge.set_defaults(run=run_merge, outputs={"--out": "file"})
        return merge
    boxes = sub.add_parser(
        "boxes",
        help=summary,
        description="Run a detector and a box objective on every image below ROOT and write a "
        "JSON-lines box file. Parallel over cores; killed, the same command resumes where it "
        "stopped; --shard i/n splits a dataset between machines or torchrun ranks.",
    )
    boxes.add_argument("root", help="image folder (searched recursively)")
    boxes.add_argument("--out", required=True, help="box file to write (JSON lines)")
    boxes.add_argument(
        "--detector",
        default=DEFAULT_DETECTOR,
        help="detector name or module:function (default: %(default)s)",
    )
    box_search_arguments(boxes)
    boxes.add_argument("--shard", default="0/1", help="process shard i of n (default: %(default)s)")
    boxes.add_argument(
        "--workers", type=int, default=None, help="processes (default: all cores; 0: this one)"
    )
    boxes.add_argument(
        "--max-side",
        type=int,
        default=None,
        help="detect at this longer side, boxes scaled back (default: full resolution)",
    )
    boxes.add_argument("--no-progress", action="store_true", help="no progress bar")
    boxes.set_defaults(run=run_boxes, outputs={"--out": "file"})
    return boxes


def run_boxes(args: argparse.Namespace) -> int:
    """``saliencyaug boxes``."""
    try:
        shard = parse_shard(args.shard)
        search = box_search_from_args(args)
        report = build_box_cache(
            args.root,
            args.out,
            detector=args.detector,
            search=search,
            shard=shard,
            workers=args.workers,
            max_side=args.max_side,
            progress=not args.no_progress,
            on_error=lambda e: print(f"skipped {e['path']}: {e['error']}", file=sys.stderr),
        )
    except (ValueError, TypeError, RuntimeError, OSError) as err:
        return fail(first_line(err))
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if report.up_to_date:
        print(f"{report.out} is up to date: {report.total} images, nothing to compute")
    else:
        print(
            f"wrote {report.out}: {report.total} images ({report.computed} computed, "
            f"{report.resumed} from an earlier run), {len(report.errors)} unreadable, "
            f"{len(report.skipped)} folders or files skipped, {report.stale} stale entries "
            "dropped"
        )
    if report.read == 0:
        print(f"error: no image could be read below {args.root}", file=sys.stderr)
        return 1
    return 0


def run_merge(args: argparse.Namespace) -> int:
    """``saliencyaug boxes-merge``."""
    try:
        cache = BoxCache.load(args.files)
        cache.save(args.out)
    except (ValueError, OSError) as err:
        return fail(first_line(err))
    print(f"wrote {args.out}: {len(cache)} boxes, {len(cache.errors)} unreadable images")
    return 0


__all__ = ["add_parser", "run_boxes", "run_merge"]
