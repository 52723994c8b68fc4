"""CAM and Grad-CAM maps of a linear classifier on top of an encoder's last feature map.

* CAM (Zhou et al., CVPR 2016): ``sum_c w[class, c] * F_c`` for a classifier on the global
  average pool of ``F``.
* Grad-CAM (Selvaraju et al., ICCV 2017): ``ReLU(sum_c alpha_c F_c)`` with
  ``alpha_c = mean over positions of d score / d F_c``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def class_activation_map(
    feature_map: torch.Tensor, weight: torch.Tensor, classes: torch.Tensor
) -> torch.Tensor:
    """CAMs ``(B, h, w)`` of ``classes`` (``(B,)``) for features ``(B, C, h, w)`` and a
    classifier weight ``(K, C)``."""
    if feature_map.ndim != 4 or weight.ndim != 2 or weight.shape[1] != feature_map.shape[1]:
        raise ValueError(
            f"feature_map must be (B, C, h, w) and weight (K, C); got {tuple(feature_map.shape)} "
            f"and {tuple(weight.shape)}"
        )
    w = weight[classes.long()].to(feature_map.dtype)  # (B, C)
    return torch.einsum("bc,bchw->bhw", w, feature_map)


def grad_cam(
    feature_map: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor
) -> torch.Tensor:
    """Grad-CAM ``(B, h, w)`` from a feature map still in the graph and the class scores
    ``(B, K)`` computed from it (``torch.autograd.grad``; no ``.backward()``)."""
    picked = scores.gather(1, classes.long().view(-1, 1)).sum()
    (grads,) = torch.autograd.grad(picked, feature_map, retain_graph=True)
    alpha = grads.mean(dim=(2, 3), keepdim=True)
    return F.relu((alpha * feature_map).sum(1)).detach()


def overlay(image: "np.ndarray", cam: "np.ndarray", alpha: float = 0.5) -> "np.ndarray":  # noqa: F821, UP037
    """An RGB uint8 image blended with a colour-mapped, min-max normalised CAM resized to it."""
    import cv2
    import numpy as np

    from saliencyaug.evaluation.maxboxacc import normalize_scoremap
    from saliencyaug.visualize import colorize

    h, w = image.shape[:2]
    heat = colorize(
        normalize_scoremap(
            cv2.resize(np.asarray(cam, np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        )
    )
    return np.clip(
        (1 - alpha) * image.astype(np.float32) + alpha * heat.astype(np.float32), 0, 255
    ).astype(np.uint8)
