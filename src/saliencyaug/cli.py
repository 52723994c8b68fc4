"""Command line: ``saliencyaug demo | boxes | boxes-merge | grid | bench``.

argparse (standard library) keeps the CLI free of extra dependencies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from saliencyaug.boxes import BoxSearch


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"size must look like 224x224 (HxW), got {text!r}"
        ) from err
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return h, w


def build_parser() -> argparse.ArgumentParser:
    """The ``saliencyaug`` argument parser."""
    from saliencyaug.demo import DEFAULT_DETECTORS

    parser = argparse.ArgumentParser(
        prog="saliencyaug",
        description="Saliency-guided views for fine-grained self-supervised learning.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="saliency maps and best boxes of bundled photos, written as one PNG",
        description="Run every detector on photos bundled with scikit-image and draw each map "
        "with its best box. No arguments and no downloads needed.",
    )
    demo.add_argument(
        "--out", default="saliencyaug-demo.png", help="PNG to write (default: %(default)s)"
    )
    demo.add_argument(
        "--detectors",
        nargs="+",
        default=list(DEFAULT_DETECTORS),
        metavar="NAME",
        help="detectors to show (default: all four)",
    )
    demo.add_argument(
        "--objective",
        default="excess",
        choices=["excess", "mean", "threshold"],
        help="box objective (default: %(default)s)",
    )
    demo.add_argument(
        "--synthetic",
        action="store_true",
        help="use procedural scenes instead of the bundled photos",
    )

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="benchmark", required=True)
    box = bench_sub.add_parser(
        "box-search",
        help="time every box objective against brute force and plain maximum-subarray",
        description="Median ms per map and maps/s of every objective on real detector maps and "
        "noise maps, with the baselines timed in the same run and the ratios to them.",
    )
    box.add_argument(
        "--maps", type=int, default=64, help="maps per set and size (default: %(default)s)"
    )
    box.add_argument(
        "--sizes",
        type=_size,
        nargs="+",
        default=None,
        metavar="HxW",
        help="map sizes (default: 64x64 224x224 375x500)",
    )
    box.add_argument(
        "--repeats", type=int, default=3, help="timings per map, best kept (default: %(default)s)"
    )
    box.add_argument(
        "--brute-maps",
        type=int,
        default=2,
        help="maps timed by brute force per set and size; 0 skips (default: %(default)s)",
    )
    box.add_argument(
        "--batch",
        type=int,
        default=256,
        help="maps in the batched measurement (default: %(default)s)",
    )
    box.add_argument("--seed", type=int, default=0)
    box.add_argument(
        "--json", metavar="PATH", help="also write the report as JSON to PATH ('-' for stdout only)"
    )
    box.add_argument(
        "--quick",
        action="store_true",
        help="a fast smoke run: 8 maps, 64x64 and 224x224, no brute force at 224",
    )
    boxes = sub.add_parser(
        "boxes",
        help="precompute the salient box of every image of a folder (resumable, shardable)",
        description="Run a detector and a box objective on every image below ROOT and write a "
        "JSON-lines box file. Parallel over cores; killed, the same command resumes where it "
        "stopped; --shard i/n splits a dataset between machines or torchrun ranks.",
    )
    boxes.add_argument("root", help="image folder (searched recursively)")
    boxes.add_argument("--out", required=True, help="box file to write (JSON lines)")
    boxes.add_argument(
        "--detector",
        default="spectral_residual",
        help="detector name or module:function (default: %(default)s)",
    )
    boxes.add_argument(
        "--objective", default="excess", choices=["excess", "mean", "threshold", "fixed"]
    )
    boxes.add_argument("--min-area", type=float, help="objective mean: minimum area fraction")
    boxes.add_argument(
        "--min-size", type=int, nargs=2, metavar=("H", "W"), help="objective mean: minimum size"
    )
    boxes.add_argument(
        "--size", type=int, nargs=2, metavar=("H", "W"), help="objective fixed: window size"
    )
    boxes.add_argument("--shard", default="0/1", help="process shard i of n (default: %(default)s)")
    boxes.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    boxes.add_argument(
        "--max-side", type=int, default=None, help="detect at this longer side (boxes scaled back)"
    )
    boxes.add_argument("--no-progress", action="store_true", help="no progress bar")

    merge = sub.add_parser("boxes-merge", help="merge box files (e.g. shards) into one")
    merge.add_argument("files", nargs="+", help="box files")
    merge.add_argument("--out", required=True, help="merged box file")
    return parser


def _box_search_from_args(args: argparse.Namespace) -> BoxSearch:
    from saliencyaug.boxes import BoxSearch

    params: dict = {}
    if args.objective == "mean":
        if args.min_size:
            params["min_size"] = tuple(args.min_size)
        else:
            params["min_area"] = args.min_area if args.min_area is not None else 0.1
    if args.objective == "fixed":
        if not args.size:
            raise ValueError("--objective fixed needs --size H W")
        params["size"] = tuple(args.size)
    return BoxSearch(args.objective, **params)


def _run_boxes(args: argparse.Namespace) -> int:
    from saliencyaug.data.box_cache import build_box_cache, parse_shard

    try:
        shard = parse_shard(args.shard)
        search = _box_search_from_args(args)
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
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {report.out}: {report.total} images ({report.computed} computed, "
        f"{report.resumed} from an earlier run), {len(report.errors)} unreadable"
    )
    return 0


def _run_merge(args: argparse.Namespace) -> int:
    from saliencyaug.data.box_cache import BoxCache

    try:
        cache = BoxCache.load(args.files)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cache.save(args.out)
    print(f"wrote {args.out}: {len(cache)} boxes, {len(cache.errors)} unreadable images")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``saliencyaug`` command."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from saliencyaug.demo import run_demo

        path = run_demo(
            args.out, args.detectors, synthetic=args.synthetic, objective=args.objective
        )
        print(f"wrote {path}")
        return 0
    if args.command == "boxes":
        return _run_boxes(args)
    if args.command == "boxes-merge":
        return _run_merge(args)
    if args.command == "bench" and args.benchmark == "box-search":
        from saliencyaug.bench import box_search
        from saliencyaug.io import atomic_write_text

        for name in ("maps", "repeats", "batch"):
            if getattr(args, name) < 1:
                print(f"error: --{name} must be at least 1", file=sys.stderr)
                return 2
        sizes = args.sizes or list(box_search.SIZES)
        n, brute = args.maps, args.brute_maps
        if args.quick:
            sizes, n, brute = [(64, 64), (224, 224)], 8, 1
        report = box_search.run(
            n_maps=n,
            sizes=sizes,
            repeats=args.repeats,
            brute_maps=brute,
            batch_size=args.batch if not args.quick else 32,
            seed=args.seed,
            progress=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True),
        )
        if args.json == "-":
            print(box_search.report_json(report))
            return 0
        print(box_search.format_report(report))
        if args.json:
            atomic_write_text(args.json, box_search.report_json(report))
        return 0
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
