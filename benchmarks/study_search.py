"""The search behind the study's short-run recipes (docs/study.md): one seed, one ``r``, every
trial a real trainer run of the cpu scale with a few overrides, scored by its learning curve on
the validation split (pre-training images no run trains on; never the probe-test split).

    python benchmarks/study_search.py --out benchmarks/results/study-search [--part 0/2]

Resumable: a trial whose ``trials/<name>.json`` exists is skipped. ``--part i/n`` runs every
n-th trial (two parts side by side, each with OMP_NUM_THREADS=1, on a 2-core machine).
``--table`` prints the markdown table of the trials done.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from saliencyaug.data import default_assets_dir
from saliencyaug.io import atomic_write_text
from saliencyaug.study import (
    SCALES,
    _train,
    learning_curve,
    untrained,
    validation_scores,
    validation_split,
)

# (name, arm, overrides over the short-run recipe): one knob at a time around short-byol /
# short-moco, plus the views made for 224 px as an ablation.
TRIALS: list[tuple[str, str, list[str]]] = [
    ("untrained (the floor)", "untrained", []),
    ("byol lars base_lr 1.0, trust .02, tau .99", "byol-rrc", ["optim.base_lr=1.0"]),
    ("byol base_lr 2.0", "byol-rrc", ["optim.base_lr=2.0"]),
    ("byol base_lr 0.5 (short-byol)", "byol-rrc", []),
    ("byol base_lr 0.25", "byol-rrc", ["optim.base_lr=0.25"]),
    ("byol base_lr 1.0, tau 0.996", "byol-rrc", ["optim.base_lr=1.0", "byol.base_momentum=0.996"]),
    (
        "byol base_lr 1.0, views for 224 px (crop .2, sigma 2, kernel 23)",
        "byol-rrc",
        [
            "optim.base_lr=1.0",
            "views.rrc_scale=[0.2, 1.0]",
            "views.blur_sigma=[0.1, 2.0]",
            "views.blur_kernel=23",
        ],
    ),
    ("moco sgd base_lr 0.24, key momentum 0.99", "moco", ["moco.momentum=0.99"]),
    ("moco base_lr 0.48, key momentum 0.99", "moco", ["optim.base_lr=0.48", "moco.momentum=0.99"]),
    ("moco base_lr 0.12, key momentum 0.99", "moco", ["optim.base_lr=0.12", "moco.momentum=0.99"]),
    ("moco key momentum 0.996", "moco", ["moco.momentum=0.996"]),
    ("moco key momentum 0.999 (short-moco)", "moco", []),
    ("supervised sgd 0.4 (short-supervised)", "supervised", []),
]


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.split(" (")[0]).strip("-")


def table(out: Path) -> str:
    lines = [
        "| trial | steps | val linear by step | val kNN by step | final val linear | "
        "final val kNN | train (min) |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: |",
    ]
    for name, _, _ in TRIALS:
        path = out / "trials" / f"{slug(name)}.json"
        if not path.exists():
            continue
        t = json.loads(path.read_text())
        curve = t["curve"]
        linear = " / ".join(f"{c['val_linear']:.0f}" for c in curve)
        knn = " / ".join(f"{c['val_knn']:.0f}" for c in curve)
        last = curve[-1]
        lines.append(
            f"| {name} | {last['step']} | {linear} | {knn} | {last['val_linear']:.1f} | "
            f"{last['val_knn']:.1f} | {t['train_seconds'] / 60:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/study-search")
    parser.add_argument("--part", default="0/1", help="i/n: run every n-th trial from i")
    parser.add_argument("--share", type=int, default=16, help="background sharing r")
    parser.add_argument("--steps", type=int, default=0, help="steps (default: the cpu scale's)")
    parser.add_argument("--only", default="", help="run the trials whose name contains this")
    parser.add_argument("--assets", help="the pictures' folder (default: the package's cache)")
    parser.add_argument("--table", action="store_true", help="print the table and stop")
    args = parser.parse_args()
    out = Path(args.out)
    if args.table:
        print(table(out))
        return
    index, parts = (int(v) for v in args.part.split("/"))
    scale = SCALES["cpu"]
    if args.steps:  # a shorter search (or a quick check): a snapshot at least at the end
        scale = replace(scale, steps=args.steps, snapshot_every=min(100, args.steps))
    assets = Path(args.assets) if args.assets else default_assets_dir()
    validation = validation_split(scale, assets, args.share)
    for name, arm, extra in TRIALS[index::parts]:
        if args.only not in name:
            continue
        path = out / "trials" / f"{slug(name)}.json"
        if path.exists():
            continue
        start = time.time()
        folder = out / "runs" / slug(name)
        encoder = _train(arm, scale, assets, args.share, 0, folder, tuple(extra))
        seconds = time.time() - start
        if encoder is None:  # the untrained floor: the study's own untrained encoder
            curve = [{"step": 0, **validation_scores(untrained(scale, 0), validation)}]
        else:
            curve = learning_curve(folder, validation)
        record = {
            "name": name,
            "arm": arm,
            "overrides": extra,
            "share": args.share,
            "seed": 0,
            "train_seconds": seconds,
            "curve": curve,
        }
        atomic_write_text(path, json.dumps(record, indent=1) + "\n")
        print(name, record["curve"][-1], flush=True)


if __name__ == "__main__":
    main()
