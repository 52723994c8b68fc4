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
    nt_xent,
    saliency_alignment_loss,
)
from saliencyaug.losses.moco import KeyQueue, MoCoLoss
from saliencyaug.losses.synthesized import DecoderPairLoss, SynthesizedPairParts, decoder_pair_loss

__all__ = [
    "BYOLLoss",
    "CVSALoss",
    "CVSALossParts",
    "CrossViewAttention",
    "DecoderPairLoss",
    "KeyQueue",
    "MoCoLoss",
    "SaliencyAlignmentLoss",
    "SynthesizedPairParts",
    "byol_loss",
    "correspondence_intensity",
    "cross_view_attention",
    "cvsa_loss",
    "decoder_pair_loss",
    "downsample_mask",
    "info_nce",
    "negative_cosine",
    "nt_xent",
    "saliency_alignment_loss",
]
