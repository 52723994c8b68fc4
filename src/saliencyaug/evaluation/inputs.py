"""Checks of the evaluation's inputs: features and labels.

Labels are class identifiers of any integer value (negative, sparse, up to int64): they are
encoded to ``0..K-1`` by the classes of the training set, never used as raw indices into a
dense table.
"""

from __future__ import annotations

import torch

from saliencyaug import _checks


def check_features(features: torch.Tensor, labels: torch.Tensor, name: str = "features") -> None:
    """Raise for non-tensor, non-float, non-2-D, empty or non-finite features, and for labels
    that are not integers of the same length."""
    _checks.tensor(name, features, ndim=2, shape="(N, n)")
    if not features.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {features.dtype}")
    _checks.finite_tensor(name, features)
    label_name = "labels" if name == "features" else f"labels of the {name}"
    _checks.tensor(label_name, labels, ndim=1, shape=f"(N,) with N = {features.shape[0]}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{label_name} must be integers, got {labels.dtype}")
    if labels.shape[0] != features.shape[0]:
        raise ValueError(
            f"{label_name} must be (N,) with N = {features.shape[0]}, got {tuple(labels.shape)}"
        )


def encode_labels(
    train: torch.Tensor, test: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(train_index, test_index, classes)``: labels as indices ``0..K-1`` of the sorted
    training classes; a test label absent from training gets ``-1`` (never predicted right).

    Examples:
        >>> encode_labels(torch.tensor([7, -3, 7]), torch.tensor([-3, 5]))
        (tensor([1, 0, 1]), tensor([ 0, -1]), tensor([-3,  7]))
    """
    classes = torch.unique(train.long())
    train_index = torch.searchsorted(classes, train.long().contiguous())
    pos = torch.searchsorted(classes, test.long().contiguous()).clamp(max=len(classes) - 1)
    test_index = torch.where(classes[pos] == test.long(), pos, torch.full_like(pos, -1))
    return train_index, test_index, classes


__all__ = ["check_features", "encode_labels"]
