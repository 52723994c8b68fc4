"""``saliencyaug eval``: evaluate an encoder with the papers' protocols."""

from __future__ import annotations

import argparse
from typing import Any

from saliencyaug.cli._common import fail, first_line, positive_int
from saliencyaug.data import FINE_GRAINED
from saliencyaug.evaluation.protocols import PROTOCOLS
from saliencyaug.evaluation.report import (
    dataset_splits,
    evaluate_splits,
    folder_splits,
    format_report,
    write_report,
)
from saliencyaug.models import load_encoder


def add_parser(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """Add the ``eval`` command to ``sub``."""
    ev = sub.add_parser(
        name,
        help=summary,
        description="Evaluate a saved encoder (an encoder.pt or a trainer's checkpoint.pt, a "
        "torchvision ResNet state_dict) on a fine-grained data set by name (official splits and "
        "boxes) or on two image folders, with the papers' protocols: fast (L-BFGS), "
        "cvsa-linear, moco-linear, cvsa-finetune; kNN, retrieval and MaxBoxAcc (when the test "
        "images have boxes). Prints a table and writes a JSON report; every number names its "
        "protocol and settings; all in percent.",
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
    ev.add_argument(
        "--dataset",
        choices=FINE_GRAINED,
        help="a fine-grained data set by name, with --root (default: none; or --train/--test)",
    )
    ev.add_argument("--root", help="the data set's folder, with --dataset (default: none)")
    ev.add_argument(
        "--train", help="training image folder root/<class>/<image>, with --test (default: none)"
    )
    ev.add_argument("--test", help="test image folder, with --train (default: none)")
    ev.add_argument(
        "--boxes",
        nargs="+",
        help="box file(s) with the test folder's ground-truth boxes (default: none, no MaxBoxAcc)",
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
    ev.add_argument(
        "--knn-k",
        type=positive_int,
        default=20,
        help="kNN neighbours; capped at the training set's size, with a note (default: "
        "%(default)s)",
    )
    ev.add_argument(
        "--image-size", type=positive_int, default=224, help="input side (default: %(default)s)"
    )
    ev.add_argument(
        "--batch-size",
        type=positive_int,
        default=64,
        help="feature-extraction batch (default: %(default)s)",
    )
    ev.add_argument(
        "--workers", type=int, default=0, help="DataLoader workers (default: %(default)s)"
    )
    ev.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    ev.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of label fractions, probes and fine-tuning (default: %(default)s)",
    )
    ev.add_argument("--out", required=True, help="JSON report to write")
    ev.add_argument("--no-progress", action="store_true", help="no progress bars")
    ev.set_defaults(run=run_eval, outputs={"--out": "file"})
    return ev


def run_eval(args: argparse.Namespace) -> int:
    """``saliencyaug eval``."""
    named = args.dataset is not None or args.root is not None
    folders = args.train is not None or args.test is not None
    if (
        named == folders
        or (named and not (args.dataset and args.root))
        or (folders and not (args.train and args.test))
    ):
        return fail("give either --dataset NAME --root DIR or --train DIR --test DIR")
    if named and args.boxes:
        return fail("--boxes is for folders; a named data set has its own")
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
        report["checkpoint"] = str(args.checkpoint)
        report["data"] = (
            {"dataset": args.dataset, "root": str(args.root)}
            if named
            else {"train": str(args.train), "test": str(args.test)}
        )
        write_report(report, args.out)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError, OSError) as err:
        return fail(first_line(err))
    print(format_report(report))
    print(f"wrote {args.out}")
    return 0


__all__ = ["add_parser", "run_eval"]
