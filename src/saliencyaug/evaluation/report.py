"""``saliencyaug eval``: evaluate a saved encoder on image folders and write a JSON report.

Linear probe (fast L-BFGS by default, or the papers' SGD protocol), weighted kNN, retrieval
(rank-1, rank-5, mAP) on the test folder, and MaxBoxAcc v1/V2 when ground-truth boxes of the
test images are given as a box file. Folders are ``root/<class>/<image>``; the test folder's
classes must be the training folder's.

Preprocessing follows the papers: resize the shorter side to 256, centre crop 224, ImageNet
normalisation. For MaxBoxAcc the images are resized to 224x224 without cropping and the boxes
scaled to it with ``int()``, as ``wsolevaluation`` does, and the CAM is that of the true class
under the probe's classifier.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch

from saliencyaug import _checks
from saliencyaug.data.box_file import BoxCache
from saliencyaug.evaluation.cam import class_activation_map
from saliencyaug.evaluation.features import extract_features
from saliencyaug.evaluation.linear import knn_accuracy, linear_probe_lbfgs, linear_probe_sgd
from saliencyaug.evaluation.maxboxacc import MaxBoxAccEvaluator
from saliencyaug.evaluation.retrieval import retrieval_metrics
from saliencyaug.io import atomic_write_text
from saliencyaug.transforms.presets import IMAGENET_MEAN as MEAN
from saliencyaug.transforms.presets import IMAGENET_STD as STD


def _folder(root: str | Path, size: int, crop: bool) -> Any:
    from torchvision import datasets
    from torchvision.transforms import v2

    steps = (
        [v2.PILToTensor(), v2.Resize(round(size * 256 / 224)), v2.CenterCrop(size)]
        if crop
        else [v2.PILToTensor(), v2.Resize((size, size))]
    )
    tf = v2.Compose([*steps, v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])
    return datasets.ImageFolder(str(root), transform=tf)


def evaluate(
    encoder: torch.nn.Module,
    train_root: str | Path,
    test_root: str | Path,
    boxes: str | Path | list[str | Path] | None = None,
    probe: str = "lbfgs",
    knn_k: int = 20,
    image_size: int = 224,
    batch_size: int = 64,
    workers: int = 0,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Run every evaluation and return the report as a dict (see the module docstring).

    Raises:
        ValueError: different classes in the two folders, a bad probe name, or test images
            without boxes in the box file.
    """
    from torch.utils.data import DataLoader

    _checks.choice("probe", probe, ("lbfgs", "sgd", "both"))
    encoder = encoder.to(device)
    train_set, test_set = (
        _folder(train_root, image_size, True),
        _folder(test_root, image_size, True),
    )
    if train_set.classes != test_set.classes:
        raise ValueError(
            "train and test folders have different classes: "
            f"{train_set.classes} vs {test_set.classes}"
        )

    def loader(ds: Any) -> DataLoader:
        return DataLoader(ds, batch_size=batch_size, num_workers=workers, shuffle=False)

    xtr, ytr = extract_features(encoder, loader(train_set), device, progress)
    xte, yte = extract_features(encoder, loader(test_set), device, progress)
    report: dict[str, Any] = {
        "num_train": len(ytr),
        "num_test": len(yte),
        "num_classes": len(train_set.classes),
        "feature_dim": int(xtr.shape[1]),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
    }
    classifier, classes = None, None
    if probe in ("lbfgs", "both"):
        res = linear_probe_lbfgs(xtr, ytr, xte, yte)
        report["linear_probe_lbfgs"] = {"accuracy": res.accuracy, "weight_decay": res.best}
        classifier, classes = res.classifier, res.classes
    if probe in ("sgd", "both"):
        res = linear_probe_sgd(xtr, ytr, xte, yte)
        report["linear_probe_sgd"] = {
            "accuracy": res.accuracy,
            "lr": res.best,
            "scores": res.scores,
        }
        if classifier is None:
            classifier, classes = res.classifier, res.classes
    report["knn"] = {
        "k": knn_k,
        "temperature": 0.07,
        "accuracy": knn_accuracy(xtr, ytr, xte, yte, knn_k),
    }
    report["retrieval"] = retrieval_metrics(xte, yte).as_dict()
    if boxes is not None:
        assert classifier is not None and classes is not None  # a probe always runs
        report["maxboxacc"] = _maxboxacc(
            encoder, test_root, test_set, boxes, classifier, classes, image_size, device
        )
    return report


def _maxboxacc(
    encoder: torch.nn.Module,
    test_root: str | Path,
    test_set: Any,
    boxes: Any,
    classifier: Any,
    classes: torch.Tensor,
    size: int,
    device: str,
) -> dict[str, Any]:
    from PIL import Image

    cache = BoxCache.load(boxes, root=test_root)
    plain = _folder(test_root, size, crop=False)
    ev = MaxBoxAccEvaluator()
    encoder.eval()
    root = Path(test_root)
    for (path, label), i in zip(plain.samples, range(len(plain)), strict=True):
        rel = Path(path).relative_to(root).as_posix()
        box = cache.get(rel)
        if box is None:
            raise ValueError(f"no box for test image {rel!r} in the box file")
        with Image.open(path) as im:
            w, h = im.size
        image, _ = plain[i]
        with torch.inference_mode():
            fmap = encoder(image[None].to(device)).maps[4].float().cpu()
        row = torch.searchsorted(classes, torch.tensor([label]))
        cam = class_activation_map(fmap, classifier.weight.detach().float(), row)[0].numpy()
        sx, sy = size / w, size / h
        gt = [int(box.x0 * sx), int(box.y0 * sy), int(box.x1 * sx), int(box.y1 * sy)]
        gt = [min(max(v, 0), size) for v in gt]
        ev.add(cam, [gt], (size, size))
    return ev.compute().as_dict()


def write_report(report: dict[str, Any], out: str | Path) -> None:
    """Write the report as indented JSON, atomically."""
    atomic_write_text(out, json.dumps(report, indent=2, sort_keys=True))
