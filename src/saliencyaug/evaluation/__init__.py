"""Evaluation: linear probes, kNN, retrieval rank-k/mAP, MaxBoxAcc, CAM maps (docs/method.md,
section 6)."""

from __future__ import annotations

from saliencyaug.evaluation.cam import class_activation_map, grad_cam, overlay
from saliencyaug.evaluation.features import extract_features
from saliencyaug.evaluation.linear import (
    ProbeResult,
    knn_accuracy,
    knn_predict,
    linear_probe_lbfgs,
    linear_probe_sgd,
)
from saliencyaug.evaluation.maxboxacc import MaxBoxAccEvaluator, MaxBoxAccResult, max_box_acc
from saliencyaug.evaluation.retrieval import RetrievalResult, retrieval_metrics

__all__ = [
    "MaxBoxAccEvaluator",
    "MaxBoxAccResult",
    "ProbeResult",
    "RetrievalResult",
    "class_activation_map",
    "extract_features",
    "grad_cam",
    "knn_accuracy",
    "knn_predict",
    "linear_probe_lbfgs",
    "linear_probe_sgd",
    "max_box_acc",
    "overlay",
    "retrieval_metrics",
]
