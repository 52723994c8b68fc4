"""CAM and Grad-CAM maps of a linear classifier on top of an encoder's last feature map.

* CAM (Zhou et al., CVPR 2016): ``sum_c w[class, c] * F_c`` for a classifier on the global
  average pool of ``F``.
* Grad-CAM (Selvaraju et al., ICCV 2017): ``ReLU(sum_c alpha_c F_c)`` with
  ``alpha_c = mean over positions of d score / d F_c``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from saliencyaug import _checks
from saliencyaug._opencv import require_cv2
from saliencyaug.evaluation.maxboxacc import normalize_scoremap
from saliencyaug.image import colorize


def class_activation_map(
    feature_map: torch.Tensor, weight: torch.Tensor, classes: torch.Tensor
) -> torch.Tensor:
    """CAMs ``(B, h, w)`` of ``classes`` (``(B,)``) for features ``(B, C, h, w)`` and a
    classifier weight ``(K, C)``."""
    _checks.float_tensor("feature_map", feature_map, 4, "(B, C, h, w)")
    _checks.float_tensor("weight", weight, 2, "(K, C)")
    if weight.shape[1] != feature_map.shape[1]:
        raise ValueError(
            f"feature_map must be (B, C, h, w) and weight (K, C) with the same C; got "
            f"{tuple(feature_map.shape)} and {tuple(weight.shape)}"
        )
    classes = _check_classes(classes, feature_map.shape[0], weight.shape[0])
    w = weight[classes].to(feature_map.dtype)  # (B, C)
    return torch.einsum("bc,bchw->bhw", w, feature_map)


def _check_classes(classes: torch.Tensor, b: int, k: int) -> torch.Tensor:
    _checks.tensor("classes", classes, ndim=1, shape=f"(B,) with B = {b}")
    if classes.is_floating_point() or classes.is_complex() or classes.dtype == torch.bool:
        raise TypeError(f"classes must be integer indices, got {classes.dtype}")
    if classes.shape[0] != b:
        raise ValueError(f"classes must be (B,) with B = {b}, got {tuple(classes.shape)}")
    if bool(((classes < 0) | (classes >= k)).any()):
        raise ValueError(
            f"classes must index the {k} rows of the classifier, got {classes.tolist()}"
        )
    return classes.long()


def grad_cam(
    feature_map: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor
) -> torch.Tensor:
    """Grad-CAM ``(B, h, w)`` from a feature map still in the graph and the class scores
    ``(B, K)`` computed from it (``torch.autograd.grad``; no ``.backward()``)."""
    _checks.float_tensor("feature_map", feature_map, 4, "(B, C, h, w)")
    _checks.float_tensor("scores", scores, 2, "(B, K)")
    classes = _check_classes(classes, feature_map.shape[0], scores.shape[1])
    picked = scores.gather(1, classes.view(-1, 1)).sum()
    (grads,) = torch.autograd.grad(picked, feature_map, retain_graph=True)
    alpha = grads.mean(dim=(2, 3), keepdim=True)
    return F.relu((alpha * feature_map).sum(1)).detach()


def overlay(
    image: np.ndarray,
    cam: np.ndarray | None = None,
    boxes: Sequence[Sequence[int]] = (),
    alpha: float = 0.5,
    colors: Sequence[tuple[int, int, int]] = ((0, 230, 64), (255, 64, 64), (64, 160, 255)),
) -> np.ndarray:
    """An RGB uint8 image blended with a colour-mapped, min-max normalised CAM resized to it,
    with XYXY ``boxes`` drawn on top (e.g. ground truth and the estimated box).

    Examples:
        >>> img = np.zeros((20, 30, 3), np.uint8)
        >>> out = overlay(img, np.eye(4), boxes=[[2, 3, 10, 12]])
        >>> out.shape, bool((out[3, 2:10] == (0, 230, 64)).all())
        ((20, 30, 3), True)
    """
    cv2 = require_cv2()

    h, w = image.shape[:2]
    out = image.astype(np.float32)
    if cam is not None:
        resized = cv2.resize(np.asarray(cam, np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        out = (1 - alpha) * out + alpha * colorize(normalize_scoremap(resized)).astype(np.float32)
    out = np.ascontiguousarray(np.clip(out, 0, 255).astype(np.uint8))
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        cv2.rectangle(
            out, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), colors[k % len(colors)], 1
        )
    return out
