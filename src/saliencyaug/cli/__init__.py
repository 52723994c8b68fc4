"""Command line: ``saliencyaug COMMAND``; one module per command group, each holding its
parsers and runners (:mod:`.pictures`: demo, grid, pairs-demo; :mod:`.boxes`: boxes,
boxes-merge; :mod:`.evaluate`: eval; :mod:`.recipes`; :mod:`.study`: study, assets;
:mod:`.bench`).

The top-level parser lists every command without importing its module, and only the chosen
command's module is imported (with torch, numba and the rest), so ``saliencyaug --help`` and
``--version`` answer at once. argparse (standard library) keeps the CLI free of extra
dependencies.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from saliencyaug._version import __version__
from saliencyaug.cli._common import fail, out_problem

#: command -> (module of its group, one-line help), in the order ``--help`` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("pictures", "saliency maps and best boxes of bundled photos, written as one PNG"),
    "grid": (
        "pictures",
        "picture of SaliencySwap: image, saliency map with box, two views with masks",
    ),
    "pairs-demo": (
        "pictures",
        "clean, reconstructed and perturbed-reconstructed images (synthesized pairs)",
    ),
    "boxes": (
        "boxes",
        "precompute the salient box of every image of a folder (resumable, shardable)",
    ),
    "boxes-merge": ("boxes", "merge box files (e.g. shards) into one"),
    "eval": (
        "evaluate",
        "evaluate an encoder with the papers' protocols: a table and a JSON report (percent)",
    ),
    "recipes": (
        "recipes",
        "list the training recipes, or show one resolved (with --set values)",
    ),
    "study": (
        "study",
        "pre-train and evaluate every arm on the composite benchmark (resumable)",
    ),
    "assets": (
        "study",
        "collect the composite benchmark's pictures from installed packages (manifest)",
    ),
    "bench": ("bench", "benchmarks: box search, training steps, view pipeline, MaxBoxAcc"),
}


def _chosen(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is one), or None."""
    return next((word for word in argv if word in COMMANDS), None)


def build_parser(command: str | None = None, *, full: bool = False) -> argparse.ArgumentParser:
    """The ``saliencyaug`` parser. Every command is listed; ``command``'s options are added
    by its module (with ``full``, every command's: for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="saliencyaug",
        description="Saliency-guided views for fine-grained self-supervised learning. "
        "'saliencyaug COMMAND --help' shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        if full or name == command:
            group = importlib.import_module(f"saliencyaug.cli.{module}")
            sub_parser = group.add_parser(sub, name, summary)
            sub_parser.set_defaults(_parser=sub_parser)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``saliencyaug`` command: parse, then run the chosen command.

    A wrong option is reported with the command's own usage (exit 2)."""
    words = list(sys.argv[1:] if argv is None else argv)
    args, unknown = build_parser(_chosen(words)).parse_known_args(words)
    target: Any = getattr(args, "_parser", None)
    if unknown:
        # the deepest parser that was used (a bench benchmark's, else the command's)
        target = getattr(args, "_subparser", None) or target
        target.error(f"unrecognized arguments: {' '.join(unknown)}")
    # the paths a command writes, declared by its parser: a file where a folder goes (or
    # the reverse) is one error line before any work starts
    for flag, kind in getattr(args, "outputs", {}).items():
        problem = out_problem(getattr(args, flag.lstrip("-")), folder=kind == "folder", flag=flag)
        if problem:
            return fail(problem)
    code: int = args.run(args)
    return code


__all__ = ["COMMANDS", "build_parser", "main"]
