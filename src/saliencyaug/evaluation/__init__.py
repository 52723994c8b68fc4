"""Evaluation: linear probes, fine-tuning, label fractions, kNN, retrieval rank-k/mAP,
MaxBoxAcc, PxAP, CAM maps (docs/method.md, section 6)."""

from __future__ import annotations

from saliencyaug.evaluation.cam import class_activation_map, grad_cam, overlay
from saliencyaug.evaluation.features import extract_features
from saliencyaug.evaluation.finetune import (
    FinetuneResult,
    finetune,
    finetune_transforms,
    linear_probe_augmented,
)
from saliencyaug.evaluation.linear import (
    ProbeResult,
    knn_accuracy,
    knn_predict,
    linear_probe,
    linear_probe_lbfgs,
    linear_probe_sgd,
)
from saliencyaug.evaluation.maxboxacc import MaxBoxAccEvaluator, MaxBoxAccResult, max_box_acc
from saliencyaug.evaluation.protocols import (
    FINETUNE_PROTOCOLS,
    LINEAR_PROTOCOLS,
    PROTOCOLS,
    FinetuneProtocol,
    LinearProtocol,
    label_fraction_indices,
)
from saliencyaug.evaluation.pxap import PxAPEvaluator, pxap
from saliencyaug.evaluation.retrieval import RetrievalResult, retrieval_metrics

__all__ = [
    "FINETUNE_PROTOCOLS",
    "LINEAR_PROTOCOLS",
    "PROTOCOLS",
    "FinetuneProtocol",
    "FinetuneResult",
    "LinearProtocol",
    "MaxBoxAccEvaluator",
    "MaxBoxAccResult",
    "ProbeResult",
    "PxAPEvaluator",
    "RetrievalResult",
    "class_activation_map",
    "extract_features",
    "finetune",
    "finetune_transforms",
    "grad_cam",
    "knn_accuracy",
    "knn_predict",
    "label_fraction_indices",
    "linear_probe",
    "linear_probe_augmented",
    "linear_probe_lbfgs",
    "linear_probe_sgd",
    "max_box_acc",
    "overlay",
    "pxap",
    "retrieval_metrics",
]
