"""``saliencyaug demo | grid | pairs-demo``: pictures of the detectors, SaliencySwap and the
synthesized pairs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from saliencyaug.cli._common import (
    box_search_arguments,
    box_search_from_args,
    fail,
    first_line,
    positive_int,
)
from saliencyaug.data import BoxCache
from saliencyaug.demo import DEFAULT_DETECTORS, bundled_photos, run_demo, synthetic_scenes
from saliencyaug.image import list_images, load_image
from saliencyaug.io import atomic_write_bytes
from saliencyaug.saliency import DEFAULT_DETECTOR
from saliencyaug.transforms import SaliencySwap
from saliencyaug.visualize import render_swap_grid, render_synthesized_pairs


def add_parser(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """Add the ``name`` command (demo, grid or pairs-demo) to ``sub``."""
    if name == "demo":
        return _demo_parser(sub, summary)
    if name == "grid":
        return _grid_parser(sub, summary)
    return _pairs_demo_parser(sub, summary)


def _demo_parser(sub: Any, summary: str) -> argparse.ArgumentParser:
    demo = sub.add_parser(
        "demo",
        help=summary,
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
        help=f"detectors to show (default: {' '.join(DEFAULT_DETECTORS)})",
    )
    box_search_arguments(demo, window_flag=None)
    demo.add_argument(
        "--synthetic",
        action="store_true",
        help="use procedural scenes instead of the bundled photos",
    )
    demo.set_defaults(run=run_demo_command, outputs={"--out": "file"})
    return demo


def _grid_parser(sub: Any, summary: str) -> argparse.ArgumentParser:
    grid = sub.add_parser(
        "grid",
        help=summary,
        description="Render N samples as rows: the image with its box, its saliency map, and two "
        "SaliencySwap views with their masks outlined. Without ROOT, uses photos bundled with "
        "scikit-image as both foregrounds and backgrounds.",
    )
    grid.add_argument("root", nargs="?", help="image folder (default: bundled photos)")
    grid.add_argument(
        "--out", default="saliencyswap-grid.png", help="PNG to write (default: %(default)s)"
    )
    grid.add_argument(
        "--n", type=positive_int, default=4, help="number of samples (default: %(default)s)"
    )
    grid.add_argument(
        "--boxes", nargs="+", help="box file(s) for ROOT's images (default: detect them)"
    )
    grid.add_argument("--backgrounds", help="background image folder (default: ROOT or the photos)")
    grid.add_argument(
        "--mode",
        default="replace",
        choices=["replace", "paste"],
        help="SaliencySwap mode (default: %(default)s)",
    )
    grid.add_argument(
        "--detector", default=DEFAULT_DETECTOR, help="detector (default: %(default)s)"
    )
    grid.add_argument(
        "--size", type=positive_int, default=224, help="view size (default: %(default)s)"
    )
    grid.add_argument(
        "--seed", type=int, default=0, help="torch seed of the draws (default: %(default)s)"
    )
    grid.add_argument(
        "--synthetic", action="store_true", help="procedural scenes instead of the bundled photos"
    )
    box_search_arguments(grid, window_flag="--window")
    grid.set_defaults(run=run_grid, outputs={"--out": "file"})
    return grid


def _pairs_demo_parser(sub: Any, summary: str) -> argparse.ArgumentParser:
    pairs_demo = sub.add_parser(
        "pairs-demo",
        help=summary,
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
        "--steps",
        type=positive_int,
        default=300,
        help="decoder pre-training steps (default: %(default)s)",
    )
    pairs_demo.add_argument(
        "--size",
        type=int,
        default=64,
        choices=[64, 128, 224],
        help="image side (default: %(default)s)",
    )
    pairs_demo.set_defaults(run=run_pairs_demo, outputs={"--out": "file"})
    return pairs_demo


def run_demo_command(args: argparse.Namespace) -> int:
    """``saliencyaug demo``."""
    try:
        search = box_search_from_args(args)
        path = run_demo(args.out, args.detectors, synthetic=args.synthetic, search=search)
    except (ValueError, OSError) as err:
        return fail(first_line(err))
    print(f"wrote {path}")
    return 0


def run_grid(args: argparse.Namespace) -> int:
    """``saliencyaug grid``."""
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
        atomic_write_bytes(args.out, canvas.to_png())
    except (ValueError, TypeError, OSError) as err:
        return fail(first_line(err))
    print(f"wrote {args.out}")
    return 0


def run_pairs_demo(args: argparse.Namespace) -> int:
    """``saliencyaug pairs-demo``."""
    images = synthetic_scenes(4) if args.synthetic else bundled_photos()
    try:
        canvas, history = render_synthesized_pairs(images, size=args.size, steps=args.steps)
        atomic_write_bytes(args.out, canvas.to_png())
    except (ValueError, OSError) as err:
        return fail(first_line(err))
    print(f"wrote {args.out} (decoder MSE {history[0]:.4f} -> {history[-1]:.4f})")
    return 0


__all__ = ["add_parser", "run_demo_command", "run_grid", "run_pairs_demo"]
