"""Losses: BYOL, the CVSA alignment, InfoNCE / MoCo v2 and NT-Xent, as functions and modules.

Options are keyword-only; two-view arguments are pairs ``(view_1, view_2)`` crossed inside;
every loss takes ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``). The synthesized-pair
objective of the second paper runs networks and lives in :mod:`saliencyaug.synthesized`.
"""

from __future__ import annotations

from saliencyaug.losses.alignment import (
    CVSALoss,
    CVSALossParts,
    SaliencyAlignmentLoss,
    correspondence_intensity,
    cross_view_attention,
    cvsa_loss,
    downsample_mask,
    saliency_alignment_loss,
)
from saliencyaug.losses.byol import BYOLLoss, byol_loss, negative_cosine
from saliencyaug.losses.contrastive import MoCoLoss, NTXentLoss, info_nce, nt_xent

__all__ = [
    "BYOLLoss",
    "CVSALoss",
    "CVSALossParts",
    "MoCoLoss",
    "NTXentLoss",
    "SaliencyAlignmentLoss",
    "byol_loss",
    "correspondence_intensity",
    "cross_view_attention",
    "cvsa_loss",
    "downsample_mask",
    "info_nce",
    "negative_cosine",
    "nt_xent",
    "saliency_alignment_loss",
]
