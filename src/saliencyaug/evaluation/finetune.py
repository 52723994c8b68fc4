"""Evaluations that train on images: fine-tuning the whole network (CVSA's protocol) and the
linear classifier on augmented images through a frozen encoder (MoCo's protocol).

Both run on one CPU or GPU, or on several GPUs under ``torchrun`` (the model DDP-wrapped, each
process its shard of every epoch, accuracies summed over processes). Data augmentation draws
from a seed per sample (:func:`saliencyaug.data.epoch_loader`), so runs reproduce and do not
depend on the number of workers. The datasets yield ``(image tensor, label)``; build them with
:func:`finetune_transforms`.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from saliencyaug import _checks
from saliencyaug.data import epoch_loader
from saliencyaug.distributed import Processes, rank, unwrap, world_size, wrap_ddp
from saliencyaug.evaluation.linear import scheduled_lr
from saliencyaug.evaluation.protocols import (
    FinetuneProtocol,
    LinearProtocol,
    finetune_protocol,
    label_fraction_indices,
    linear_protocol,
)
from saliencyaug.image import to_image_tensor
from saliencyaug.transforms.presets import IMAGENET_MEAN, IMAGENET_STD


def finetune_transforms(size: int = 224) -> tuple[Any, Any]:
    """``(train, test)`` transforms of the protocols: RandomResizedCrop ``size`` + horizontal
    flip, and resize ``size * 256 / 224`` + centre crop ``size``; both ImageNet-normalised.
    Each is called as ``transform(image, boxes=None)`` and returns the image tensor."""
    from torchvision.transforms import v2

    norm = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    train = v2.Compose([v2.RandomResizedCrop(size), v2.RandomHorizontalFlip(), *norm])
    test = v2.Compose([v2.Resize(round(size * 256 / 224)), v2.CenterCrop(size), *norm])

    class _ImageOnly:
        def __init__(self, transform: Any) -> None:
            self.transform = transform

        def __call__(self, image: Any, boxes: Any = None) -> torch.Tensor:
            return self.transform(to_image_tensor(image))

    return _ImageOnly(train), _ImageOnly(test)


class _Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, num_classes: int, seed: int) -> None:
        super().__init__()
        self.backbone = backbone
        dim = int(getattr(backbone, "output_dim", 0))
        if dim <= 0:
            raise TypeError("encoder must be a backbone with an output_dim (see make_backbone)")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.backbone(x)
        return self.head(getattr(out, "pooled", out))


def _labels(dataset: Dataset) -> np.ndarray:
    samples = getattr(dataset, "samples", None)
    if samples is not None:
        return np.asarray([s.label if hasattr(s, "label") else s[1] for s in samples])
    return np.asarray([int(dataset[i][1]) for i in range(len(dataset))])  # type: ignore[arg-type]


@torch.no_grad()
def _accuracy(model: nn.Module, dataset: Dataset, batch_size: int, device: torch.device) -> float:
    """Top-1 accuracy (percent) over ``dataset``; each process counts its share."""
    model.eval()
    n = len(dataset)  # type: ignore[arg-type]
    mine = Subset(dataset, list(range(rank(), n, world_size())))
    correct = torch.zeros(2, dtype=torch.float64, device=device)
    for images, labels in DataLoader(mine, batch_size=batch_size):
        logits = model(images.to(device))
        correct[0] += (logits.argmax(1).cpu() == labels).sum().item()
        correct[1] += len(labels)
    if world_size() > 1:
        dist.all_reduce(correct)
    return float(100.0 * correct[0] / correct[1].clamp_min(1))


def _train(
    model: nn.Module,
    dataset: Dataset,
    *,
    lr: float,
    weight_decay: float,
    momentum: float,
    epochs: int,
    batch_size: int,
    schedule: str,
    milestones: Sequence[int],
    seed: int,
    device: torch.device,
    frozen_backbone: bool,
    num_workers: int,
) -> nn.Module:
    net = wrap_ddp(model.to(device), Processes(rank(), world_size(), device))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    size = len(dataset)  # type: ignore[arg-type]
    batch = min(batch_size, size)
    per_epoch = max(1, size // batch)
    total = epochs * per_epoch
    step = 0
    for epoch in range(epochs):
        model.train()
        if frozen_backbone:
            unwrap(model).backbone.eval()  # type: ignore[union-attr]  # frozen: no BN updates
        loader = epoch_loader(
            dataset,
            batch,
            seed=seed,
            epoch=epoch,
            rank=rank(),
            world=world_size(),
            num_workers=num_workers,
        )
        for images, labels in loader:
            for group in opt.param_groups:
                group["lr"] = scheduled_lr(lr, step, total, per_epoch, schedule, milestones)
            loss = F.cross_entropy(net(images.to(device)), labels.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    return model


@dataclass
class FinetuneResult:
    """Top-1 accuracy in percent: mean and standard deviation over trials, each trial's, the
    selected lr and weight decay, the validation accuracy of every grid point, the protocol."""

    accuracy: float
    std: float
    trials: list[float]
    lr: float
    weight_decay: float
    grid: dict[str, float] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "top1": self.accuracy,
            "top1_std": self.std,
            "trials": self.trials,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "validation_top1": self.grid,
            "protocol": self.protocol,
        }


def finetune(
    encoder: nn.Module,
    train_set: Dataset,
    test_set: Dataset,
    num_classes: int,
    protocol: str | FinetuneProtocol = "cvsa-finetune",
    *,
    val_set: Dataset | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    num_workers: int = 0,
) -> FinetuneResult:
    """Fine-tune copies of ``encoder`` with a linear head (CVSA's protocol by default).

    Every (lr, weight decay) of the grid trains on the training set minus a class-balanced,
    seeded validation split (or on ``train_set`` with ``val_set``) and is scored on it; the
    best then trains on the whole training set ``protocol.trials`` times (seeds ``seed``,
    ``seed + 1``, ...), each scored on ``test_set``.

    Args:
        encoder: a backbone (``make_backbone``, ``load_encoder``); copied, never changed.
        train_set: dataset of ``(image tensor, label)``, augmented
            (:func:`finetune_transforms`); labels ``0..num_classes-1``.
        test_set: dataset of ``(image tensor, label)``, not augmented.
        num_classes: number of classes.
        protocol: a :class:`~saliencyaug.evaluation.protocols.FinetuneProtocol` or its name.
        val_set: the validation set (default: a split of ``train_set``).
        device: where to train.
        seed: seed of splits, heads, shuffling and augmentation.
        num_workers: DataLoader workers.

    Returns:
        :class:`FinetuneResult`.
    """
    spec = finetune_protocol(protocol)
    num_classes = _checks.integer("num_classes", num_classes, minimum=2)
    seed = _checks.integer("seed", seed)
    where = torch.device(device)
    if val_set is None:
        labels = _labels(train_set)
        held = label_fraction_indices(labels, spec.val_fraction, seed)
        rest = np.setdiff1d(np.arange(len(labels)), held)
        fit_set: Dataset = Subset(train_set, rest.tolist())
        val_set = Subset(train_set, held.tolist())
    else:
        fit_set = train_set

    def run(data: Dataset, lr: float, wd: float, trial_seed: int) -> nn.Module:
        model = _Classifier(copy.deepcopy(unwrap(encoder)), num_classes, trial_seed)
        for p in model.parameters():
            p.requires_grad_(True)
        return _train(
            model,
            data,
            lr=lr,
            weight_decay=wd,
            momentum=spec.momentum,
            epochs=spec.epochs,
            batch_size=spec.batch_size,
            schedule="cosine",
            milestones=(),
            seed=trial_seed,
            device=where,
            frozen_backbone=False,
            num_workers=num_workers,
        )

    grid: dict[str, float] = {}
    for lr in spec.lrs:
        for wd in spec.weight_decays:
            grid[f"lr={lr},wd={wd}"] = _accuracy(run(fit_set, lr, wd, seed), val_set, 64, where)
    best_lr, best_wd = max(
        ((lr, wd) for lr in spec.lrs for wd in spec.weight_decays),
        key=lambda c: grid[f"lr={c[0]},wd={c[1]}"],
    )
    trials = [
        _accuracy(run(train_set, best_lr, best_wd, seed + t), test_set, 64, where)
        for t in range(spec.trials)
    ]
    return FinetuneResult(
        accuracy=statistics.fmean(trials),
        std=statistics.pstdev(trials) if len(trials) > 1 else 0.0,
        trials=trials,
        lr=best_lr,
        weight_decay=best_wd,
        grid=grid,
        protocol=spec.as_dict(),
    )


def linear_probe_augmented(
    encoder: nn.Module,
    train_set: Dataset,
    test_set: Dataset,
    num_classes: int,
    protocol: str | LinearProtocol = "moco-linear",
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    num_workers: int = 0,
) -> dict[str, Any]:
    """A linear classifier trained on augmented images through the frozen ``encoder`` (in eval
    mode: no BatchNorm updates), MoCo's protocol by default; the best test accuracy over the
    protocol's learning rates.

    Returns:
        ``{"top1": percent, "lr": chosen, "scores": {lr: percent}, "protocol": settings}``.
    """
    spec = linear_protocol(protocol)
    num_classes = _checks.integer("num_classes", num_classes, minimum=2)
    where = torch.device(device)
    scores: dict[str, float] = {}
    for lr in spec.lrs:
        model = _Classifier(copy.deepcopy(unwrap(encoder)), num_classes, seed)
        for p in model.backbone.parameters():
            p.requires_grad_(False)
        _train(
            model,
            train_set,
            lr=lr,
            weight_decay=spec.weight_decay,
            momentum=spec.momentum,
            epochs=spec.epochs,
            batch_size=spec.batch_size,
            schedule=spec.schedule,
            milestones=spec.milestones,
            seed=seed,
            device=where,
            frozen_backbone=True,
            num_workers=num_workers,
        )
        scores[str(lr)] = _accuracy(model, test_set, 64, where)
    best = max(spec.lrs, key=lambda lr: scores[str(lr)])
    return {"top1": scores[str(best)], "lr": best, "scores": scores, "protocol": spec.as_dict()}


__all__ = ["FinetuneResult", "finetune", "finetune_transforms", "linear_probe_augmented"]
