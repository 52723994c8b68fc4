"""Command line: ``saliencyaug demo`` and ``saliencyaug bench box-search``.

argparse (standard library) keeps the CLI free of extra dependencies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


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
    return parser


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
