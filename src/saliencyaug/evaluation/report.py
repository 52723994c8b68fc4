"""``saliencyaug eval``: evaluate an encoder with the papers' protocols and write a JSON report.

Every number of the report says which protocol produced it (its name and settings), and every
accuracy, retrieval score and localisation score is in **percent**, as the papers print them:

* ``linear``: one entry per linear protocol and label fraction -- ``fast`` (L-BFGS on cached
  features), ``cvsa-linear`` (cached features, CVSA's SGD settings), ``moco-linear``
  (augmented images through the frozen encoder, MoCo's settings);
* ``finetune``: one entry per label fraction for ``cvsa-finetune``;
* ``knn`` (weighted kNN, k and temperature given), ``retrieval`` (every test image a query
  against the rest of the test set: rank-1, rank-5, mAP);
* ``maxboxacc`` (v1, V2 and per IoU) when every test image has a ground-truth box, with the
  CAM of the true class under the ``fast`` probe's classifier.

Data: a fine-grained data set by name and root (its official splits and boxes) or two image
folders ``root/<class>/<image>`` with an optional box file for the test images. Features use
the evaluation view (resize the shorter side to ``size * 256 / 224``, centre crop ``size``,
ImageNet normalisation); MaxBoxAcc resizes images to ``size x size`` without cropping and
scales the boxes with ``int()``, as ``wsolevaluation`` does.
"""

from __future__ import annotations

import copy
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from saliencyaug import _checks
from saliencyaug.data import BoxCache, BoxedImageDataset, ImageFolderWithBoxes, open_dataset
from saliencyaug.evaluation.cam import class_activation_map
from saliencyaug.evaluation.features import extract_features
from saliencyaug.evaluation.finetune import finetune, finetune_transforms, linear_probe_augmented
from saliencyaug.evaluation.linear import knn_accuracy, linear_probe, linear_probe_lbfgs
from saliencyaug.evaluation.maxboxacc import MaxBoxAccEvaluator
from saliencyaug.evaluation.protocols import (
    FINETUNE_PROTOCOLS,
    LINEAR_PROTOCOLS,
    PROTOCOLS,
    label_fraction_indices,
)
from saliencyaug.evaluation.retrieval import retrieval_metrics
from saliencyaug.image import to_image_tensor
from saliencyaug.io import atomic_write_text
from saliencyaug.transforms.presets import IMAGENET_MEAN, IMAGENET_STD, eval_view

KNN_TEMPERATURE = 0.07


def folder_splits(
    train_root: str | Path, test_root: str | Path, boxes: Any = None
) -> tuple[BoxedImageDataset, BoxedImageDataset]:
    """Two image folders as evaluation splits; the test images take their boxes from the box
    file(s) ``boxes`` when given.

    Raises:
        ValueError: the folders' classes differ, or a test image has no box in ``boxes``.
    """
    empty = BoxCache(records=[])
    train = ImageFolderWithBoxes(train_root, empty, missing="detect")
    cache = BoxCache.load(boxes, root=test_root) if boxes is not None else empty
    test = ImageFolderWithBoxes(test_root, cache, missing="detect")
    if train.classes != test.classes:
        raise ValueError(
            f"train and test folders have different classes: {train.classes} vs {test.classes}"
        )
    if boxes is not None:
        missing = [s.path.name for s in test.samples if s.box is None]
        if missing:
            raise ValueError(
                f"no box for {len(missing)} test image(s) in the box file, e.g. {missing[0]!r}"
            )
    return train, test


def dataset_splits(name: str, root: str | Path) -> tuple[BoxedImageDataset, BoxedImageDataset]:
    """A fine-grained data set's official training and test splits, with their boxes."""
    return open_dataset(name, root, "train"), open_dataset(name, root, "test")


def _with(dataset: BoxedImageDataset, transform: Any) -> BoxedImageDataset:
    out = copy.copy(dataset)
    out.transform = transform
    return out


class _EvalView:
    def __init__(self, size: int) -> None:
        self.view = eval_view(size, resize=round(size * 256 / 224))

    def __call__(self, image: Any, boxes: Any = None) -> torch.Tensor:
        return self.view(to_image_tensor(image))


def _percent(values: dict[str, Any]) -> dict[str, Any]:
    return {k: 100.0 * v if k.startswith(("rank", "mAP")) else v for k, v in values.items()}


