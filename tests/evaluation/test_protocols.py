"""The papers' evaluation protocols: pinned settings, label fractions, fine-tuning, MoCo's
augmented linear protocol, and ``saliencyaug eval`` on a data set by name."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from saliencyaug.cli import main
from saliencyaug.data import open_dataset
from saliencyaug.evaluation import (
    FINETUNE_PROTOCOLS,
    LINEAR_PROTOCOLS,
    FinetuneProtocol,
    LinearProtocol,
    finetune,
    finetune_transforms,
    label_fraction_indices,
    linear_probe,
    linear_probe_augmented,
)
from saliencyaug.evaluation.linear import scheduled_lr
from saliencyaug.models import make_backbone, save_encoder


def test_protocol_settings_are_the_papers() -> None:
    cvsa = LINEAR_PROTOCOLS["cvsa-linear"]
    assert (cvsa.lrs, cvsa.epochs, cvsa.batch_size, cvsa.select) == (
        (0.1, 0.01, 0.001),
        50,
        16,
        "test",
    )
    assert (cvsa.momentum, cvsa.weight_decay, cvsa.schedule, cvsa.standardize) == (
        0.9,
        0.0,
        "cosine",
        False,
    )
    moco = LINEAR_PROTOCOLS["moco-linear"]
    assert (moco.lrs, moco.epochs, moco.batch_size, moco.milestones) == (
        (30.0,),
        100,
        256,
        (60, 80),
    )
    assert moco.augmented and moco.schedule == "step" and moco.weight_decay == 0.0
    ft = FINETUNE_PROTOCOLS["cvsa-finetune"]
    assert ft.lrs == (0.1, 0.05, 0.01, 0.005, 0.001) and ft.weight_decays == (5e-4, 1e-4)
    assert (ft.epochs, ft.batch_size, ft.trials, ft.momentum) == (50, 16, 3, 0.9)


def test_schedules_by_hand() -> None:
    assert scheduled_lr(30.0, 0, 100, 1, "step", (60, 80)) == 30.0
    assert scheduled_lr(30.0, 60, 100, 1, "step", (60, 80)) == pytest.approx(3.0)
    assert scheduled_lr(30.0, 85, 100, 1, "step", (60, 80)) == pytest.approx(0.3)
    assert scheduled_lr(0.1, 50, 100, 1, "cosine", ()) == pytest.approx(0.05)
    assert scheduled_lr(0.1, 25, 100, 1, "cosine", ()) == pytest.approx(
        0.05 * (1 + math.cos(math.pi / 4))
    )


def test_label_fractions_are_class_balanced_and_seeded() -> None:
    labels = np.repeat(np.arange(4), [10, 7, 3, 1])
    for fraction, expected in ((1.0, [10, 7, 3, 1]), (0.5, [5, 4, 2, 1]), (0.2, [2, 1, 1, 1])):
        keep = label_fraction_indices(labels, fraction, seed=3)
        assert np.bincount(labels[keep], minlength=4).tolist() == expected
        assert keep.tolist() == sorted(set(keep.tolist()))
    a, b = label_fraction_indices(labels, 0.5, 0), label_fraction_indices(labels, 0.5, 0)
    assert np.array_equal(a, b) and not np.array_equal(a, label_fraction_indices(labels, 0.5, 1))
    with pytest.raises(ValueError, match="fraction"):
        label_fraction_indices(labels, 0.0)


def _colour_images(root: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for cls, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 60, (40, 48, 3), dtype=np.uint8)
            x0, y0 = int(rng.integers(0, 20)), int(rng.integers(0, 16))
            img[y0 : y0 + 20, x0 : x0 + 24] = colour
            Image.fromarray(img).save(root / cls / f"{i}.png")


def _splits(tmp_path: Path) -> tuple[object, object]:
    from saliencyaug.evaluation.report import folder_splits

    _colour_images(tmp_path / "train", 8, 0)
    _colour_images(tmp_path / "test", 4, 1)
    train, test = folder_splits(tmp_path / "train", tmp_path / "test")
    aug, plain = finetune_transforms(32)
    train.transform, test.transform = aug, plain
    return train, test


def test_finetune_selects_on_validation_and_reports_trials(tmp_path: Path) -> None:
    train, test = _splits(tmp_path)
    torch.manual_seed(0)
    encoder = make_backbone("small_resnet", widths=(8, 8, 16, 16))
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    tiny = FinetuneProtocol(
        "tiny", lrs=(0.05, 0.001), weight_decays=(1e-4,), epochs=4, batch_size=4, trials=2
    )
    result = finetune(encoder, train, test, 2, tiny, seed=0)  # type: ignore[arg-type]
    assert set(result.grid) == {"lr=0.05,wd=0.0001", "lr=0.001,wd=0.0001"}
    assert result.grid[f"lr={result.lr},wd={result.weight_decay}"] == max(result.grid.values())
    assert len(result.trials) == 2 and result.accuracy == pytest.approx(np.mean(result.trials))
    assert result.std == pytest.approx(np.std(result.trials))
    assert all(0 <= t <= 100 for t in result.trials) and result.accuracy >= 75  # colours separate
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # untouched
    again = finetune(encoder, train, test, 2, tiny, seed=0)  # type: ignore[arg-type]
    assert again.trials == result.trials  # seeded


def test_augmented_linear_probe_keeps_the_encoder_frozen(tmp_path: Path) -> None:
    train, test = _splits(tmp_path)
    encoder = make_backbone("small_resnet", widths=(8, 8, 16, 16))
    encoder.train()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    quick = LinearProtocol(
        "quick",
        lrs=(1.0, 0.1),
        epochs=6,
        batch_size=8,
        schedule="step",
        milestones=(4,),
        augmented=True,
    )
    result = linear_probe_augmented(encoder, train, test, 2, quick)  # type: ignore[arg-type]
    assert set(result["scores"]) == {"1.0", "0.1"} and result["top1"] == max(
        result["scores"].values()
    )
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    with pytest.raises(ValueError, match="augmented"):
        linear_probe(
            torch.randn(4, 3),
            torch.tensor([0, 1, 0, 1]),
            torch.randn(2, 3),
            torch.tensor([0, 1]),
            "moco-linear",
        )


def _cub(root: Path) -> Path:
    rng = np.random.default_rng(0)
    files, labels, split, boxes = [], [], [], []
    for i in range(16):
        cls = i % 2
        name = f"00{cls + 1}.Bird/{i}.jpg"
        img = rng.integers(0, 60, (40, 48, 3), dtype=np.uint8)
        img[10:30, 12:36] = (220, 30, 30) if cls == 0 else (30, 30, 220)
        (root / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / "images" / name)
        files.append(f"{i + 1} {name}")
        labels.append(f"{i + 1} {cls + 1}")
        split.append(f"{i + 1} {int(i < 10)}")
        boxes.append(f"{i + 1} 12 10 24 20")
    for fname, lines in (
        ("images.txt", files),
        ("image_class_labels.txt", labels),
        ("train_test_split.txt", split),
        ("bounding_boxes.txt", boxes),
        ("classes.txt", ["1 001.Bird", "2 002.Bird"]),
    ):
        (root / fname).write_text("\n".join(lines) + "\n")
    return root


def test_eval_reads_a_data_set_by_name_and_any_trainer_file(tmp_path: Path) -> None:
    root = _cub(tmp_path / "CUB_200_2011")
    assert len(open_dataset("cub", root, "test")) == 6
    encoder = make_backbone("small_resnet", widths=(8, 8, 16, 16))
    save_encoder(tmp_path / "encoder.pt", encoder, "small_resnet", {"widths": [8, 8, 16, 16]})
    out = tmp_path / "report.json"
    argv = ["eval", "--checkpoint", str(tmp_path / "encoder.pt"), "--dataset", "cub"]
    argv += ["--root", str(root), "--image-size", "32", "--knn-k", "3", "--no-progress"]
    argv += ["--protocol", "fast", "cvsa-linear", "--fractions", "100", "50", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["units"] == "percent" and report["num_train"] == 10 and report["num_test"] == 6
    rows = {(r["protocol"], r["label_fraction"]): r for r in report["linear"]}
    assert set(rows) == {
        ("fast", 100.0),
        ("fast", 50.0),
        ("cvsa-linear", 100.0),
        ("cvsa-linear", 50.0),
    }
    assert rows[("cvsa-linear", 100.0)]["settings"]["batch_size"] == 16
    assert all(0 <= r["top1"] <= 100 for r in rows.values())
    assert 0 <= report["retrieval"]["rank1"] <= 100 and "protocol" in report["retrieval"]
    assert "protocol" in report["knn"] and 0 <= report["maxboxacc"]["MaxBoxAcc"] <= 100


def test_eval_mistakes_end_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_encoder(
        tmp_path / "e.pt",
        make_backbone("small_resnet", widths=(8, 8, 16, 16)),
        "small_resnet",
        {"widths": [8, 8, 16, 16]},
    )
    cases = [
        (["--checkpoint", str(tmp_path / "e.pt"), "--train", "a"], "either --dataset"),
        (
            ["--checkpoint", str(tmp_path / "e.pt"), "--dataset", "cub", "--root", str(tmp_path)],
            "images.txt",
        ),
        (
            [
                "--checkpoint",
                str(tmp_path / "missing.pt"),
                "--dataset",
                "cub",
                "--root",
                str(tmp_path),
            ],
            "missing.pt",
        ),
    ]
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "bad.pt")
    cases.append(
        (
            ["--checkpoint", str(tmp_path / "bad.pt"), "--dataset", "cub", "--root", str(tmp_path)],
            "check --arch",
        )
    )
    for argv, message in cases:
        assert main(["eval", *argv, "--out", str(tmp_path / "r.json")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


def test_finetune_under_torchrun_agrees_on_every_rank(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    _colour_images(tmp_path / "train", 8, 0)
    _colour_images(tmp_path / "test", 5, 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    cmd += ["--master_port", str(port), str(Path(__file__).parent / "finetune_ranks.py")]
    cmd += [str(tmp_path / "train"), str(tmp_path / "test"), str(tmp_path)]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0] == ranks[1]  # one model, accuracies summed over both shards
    # 10 test images: every accuracy is a multiple of 10 %, so both shards were counted
    assert all(round(t) % 10 == 0 for t in ranks[0]["trials"])
