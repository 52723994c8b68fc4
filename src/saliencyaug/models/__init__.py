"""Backbones, heads and momentum (EMA) helpers."""

from __future__ import annotations

from saliencyaug.models.backbone import BackboneOutput, ResNetBackbone
from saliencyaug.models.decoder import FeatureDecoder, pretrain_decoder
from saliencyaug.models.ema import cosine_momentum, ema_copy, ema_update
from saliencyaug.models.heads import ConvHead, ConvPredictor, ConvProjector, MLPHead

__all__ = [
    "BackboneOutput",
    "ConvHead",
    "ConvPredictor",
    "ConvProjector",
    "FeatureDecoder",
    "MLPHead",
    "ResNetBackbone",
    "cosine_momentum",
    "ema_copy",
    "ema_update",
    "pretrain_decoder",
]