def evaluate_splits(
    encoder: torch.nn.Module,
    train: BoxedImageDataset,
    test: BoxedImageDataset,
    *,
    protocols: Sequence[str] = ("fast",),
    fractions: Sequence[float] = (1.0,),
    knn_k: int = 20,
    image_size: int = 224,
    batch_size: int = 64,
    workers: int = 0,
    device: str = "cpu",
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the requested protocols on two splits and return the report (see the module
    docstring).

    Args:
        encoder: a backbone (``load_encoder``, ``make_backbone``); never changed.
        train: dataset of images with labels (and boxes), without transforms
            (:func:`dataset_splits`, :func:`folder_splits`).
        test: the test dataset, in the same form as ``train``.
        protocols: any of ``"fast"``, ``"cvsa-linear"``, ``"moco-linear"``,
            ``"cvsa-finetune"``.
        fractions: label fractions of the training set, in (0, 1] (1, 0.5, 0.2 in the
            synthesized-pairs paper), class-balanced and seeded.
        knn_k: neighbours of the kNN classifier.
        image_size: input side.
        batch_size: feature-extraction batch.
        workers: DataLoader workers.
        device: where to run.
        progress: progress bars.
        seed: seed of label fractions, probes and fine-tuning.
    """
    protocols = [_checks.choice("protocols", p, PROTOCOLS) for p in protocols]
    fractions = [_checks.in_range("fractions", f, 0.0, 1.0, lo_open=True) for f in fractions]
    knn_k = _checks.integer("knn_k", knn_k, minimum=1)
    image_size = _checks.integer("image_size", image_size, minimum=1)
    if train.classes != test.classes:
        raise ValueError("train and test have different classes")
    num_classes = len(train.classes)
    view = _EvalView(image_size)

    def loader(ds: Any) -> DataLoader:
        return DataLoader(ds, batch_size=batch_size, num_workers=workers, shuffle=False)

    xtr, ytr = extract_features(encoder, loader(_with(train, view)), device, progress)
    xte, yte = extract_features(encoder, loader(_with(test, view)), device, progress)
    labels = ytr.numpy()
    report: dict[str, Any] = {
        "units": "percent",
        "num_train": len(ytr),
        "num_test": len(yte),
        "num_classes": num_classes,
        "feature_dim": int(xtr.shape[1]),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "linear": [],
    }
    subsets = {f: label_fraction_indices(labels, f, seed) for f in fractions}
    classifier, classes = None, None
    train_aug, test_view = finetune_transforms(image_size)
    for name in protocols:
        for fraction, keep in subsets.items():
            rows = torch.as_tensor(keep)
            entry: dict[str, Any] = {"protocol": name, "label_fraction": 100.0 * fraction}
            if name == "fast":
                res = linear_probe_lbfgs(xtr[rows], ytr[rows], xte, yte)
                entry.update(top1=100.0 * res.accuracy, weight_decay=res.best)
                entry["settings"] = {"solver": "L-BFGS", "weight_decay": res.best}
                if fraction == max(fractions):
                    classifier, classes = res.classifier, res.classes
            elif name == "moco-linear":
                res_aug = linear_probe_augmented(
                    encoder,
                    Subset(_with(train, train_aug), keep.tolist()),
                    _with(test, test_view),
                    num_classes,
                    name,
                    device=device,
                    seed=seed,
                    num_workers=workers,
                )
                entry.update(top1=res_aug["top1"], lr=res_aug["lr"], settings=res_aug["protocol"])
            elif name in LINEAR_PROTOCOLS:
                res = linear_probe(xtr[rows], ytr[rows], xte, yte, name, seed)
                entry.update(top1=100.0 * res.accuracy, lr=res.best)
                entry["settings"] = LINEAR_PROTOCOLS[name].as_dict()
                entry["scores"] = {k: 100.0 * v["test"] for k, v in res.scores.items()}
            elif name in FINETUNE_PROTOCOLS:
                result = finetune(
                    encoder,
                    Subset(_with(train, train_aug), keep.tolist()),
                    _with(test, test_view),
                    num_classes,
                    name,
                    device=device,
                    seed=seed,
                    num_workers=workers,
                )
                report.setdefault("finetune", []).append(
                    {"protocol": name, "label_fraction": 100.0 * fraction, **result.as_dict()}
                )
                continue
            report["linear"].append(entry)
    k_used = min(knn_k, len(ytr))  # more neighbours than training images: all of them
    report["knn"] = {
        "top1": 100.0 * knn_accuracy(xtr, ytr, xte, yte, k_used, KNN_TEMPERATURE),
        "k": k_used,
        "temperature": KNN_TEMPERATURE,
        "protocol": "weighted kNN (Wu et al., CVPR 2018), cosine similarity, all training labels",
    }
    if k_used < knn_k:
        report["knn"]["note"] = (
            f"k = {knn_k} was asked for, but the training set has {len(ytr)} images: "
            f"k = {k_used} (every training image) was used"
        )
    report["retrieval"] = {
        **_percent(retrieval_metrics(xte, yte).as_dict()),
        "protocol": "every test image a query against the rest of the test set, cosine "
        "similarity; AP over all same-class items",
    }
    if test.has_boxes:
        if classifier is None:
            fast = linear_probe_lbfgs(xtr, ytr, xte, yte)
            classifier, classes = fast.classifier, fast.classes
        assert classifier is not None and classes is not None
        report["maxboxacc"] = {
            **_maxboxacc(encoder, test, classifier, classes, image_size, device),
            "protocol": "wsolevaluation (Choe et al., CVPR 2020): CAM of the true class under "
            "the fast probe, 1000 thresholds, v1 IoU 0.5, V2 mean of IoU 0.3/0.5/0.7",
        }
    return report


def _maxboxacc(
    encoder: torch.nn.Module,
    test: BoxedImageDataset,
    classifier: Any,
    classes: torch.Tensor,
    size: int,
    device: str,
) -> dict[str, Any]:
    from torchvision.transforms import v2

    plain = v2.Compose(
        [
            v2.Resize((size, size)),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    ev = MaxBoxAccEvaluator()
    encoder.eval()
    test = _with(test, None)
    for i in range(len(test)):
        image, boxes, label = test[i]
        h, w = image.shape[-2:]
        x = plain(image)[None].to(device)
        with torch.inference_mode():
            out = encoder(x)
        fmap = out.maps[max(out.maps)].float().cpu()
        row = torch.searchsorted(classes, torch.tensor([label]))
        cam = class_activation_map(fmap, classifier.weight.detach().float(), row)[0].numpy()
        sx, sy = size / w, size / h
        gt = [
            [int(b[0] * sx), int(b[1] * sy), int(b[2] * sx), int(b[3] * sy)] for b in boxes.tolist()
        ]
        gt = [[min(max(v, 0), size) for v in box] for box in gt]
        ev.add(cam, gt, (size, size))
    return ev.compute().as_dict()


def evaluate(
    encoder: torch.nn.Module,
    train_root: str | Path,
    test_root: str | Path,
    boxes: str | Path | list[str | Path] | None = None,
    probe: str = "fast",
    knn_k: int = 20,
    image_size: int = 224,
    batch_size: int = 64,
    workers: int = 0,
    device: str = "cpu",
    progress: bool = True,
    protocols: Sequence[str] | None = None,
    fractions: Sequence[float] = (1.0,),
) -> dict[str, Any]:
    """:func:`evaluate_splits` on two image folders (and a box file for the test images).

    ``probe`` is the protocol when ``protocols`` is not given (``"fast"``, or
    ``"cvsa-linear"``...).
    """
    train, test = folder_splits(train_root, test_root, boxes)
    return evaluate_splits(
        encoder,
        train,
        test,
        protocols=protocols or (probe,),
        fractions=fractions,
        knn_k=knn_k,
        image_size=image_size,
        batch_size=batch_size,
        workers=workers,
        device=device,
        progress=progress,
    )


def format_report(report: dict[str, Any]) -> str:
    """The report as a short table for people: each number with its protocol and settings.

    Examples:
        >>> print(format_report({"num_train": 6, "num_test": 6, "num_classes": 2, "linear": [],
        ...     "knn": {"top1": 50.0, "k": 3, "temperature": 0.07}}))
        6 training and 6 test images, 2 classes (percent)
        kNN top-1 (weighted, k=3, T=0.07)                                50.00
    """
    lines = [
        f"{report['num_train']} training and {report['num_test']} test images, "
        f"{report['num_classes']} classes (percent)"
    ]

    def row(name: str, value: str) -> None:
        lines.append(f"{name:64s} {value}")

    for entry in report.get("linear", []):
        settings = entry.get("settings", {})
        detail = (
            f"L-BFGS, weight decay {entry['weight_decay']:g}"
            if entry["protocol"] == "fast"
            else f"lr {entry['lr']:g}"
            if "lr" in entry
            else str(settings)
        )
        row(
            f"linear top-1, {entry['protocol']} ({detail}), {entry['label_fraction']:g}% labels",
            f"{entry['top1']:.2f}",
        )
    for entry in report.get("finetune", []):
        row(
            f"fine-tune top-1, {entry['protocol']}, {entry['label_fraction']:g}% labels",
            f"{entry['top1']:.2f}",
        )
    if "knn" in report:
        knn = report["knn"]
        row(f"kNN top-1 (weighted, k={knn['k']}, T={knn['temperature']:g})", f"{knn['top1']:.2f}")
        if "note" in knn:
            lines.append(f"  note: {knn['note']}")
    if "retrieval" in report:
        r = report["retrieval"]
        row(
            "retrieval rank-1 / rank-5 / mAP (test against test)",
            f"{r['rank1']:.2f} / {r['rank5']:.2f} / {r['mAP']:.2f}",
        )
    if "maxboxacc" in report:
        m = report["maxboxacc"]
        row(
            "MaxBoxAcc v1 (IoU 0.5) / V2 (CAM of the fast probe)",
            f"{m['MaxBoxAcc']:.2f} / {m['MaxBoxAccV2']:.2f}",
        )
    return "\n".join(lines)


def write_report(report: dict[str, Any], out: str | Path) -> None:
    """Write the report as indented JSON, atomically."""
    atomic_write_text(out, json.dumps(report, indent=2, sort_keys=True))


__all__ = [
    "dataset_splits",
    "evaluate",
    "evaluate_splits",
    "folder_splits",
    "format_report",
    "write_report",
]
