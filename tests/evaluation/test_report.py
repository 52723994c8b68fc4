"""``saliencyaug eval``: a saved encoder evaluated on image folders, JSON report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from saliencyaug.boxes import Box
from saliencyaug.cli import main
from saliencyaug.data.box_file import BoxCache, BoxRecord
from saliencyaug.models import ResNetBackbone


def _tree(root: Path, seed: int) -> dict[str, Box]:
    rng = np.random.default_rng(seed)
    boxes = {}
    for cls, color in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (root / cls).mkdir(parents=True)
        for i in range(5):
            img = rng.integers(0, 60, (48, 64, 3), dtype=np.uint8)
            x0, y0 = int(rng.integers(0, 30)), int(rng.integers(0, 20))
            img[y0 : y0 + 24, x0 : x0 + 30] = color
            Image.fromarray(img).save(root / cls / f"{i}.png")
            boxes[f"{cls}/{i}.png"] = Box(x0, y0, x0 + 30, y0 + 24)
    return boxes


def test_eval_command_writes_a_full_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path / "train", 0)
    test_boxes = _tree(tmp_path / "test", 1)
    cache = BoxCache(records=[BoxRecord(k, (48, 64), b) for k, b in test_boxes.items()])
    cache.save(tmp_path / "gt.jsonl")
    torch.manual_seed(0)
    ckpt = tmp_path / "enc.pt"
    torch.save(ResNetBackbone("resnet18").state_dict(), ckpt)
    out = tmp_path / "report.json"
    args = [
        "eval",
        "--checkpoint",
        str(ckpt),
        "--train",
        str(tmp_path / "train"),
        "--test",
        str(tmp_path / "test"),
    ]
    code = main(
        [
            *args,
            "--boxes",
            str(tmp_path / "gt.jsonl"),
            "--image-size",
            "64",
            "--knn-k",
            "3",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert report["num_train"] == 10 and report["num_test"] == 10 and report["num_classes"] == 2
    assert report["units"] == "percent"
    (fast,) = report["linear"]
    assert fast["protocol"] == "fast" and fast["label_fraction"] == 100.0
    assert 0 <= report["knn"]["top1"] <= 100
    assert set(report["retrieval"]) >= {"rank1", "rank5", "mAP", "num_queries", "protocol"}
    assert report["retrieval"]["num_queries"] == 10 and report["retrieval"]["rank1"] <= 100
    assert 0 <= report["maxboxacc"]["MaxBoxAcc"] <= 100 and "MaxBoxAccV2" in report["maxboxacc"]
    # colour classes are linearly separable even for random features
    assert fast["top1"] >= 90
    table = capsys.readouterr().out  # the same numbers, printed with their protocols
    assert f"linear top-1, fast (L-BFGS, weight decay {fast['weight_decay']:g})" in table
    assert f"{fast['top1']:.2f}" in table and "kNN top-1 (weighted, k=3, T=0.07)" in table
    assert f"{report['maxboxacc']['MaxBoxAcc']:.2f}" in table

    # more neighbours than training images: all of them, said in the report and the table
    assert main([*args, "--knn-k", "50", "--image-size", "32", "--out", str(out)]) == 0
    knn = json.loads(out.read_text())["knn"]
    assert knn["k"] == 10 and "k = 50 was asked for" in knn["note"]
    assert "note: k = 50 was asked for, but the training set has 10 images" in (
        capsys.readouterr().out
    )
