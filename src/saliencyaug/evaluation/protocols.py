"""The evaluation protocols of the two papers, as settings that the report names.

* ``cvsa-linear`` -- CVSA, Appendix A.1: a linear classifier on frozen features, SGD with
  momentum 0.9, no weight decay, cosine schedule, batch 16, 50 epochs, and the best **test**
  accuracy over the learning rates {0.1, 0.01, 0.001}, as the paper reports it.
* ``moco-linear`` -- the synthesized-pairs paper follows MoCo's linear protocol (He et al.,
  CVPR 2020): SGD with lr 30, momentum 0.9, no weight decay, batch 256, 100 epochs, lr x 0.1
  at epochs 60 and 80, training on augmented images (RandomResizedCrop 224 and horizontal
  flip) through the frozen encoder, testing on resize 256 + centre crop 224. Reported at 100,
  50 and 20 % of the training labels.
* ``cvsa-finetune`` -- CVSA, Appendix A.1: the whole network fine-tuned with SGD (momentum
  0.9), cosine schedule, batch 16, 50 epochs, lr in {0.1, 0.05, 0.01, 0.005, 0.001} x weight
  decay in {5e-4, 1e-4} selected on a validation split, then the mean (and standard deviation)
  of 3 trials on the test set.
* ``fast`` -- not a paper's protocol: L2-regularised logistic regression solved with L-BFGS on
  cached features, for quick comparisons.

Label fractions are class-balanced, seeded subsets of the training set
(:func:`label_fraction_indices`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from saliencyaug import _checks


@dataclass(frozen=True)
class LinearProtocol:
    """Settings of a linear evaluation with SGD."""

    name: str
    lrs: tuple[float, ...]
    epochs: int
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: Literal["cosine", "step"] = "cosine"
    milestones: tuple[int, ...] = ()
    select: Literal["test", "val"] = "test"
    standardize: bool = False
    augmented: bool = False
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FinetuneProtocol:
    """Settings of a fine-tuning evaluation."""

    name: str
    lrs: tuple[float, ...]
    weight_decays: tuple[float, ...]
    epochs: int
    batch_size: int
    momentum: float = 0.9
    trials: int = 3
    val_fraction: float = 0.1
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


LINEAR_PROTOCOLS: dict[str, LinearProtocol] = {
    "cvsa-linear": LinearProtocol(
        "cvsa-linear",
        lrs=(0.1, 0.01, 0.001),
        epochs=50,
        batch_size=16,
        select="test",
        source="CVSA Appendix A.1 (best test accuracy over the lrs, as the paper reports)",
    ),
    "moco-linear": LinearProtocol(
        "moco-linear",
        lrs=(30.0,),
        epochs=100,
        batch_size=256,
        schedule="step",
        milestones=(60, 80),
        augmented=True,
        source="MoCo (He et al., CVPR 2020), followed by the synthesized-pairs paper",
    ),
}

FINETUNE_PROTOCOLS: dict[str, FinetuneProtocol] = {
    "cvsa-finetune": FinetuneProtocol(
        "cvsa-finetune",
        lrs=(0.1, 0.05, 0.01, 0.005, 0.001),
        weight_decays=(5e-4, 1e-4),
        epochs=50,
        batch_size=16,
        trials=3,
        source="CVSA Appendix A.1 (grid selected on validation, mean of 3 trials on test)",
    ),
}

PROTOCOLS = ("fast", *LINEAR_PROTOCOLS, *FINETUNE_PROTOCOLS)


def label_fraction_indices(
    labels: Sequence[int] | np.ndarray, fraction: float, seed: int = 0
) -> np.ndarray:
    """A class-balanced subset with ``fraction`` of the labels: from each class,
    ``max(1, round(fraction * n_class))`` samples drawn with a seeded permutation.

    Args:
        labels: the training labels.
        fraction: in (0, 1]; 1 keeps everything.
        seed: seed of the draw (a local generator).

    Returns:
        Sorted indices into ``labels``.

    Examples:
        >>> label_fraction_indices([0, 0, 0, 0, 1, 1], 0.5).tolist()
        [0, 2, 5]
    """
    fraction = _checks.in_range("fraction", fraction, 0.0, 1.0, lo_open=True)
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D sequence, got shape {labels.shape}")
    rng = np.random.default_rng(_checks.integer("seed", seed))
    keep = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        n = max(1, round(fraction * len(members)))
        keep.append(np.sort(rng.permutation(members)[:n]))
    return np.sort(np.concatenate(keep))


def linear_protocol(name: str | LinearProtocol) -> LinearProtocol:
    """A protocol by name (see :data:`LINEAR_PROTOCOLS`) or itself."""
    if isinstance(name, LinearProtocol):
        return name
    return LINEAR_PROTOCOLS[_checks.choice("protocol", name, tuple(LINEAR_PROTOCOLS))]


def finetune_protocol(name: str | FinetuneProtocol) -> FinetuneProtocol:
    """A protocol by name (see :data:`FINETUNE_PROTOCOLS`) or itself."""
    if isinstance(name, FinetuneProtocol):
        return name
    return FINETUNE_PROTOCOLS[_checks.choice("protocol", name, tuple(FINETUNE_PROTOCOLS))]


__all__ = [
    "FINETUNE_PROTOCOLS",
    "LINEAR_PROTOCOLS",
    "PROTOCOLS",
    "FinetuneProtocol",
    "LinearProtocol",
    "finetune_protocol",
    "label_fraction_indices",
    "linear_protocol",
]
