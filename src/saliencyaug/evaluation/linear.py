"""Linear evaluation on frozen features, and weighted kNN.

* :func:`linear_probe_sgd` -- the papers' protocol: a linear classifier trained with SGD
  (momentum 0.9, no weight decay, cosine schedule) for each learning rate in
  ``{0.1, 0.01, 0.001}``, the best one chosen on a validation split of the training features
  (``select="val"``, default) or, as many papers report, on the test set (``select="test"``).
* :func:`linear_probe_lbfgs` -- a fast probe: L2-regularised multinomial logistic regression
  solved with L-BFGS on the cached features, in torch.
* :func:`knn_accuracy` -- weighted kNN (Wu et al., CVPR 2018): the k nearest training
  features by cosine similarity vote with weights ``exp(sim / temperature)``.

Features are standardised with the training set's mean and standard deviation first
(``standardize=True``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from saliencyaug import _checks
from saliencyaug.evaluation.inputs import check_features, encode_labels
from saliencyaug.evaluation.protocols import LinearProtocol, linear_protocol


@dataclass
class ProbeResult:
    """Test accuracy (fraction) of the chosen setting, and every setting's scores.

    ``classifier`` maps raw features to one score per class; column ``i`` is the label
    ``classes[i]`` (the sorted training labels).
    """

    accuracy: float
    best: float | None = None
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    classifier: torch.nn.Linear | None = None
    classes: torch.Tensor | None = None


def _prepare(
    train: torch.Tensor, test: torch.Tensor, standardize: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    mean = train.mean(0, keepdim=True) if standardize else torch.zeros(1, train.shape[1])
    std = (
        train.std(0, keepdim=True).clamp_min(1e-6) if standardize else torch.ones(1, train.shape[1])
    )
    return (train - mean) / std, (test - mean) / std, mean, std


def _linear(in_features: int, out_features: int, seed: int | None = None) -> torch.nn.Linear:
    """A linear layer initialised from ``seed`` (or left to be overwritten) without drawing
    from, or changing, the caller's global RNG."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return torch.nn.Linear(in_features, out_features)


def _fold(linear: torch.nn.Linear, mean: torch.Tensor, std: torch.Tensor) -> torch.nn.Linear:
    """A classifier on raw features equal to ``linear`` on standardised ones."""
    out = _linear(linear.in_features, linear.out_features)
    with torch.no_grad():
        out.weight.copy_(linear.weight / std)
        out.bias.copy_(linear.bias - (linear.weight * (mean / std)).sum(1))
    return out


