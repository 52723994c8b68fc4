"""What several commands share: argument types, the box-objective options, error lines and
report output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from saliencyaug.boxes import OBJECTIVES, BoxSearch
from saliencyaug.io import atomic_write_text


def fail(message: str) -> int:
    """Print ``error: message`` on stderr; the exit code of a user error (2)."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def out_problem(path: str | None, *, folder: bool, flag: str = "--out") -> str | None:
    """Why ``path`` cannot be written as a ``folder`` (or a file), or None when it can."""
    if path is None:
        return None
    target = Path(path)
    if folder and target.exists() and not target.is_dir():
        return f"{flag} {path} is a file; give a folder to write into"
    if not folder and target.is_dir():
        return f"{flag} {path} is a folder; give the file to write"
    return None


def first_line(err: BaseException) -> str:
    """An exception as one line (its first), or its type's name."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def size(text: str) -> tuple[int, int]:
    """An argparse type: ``HxW``."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"size must look like 224x224 (HxW), got {text!r}"
        ) from err
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return h, w


def level(text: str) -> str | float:
    """A level: a word (``mean``, ``otsu``) or a number."""
    try:
        return float(text)
    except ValueError:
        return text


def box_search_arguments(
    parser: argparse.ArgumentParser, window_flag: str | None = "--size"
) -> None:
    """The box-objective options; without ``window_flag`` the ``fixed`` objective is not
    offered (the demo's photos differ in size)."""
    group = parser.add_argument_group("box objective (see docs/boxes.md)")
    choices = [o for o in OBJECTIVES if window_flag is not None or o != "fixed"]
    group.add_argument(
        "--objective", default="excess", choices=choices, help="(default: %(default)s)"
    )
    group.add_argument(
        "--tau",
        type=level,
        help="excess: the level subtracted: mean, otsu or a number (default: mean)",
    )
    group.add_argument(
        "--threshold", type=level, help="threshold: otsu or a number (default: otsu)"
    )
    group.add_argument("--min-area", type=float, help="mean: minimum area fraction (default: 0.1)")
    group.add_argument(
        "--min-size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="mean: minimum box size (default: none)",
    )
    if window_flag is not None:
        group.add_argument(
            window_flag,
            dest="window",
            type=int,
            nargs=2,
            metavar=("H", "W"),
            help="fixed: the window's size (required with --objective fixed; default: none)",
        )


def box_search_from_args(args: argparse.Namespace) -> BoxSearch:
    """The :class:`BoxSearch` of the box-objective arguments (unset ones take the objective's
    defaults; ``mean`` without a limit takes ``--min-area 0.1``).

    Raises:
        ValueError: a parameter the objective does not take, or a bad value.
    """
    given = {
        "tau": args.tau,
        "threshold": args.threshold,
        "min_area": args.min_area,
        "min_size": tuple(args.min_size) if args.min_size else None,
        "size": tuple(args.window) if getattr(args, "window", None) else None,
    }
    params = {k: v for k, v in given.items() if v is not None}
    if args.objective == "mean" and "min_size" not in params and "min_area" not in params:
        params["min_area"] = 0.1
    try:
        return BoxSearch(args.objective, **params)
    except (ValueError, TypeError) as err:
        flag = str(err).split(" ", 1)[0].replace("_", "-")
        raise ValueError(f"--{flag.lstrip('-')}: {err}") from err


def json_option(parser: argparse.ArgumentParser) -> None:
    """``--json PATH``: also write the report as JSON."""
    parser.add_argument(
        "--json", metavar="PATH", help="also write the report as JSON to PATH (default: none)"
    )


def write_json(path: str | None, report: Any) -> None:
    """Write ``report`` as JSON to ``path`` (atomically) when a path is given."""
    if path:
        atomic_write_text(path, json.dumps(report, indent=2))


__all__ = [
    "box_search_arguments",
    "box_search_from_args",
    "fail",
    "first_line",
    "json_option",
    "level",
    "out_problem",
    "positive_int",
    "size",
    "write_json",
]
