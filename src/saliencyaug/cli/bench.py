"""``saliencyaug bench BENCHMARK``: box search, training steps, the view pipeline, box
quality and MaxBoxAcc, each timed against its baseline in the same run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from saliencyaug.bench import box_quality as box_quality_bench
from saliencyaug.bench import box_search as box_search_bench
from saliencyaug.bench import maxboxacc as maxboxacc_bench
from saliencyaug.bench import pipeline as pipeline_bench
from saliencyaug.bench import train_step
from saliencyaug.cli._common import fail, first_line, json_option, positive_int, size, write_json
from saliencyaug.io import atomic_write_text

QUICK_SIZES = [(64, 64), (224, 224)]


def add_parser(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """Add the ``bench`` command and its benchmarks to ``sub``."""
    bench = sub.add_parser(
        name,
        help=summary,
        description="Benchmarks; each times its baseline in the same run and reports ratios. "
        "'saliencyaug bench BENCHMARK --help' shows a benchmark's options.",
    )
    benchmarks = bench.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for add in (_box_search, _cvsa_step, _pairs_step, _pipeline, _box_quality, _maxboxacc):
        parser = add(benchmarks)
        parser.set_defaults(_subparser=parser)
    return bench


def _box_search(benchmarks: Any) -> argparse.ArgumentParser:
    box = benchmarks.add_parser(
        "box-search",
        help="time every box objective against brute force and plain maximum-subarray",
        description="Median ms per map and maps/s of every objective on real detector maps and "
        "noise maps, with the baselines timed in the same run and the ratios to them.",
    )
    box.add_argument(
        "--maps", type=positive_int, default=64, help="maps per set and size (default: %(default)s)"
    )
    box.add_argument(
        "--sizes",
        type=size,
        nargs="+",
        default=None,
        metavar="HxW",
        help="map sizes (default: 64x64 224x224 375x500)",
    )
    box.add_argument(
        "--repeats",
        type=positive_int,
        default=3,
        help="timings per map, best kept (default: %(default)s)",
    )
    box.add_argument(
        "--brute-maps",
        type=int,
        default=2,
        help="maps timed by brute force per set and size; 0 skips (default: %(default)s)",
    )
    box.add_argument(
        "--batch",
        type=positive_int,
        default=256,
        help="maps in the batched measurement (default: %(default)s)",
    )
    box.add_argument(
        "--seed", type=int, default=0, help="seed of the crops and noise (default: %(default)s)"
    )
    box.add_argument(
        "--json",
        metavar="PATH",
        help="also write the report as JSON to PATH ('-': JSON on stdout only; default: none)",
    )
    box.add_argument(
        "--quick",
        action="store_true",
        help="a fast smoke run: 8 maps, 64x64 and 224x224, a batch of 32, brute force at "
        "64x64 only",
    )
    box.set_defaults(run=run_box_search)
    return box


def _step_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch", type=positive_int, default=32, help="images per view (default: %(default)s)"
    )
    parser.add_argument(
        "--size", type=positive_int, default=224, help="image side (default: %(default)s)"
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=3,
        help="timed steps per process (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=2,
        help="processes per variant (default: %(default)s)",
    )
    json_option(parser)


def _cvsa_step(benchmarks: Any) -> argparse.ArgumentParser:
    step = benchmarks.add_parser(
        "cvsa-step",
        help="one training step: BYOL vs BYOL + CVSA alignment (ResNet-18, CPU), time and memory",
        description="Median time of a BYOL training step and of the same step with the CVSA "
        "saliency alignment (conv heads on stage 4), in alternating subprocesses, with their "
        "peak resident memory.",
    )
    _step_arguments(step)
    step.add_argument(
        "--hidden", type=positive_int, default=4096, help="head hidden dim (default: %(default)s)"
    )
    step.set_defaults(run=run_step)
    return step


def _pairs_step(benchmarks: Any) -> argparse.ArgumentParser:
    pairs = benchmarks.add_parser(
        "pairs-step",
        help="one training step: MoCo v2 vs MoCo v2 + decoder-pair objective (ResNet-18, CPU)",
        description="Median time of a MoCo v2 training step and of the same step with the "
        "synthesized-pair objective, in alternating subprocesses, with peak resident memory.",
    )
    _step_arguments(pairs)
    pairs.add_argument(
        "--decoder-size",
        type=positive_int,
        default=224,
        help="generated image side (default: %(default)s)",
    )
    pairs.set_defaults(run=run_step)
    return pairs


def _pipeline(benchmarks: Any) -> argparse.ArgumentParser:
    pipe = benchmarks.add_parser(
        "pipeline",
        help="MoCo v2 view pipeline: SaliencySwap (cached / on the fly) vs RandomResizedCrop",
        description="Images per second of the MoCo v2 augmentation pipeline starting with "
        "RandomResizedCrop, SaliencySwap with cached boxes, or SaliencySwap with spectral "
        "residual on the fly, on 500x375 photos, side by side; then BatchSaliencySwap.",
    )
    pipe.add_argument(
        "--images", type=positive_int, default=64, help="images per round (default: %(default)s)"
    )
    pipe.add_argument(
        "--rounds",
        type=positive_int,
        default=5,
        help="rounds, median kept (default: %(default)s)",
    )
    pipe.add_argument(
        "--batch",
        type=positive_int,
        default=256,
        help="BatchSaliencySwap batch (default: %(default)s)",
    )
    json_option(pipe)
    pipe.set_defaults(run=run_pipeline)
    return pipe


def _box_quality(benchmarks: Any) -> argparse.ArgumentParser:
    quality = benchmarks.add_parser(
        "box-quality",
        help="which detector and box objective find the object (composite images, exact boxes)",
        description="Mean IoU with the exact box, share of IoU >= 0.5 and ms per image of every "
        "detector x box objective on composite emoji-on-photo images.",
    )
    quality.add_argument(
        "--images", type=positive_int, default=500, help="images (default: %(default)s)"
    )
    quality.add_argument(
        "--size", type=int, default=128, help="image side, at least 16 (default: %(default)s)"
    )
    quality.add_argument(
        "--assets", help="assets folder (default: $SALIENCYAUG_ASSETS or ~/.cache)"
    )
    json_option(quality)
    quality.set_defaults(run=run_box_quality)
    return quality


def _maxboxacc(benchmarks: Any) -> argparse.ArgumentParser:
    mba = benchmarks.add_parser(
        "maxboxacc",
        help="MaxBoxAcc per CUB-sized image: the reference procedure vs the fast one",
        description="Milliseconds per 375x500 image of MaxBoxAcc v1 + V2 over the 1000-threshold "
        "grid, the authors' procedure (reference) and the fast implementation side by side on "
        "one thread, with every image's scores checked equal.",
    )
    mba.add_argument(
        "--images", type=positive_int, default=12, help="images per kind (default: %(default)s)"
    )
    json_option(mba)
    mba.set_defaults(run=run_maxboxacc)
    return mba


def run_step(args: argparse.Namespace) -> int:
    """``saliencyaug bench cvsa-step | pairs-step``."""
    if args.benchmark == "cvsa-step":
        report = train_step.run(args.batch, args.size, args.steps, args.repeats, args.hidden)
    else:
        report = train_step.run(
            args.batch,
            args.size,
            args.steps,
            args.repeats,
            4096,
            ("moco", "pairs"),
            args.decoder_size,
            2.5,
        )
    print(train_step.format_report(report))
    write_json(args.json, report)
    return 0


def run_pipeline(args: argparse.Namespace) -> int:
    """``saliencyaug bench pipeline``."""
    report = pipeline_bench.run(args.images, args.rounds, args.batch)
    print(pipeline_bench.format_report(report))
    write_json(args.json, report)
    return 0


def run_box_quality(args: argparse.Namespace) -> int:
    """``saliencyaug bench box-quality``."""
    if args.size < 16:
        return fail("--size must be at least 16")
    try:
        report = box_quality_bench.run(args.images, args.size, args.assets)
    except (FileNotFoundError, ValueError) as err:
        return fail(first_line(err))
    print(box_quality_bench.format_report(report))
    write_json(args.json, report)
    return 0


def run_maxboxacc(args: argparse.Namespace) -> int:
    """``saliencyaug bench maxboxacc``."""
    report = maxboxacc_bench.run(args.images)
    print(maxboxacc_bench.format_report(report))
    write_json(args.json, report)
    return 0


def run_box_search(args: argparse.Namespace) -> int:
    """``saliencyaug bench box-search``."""
    sizes = args.sizes or list(box_search_bench.SIZES)
    n, brute, batch, brute_pixels = args.maps, args.brute_maps, args.batch, None
    if args.quick:
        sizes, n, brute, batch, brute_pixels = QUICK_SIZES, 8, 1, 32, 64 * 64
    report = box_search_bench.run(
        n_maps=n,
        sizes=sizes,
        repeats=args.repeats,
        brute_maps=brute,
        batch_size=batch,
        seed=args.seed,
        progress=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True),
        brute_max_pixels=brute_pixels,
    )
    if args.json == "-":
        print(box_search_bench.report_json(report))
        return 0
    print(box_search_bench.format_report(report))
    if args.json:
        atomic_write_text(args.json, box_search_bench.report_json(report))
    return 0


__all__ = [
    "add_parser",
    "run_box_quality",
    "run_box_search",
    "run_maxboxacc",
    "run_pipeline",
    "run_step",
]
