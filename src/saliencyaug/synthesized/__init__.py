"""Learning from synthesized pairs (the second paper): the perturbation criteria, the feature
decoder and the decoder-pair objective, together.

Examples:
    >>> from saliencyaug.synthesized import DecoderPairObjective, FeatureDecoder
    >>> pairs = DecoderPairObjective(feature_dim=512)        # bank D = 5632, alpha 1, nu 0.5
    >>> decoder = FeatureDecoder(512, output_size=64)
"""

from __future__ import annotations

from saliencyaug.synthesized.decoder import FeatureDecoder, pretrain_decoder
from saliencyaug.synthesized.objective import DecoderPairObjective, DecoderPairParts
from saliencyaug.synthesized.perturb import (
    GradCAMPerturber,
    VariancePerturber,
    default_contrastive,
    gradcam_scores,
    minmax_normalize,
    variance_scores,
)

__all__ = [
    "DecoderPairObjective",
    "DecoderPairParts",
    "FeatureDecoder",
    "GradCAMPerturber",
    "VariancePerturber",
    "default_contrastive",
    "gradcam_scores",
    "minmax_normalize",
    "pretrain_decoder",
    "variance_scores",
]
