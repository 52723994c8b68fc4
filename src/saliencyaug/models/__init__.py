"""Backbones (torchvision, timm, your own), projector/predictor heads, momentum (EMA) helpers,
BatchNorm statistics control and encoder saving/loading."""

from __future__ import annotations

from saliencyaug.models.backbone import (
    BackboneOutput,
    ModuleBackbone,
    ResNetBackbone,
    TimmBackbone,
    make_backbone,
    small_resnet,
)
from saliencyaug.models.batchnorm import frozen_batchnorm_statistics
from saliencyaug.models.ema import cosine_momentum, ema_copy, ema_update
from saliencyaug.models.heads import ConvHead, ConvPredictor, ConvProjector, MLPHead
from saliencyaug.models.loading import (
    CHECKPOINT_FORMAT,
    ENCODER_FORMAT,
    load_encoder,
    save_encoder,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "ENCODER_FORMAT",
    "BackboneOutput",
    "ConvHead",
    "ConvPredictor",
    "ConvProjector",
    "MLPHead",
    "ModuleBackbone",
    "ResNetBackbone",
    "TimmBackbone",
    "cosine_momentum",
    "ema_copy",
    "ema_update",
    "frozen_batchnorm_statistics",
    "load_encoder",
    "make_backbone",
    "save_encoder",
    "small_resnet",
]
