"""Feature perturbation for synthesized pairs (second paper, SPEC.md section 5)."""

from __future__ import annotations

from saliencyaug.perturb.bank import FeatureBank
from saliencyaug.perturb.gradcam import GradCAMPerturber, gradcam_scores, minmax_normalize
from saliencyaug.perturb.variance import VariancePerturber, variance_scores

__all__ = [
    "FeatureBank",
    "GradCAMPerturber",
    "VariancePerturber",
    "gradcam_scores",
    "minmax_normalize",
    "variance_scores",
]
