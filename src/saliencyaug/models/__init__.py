"""Backbones, projector/predictor heads, momentum (EMA) helpers and encoder loading."""

from __future__ import annotations

from saliencyaug.models.backbone import BackboneOutput, ResNetBackbone
from saliencyaug.models.ema import cosine_momentum, ema_copy, ema_update
from saliencyaug.models.heads import ConvHead, ConvPredictor, ConvProjector, MLPHead
from saliencyaug.models.loading import load_encoder

__all__ = [
    "BackboneOutput",
    "ConvHead",
    "ConvPredictor",
    "ConvProjector",
    "MLPHead",
    "ResNetBackbone",
    "cosine_momentum",
    "ema_copy",
    "ema_update",
    "load_encoder",
]
