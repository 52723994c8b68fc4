"""CVSA, BYOL and MoCo v2 losses: functions in :mod:`saliencyaug.losses.functional` and
``nn.Module`` wrappers here."""

from __future__ import annotations

from saliencyaug.losses.alignment import (
    BYOLLoss,
    CrossViewAttention,
    CVSALoss,
    SaliencyAlignmentLoss,
)
from saliencyaug.losses.functional import (
    CVSALossParts,
    byol_loss,
    correspondence_intensity,
    cross_view_attention,
    cvsa_loss,
    downsample_mask,
    info_nce,
    negative_cosine,
    saliency_alignment_loss,
)
from saliencyaug.losses.moco import KeyQueue, MoCoLoss

__all__ = [
    "BYOLLoss",
    "CVSALoss",
    "CVSALossParts",
    "CrossViewAttention",
    "KeyQueue",
    "MoCoLoss",
    "SaliencyAlignmentLoss",
    "byol_loss",
    "correspondence_intensity",
    "cross_view_attention",
    "cvsa_loss",
    "downsample_mask",
    "info_nce",
    "negative_cosine",
    "saliency_alignment_loss",
]