def _accuracy(linear: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((linear(x).argmax(1) == y).double().mean())


def _check(
    train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check both sets; the labels encoded as class indices (see :func:`encode_labels`)."""
    check_features(train_x, train_y, "train features")
    check_features(test_x, test_y, "test features")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(
            f"train and test features differ in width: {train_x.shape[1]} vs {test_x.shape[1]}"
        )
    return encode_labels(train_y, test_y)


def scheduled_lr(
    base: float, step: int, total: int, per_epoch: int, schedule: str, milestones: Sequence[int]
) -> float:
    """The learning rate of ``step`` (0-based) of ``total``: cosine decay to 0 (as
    ``CosineAnnealingLR`` stepped per iteration), or x 0.1 at each milestone epoch."""
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * step / max(1, total)))
    epoch = step // per_epoch
    return base * 0.1 ** sum(epoch >= m for m in milestones)


def linear_probe_sgd(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    lrs: Sequence[float] = (0.1, 0.01, 0.001),
    epochs: int = 100,
    batch_size: int = 256,
    select: str = "val",
    val_fraction: float = 0.1,
    standardize: bool = True,
    seed: int = 0,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    schedule: str = "cosine",
    milestones: Sequence[int] = (),
) -> ProbeResult:
    """A linear classifier on cached features trained with SGD, for each learning rate.

    The defaults are a generic protocol; :func:`linear_probe` runs the papers' exactly
    (``"cvsa-linear"``: batch 16, 50 epochs, best test accuracy, raw features).

    Args:
        train_x: training features ``(N, n)``.
        train_y: training labels ``(N,)``.
        test_x: test features ``(M, n)``.
        test_y: test labels ``(M,)``.
        lrs: learning rates tried.
        epochs: epochs per learning rate.
        batch_size: mini-batch size.
        select: ``"val"`` (choose the learning rate on ``val_fraction`` of the training set,
            then retrain on all of it) or ``"test"`` (the best test accuracy).
        val_fraction: held-out fraction for ``select="val"``.
        standardize: z-score features with training statistics.
        seed: seed of the initialisation, shuffling and split (a local generator).
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        schedule: ``"cosine"`` (per step, to 0) or ``"step"`` (x 0.1 at each of
            ``milestones``, in epochs).
        milestones: epochs of the step schedule.

    Returns:
        :class:`ProbeResult` with ``best`` = the chosen learning rate and the classifier (on
        raw features).
    """
    train_y, test_y, classes = _check(train_x, train_y, test_x, test_y)
    train_x, test_x = train_x.float(), test_x.float()
    num_classes = len(classes)
    _checks.choice("select", select, ("val", "test"))
    if not isinstance(lrs, (tuple, list)) or not lrs:
        raise TypeError(f"lrs must be a non-empty sequence of learning rates, got {lrs!r}")
    lrs = [_checks.positive(f"lrs[{i}]", lr) for i, lr in enumerate(lrs)]
    epochs = _checks.integer("epochs", epochs, minimum=1)
    batch_size = _checks.integer("batch_size", batch_size, minimum=1)
    val_fraction = _checks.in_range(
        "val_fraction", val_fraction, 0.0, 1.0, lo_open=True, hi_open=True
    )
    standardize = _checks.boolean("standardize", standardize)
    seed = _checks.integer("seed", seed)
    momentum = _checks.positive("momentum", momentum, allow_zero=True)
    weight_decay = _checks.positive("weight_decay", weight_decay, allow_zero=True)
    schedule = _checks.choice("schedule", schedule, ("cosine", "step"))
    milestones = [_checks.integer("milestones", m, minimum=1) for m in milestones]
    gen = torch.Generator().manual_seed(seed)

    def fit(x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.nn.Linear:
        # the initialisation comes from the probe's own generator, not the global RNG
        linear = _linear(x.shape[1], num_classes, int(torch.randint(2**31, (), generator=gen)))
        opt = torch.optim.SGD(
            linear.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
        )
        per_epoch = math.ceil(len(x) / batch_size)
        for epoch in range(epochs):
            perm = torch.randperm(len(x), generator=gen)
            for k, i in enumerate(range(0, len(x), batch_size)):
                set_lr(opt, lr, epoch * per_epoch + k, epochs * per_epoch, per_epoch)
                b = perm[i : i + batch_size]
                loss = F.cross_entropy(linear(x[b]), y[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return linear

    def set_lr(
        opt: torch.optim.Optimizer, base: float, step: int, total: int, per_epoch: int
    ) -> None:
        for group in opt.param_groups:
            group["lr"] = scheduled_lr(base, step, total, per_epoch, schedule, milestones)

    scores: dict[str, dict[str, float]] = {}
    if select == "val":
        perm = torch.randperm(len(train_x), generator=gen)
        n_val = max(1, round(val_fraction * len(train_x)))
        val_idx, fit_idx = perm[:n_val], perm[n_val:]
        tr, va, _, _ = _prepare(train_x[fit_idx], train_x[val_idx], standardize)
        for lr in lrs:
            scores[str(lr)] = {
                "val": _accuracy(fit(tr, train_y[fit_idx], lr), va, train_y[val_idx])
            }
        best = max(lrs, key=lambda lr: scores[str(lr)]["val"])
        tr, te, mean, std = _prepare(train_x, test_x, standardize)
        linear = fit(tr, train_y, best)
        acc = _accuracy(linear, te, test_y)
        scores[str(best)]["test"] = acc
    else:
        tr, te, mean, std = _prepare(train_x, test_x, standardize)
        fitted = {}
        for lr in lrs:
            fitted[lr] = fit(tr, train_y, lr)
            scores[str(lr)] = {"test": _accuracy(fitted[lr], te, test_y)}
        best = max(lrs, key=lambda lr: scores[str(lr)]["test"])
        linear, acc = fitted[best], scores[str(best)]["test"]
    return ProbeResult(acc, best, scores, _fold(linear, mean, std), classes)


def linear_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    protocol: str | LinearProtocol = "cvsa-linear",
    seed: int = 0,
) -> ProbeResult:
    """:func:`linear_probe_sgd` with a paper's settings on cached features (see
    :mod:`saliencyaug.evaluation.protocols`; ``"cvsa-linear"``: batch 16, 50 epochs, lr in
    {0.1, 0.01, 0.001}, the best test accuracy, raw features).

    Raises:
        ValueError: the protocol trains on augmented images (use
            :func:`~saliencyaug.evaluation.linear_probe_augmented`).
    """
    spec = linear_protocol(protocol)
    if spec.augmented:
        raise ValueError(
            f"protocol {spec.name!r} trains on augmented images, not cached features: use "
            "linear_probe_augmented"
        )
    return linear_probe_sgd(
        train_x,
        train_y,
        test_x,
        test_y,
        lrs=spec.lrs,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        select=spec.select,
        standardize=spec.standardize,
        seed=seed,
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
        schedule=spec.schedule,
        milestones=spec.milestones,
    )


def linear_probe_lbfgs(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    weight_decay: float = 1e-4,
    max_iter: int = 500,
    standardize: bool = True,
) -> ProbeResult:
    """Multinomial logistic regression with an L2 penalty, full-batch L-BFGS (fast probe).

    Minimises ``mean cross-entropy + weight_decay / 2 * ||W||^2``.

    Returns:
        :class:`ProbeResult` (``best`` = ``weight_decay``) with the classifier on raw features.
    """
    train_y, test_y, classes = _check(train_x, train_y, test_x, test_y)
    weight_decay = _checks.positive("weight_decay", weight_decay, allow_zero=True)
    max_iter = _checks.integer("max_iter", max_iter, minimum=1)
    standardize = _checks.boolean("standardize", standardize)
    num_classes = len(classes)
    tr, te, mean, std = _prepare(train_x.double(), test_x.double(), standardize)
    linear = _linear(tr.shape[1], num_classes).double()  # zero-initialised below
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    opt = torch.optim.LBFGS(
        linear.parameters(),
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (
            F.cross_entropy(linear(tr), train_y) + 0.5 * weight_decay * linear.weight.pow(2).sum()
        )
        loss.backward()
        return loss

    opt.step(closure)
    acc = _accuracy(linear, te, test_y)
    folded = _fold(linear.float(), mean.float(), std.float())
    return ProbeResult(acc, weight_decay, {str(weight_decay): {"test": acc}}, folded, classes)


def knn_predict(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
    block_size: int = 1024,
) -> torch.Tensor:
    """Weighted kNN labels: the k most cosine-similar training features vote with weight
    ``exp(sim / temperature)``; ties in votes go to the smaller label.

    Returns:
        ``(N_test,)`` predicted labels (values of ``train_y``).
    """
    k = _checks.integer("k", k, minimum=1)
    temperature = _checks.positive("temperature", temperature)
    block_size = _checks.integer("block_size", block_size, minimum=1)
    check_features(train_x, train_y, "train features")
    _checks.tensor("test_x", test_x, ndim=2, shape="(N, n)")
    check_features(test_x, torch.zeros(len(test_x), dtype=torch.long), "test features")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(
            f"train and test features differ in width: {train_x.shape[1]} vs {test_x.shape[1]}"
        )
    index, _, classes = encode_labels(train_y, train_y[:0])
    tr = F.normalize(train_x.double(), dim=1)
    te = F.normalize(test_x.double(), dim=1)
    k = min(k, len(tr))
    preds = []
    for start in range(0, len(te), block_size):
        sims = te[start : start + block_size] @ tr.t()
        top, idx = sims.topk(k, dim=1)
        votes = torch.zeros(len(top), len(classes), dtype=torch.float64)
        votes.scatter_add_(1, index[idx], torch.exp(top / temperature))
        preds.append(classes[votes.argmax(1)])
    return torch.cat(preds)


def knn_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
) -> float:
    """Accuracy (fraction) of :func:`knn_predict`."""
    _check(train_x, train_y, test_x, test_y)
    predicted = knn_predict(train_x, train_y, test_x, k, temperature)
    return float((predicted == test_y.long()).double().mean())
