"""PxAP (Choe et al., "Evaluating Weakly Supervised Object Localization Methods Right", CVPR
2020): pixel-wise average precision of a CAM against ground-truth masks, as the authors'
public code (``wsolevaluation``, ``MaskEvaluator``) computes it.

For every image the CAM is resized to the mask with ``cv2.INTER_CUBIC`` and min-max normalised
(as for MaxBoxAcc). Over the whole data set, the scores of mask pixels and of background
pixels are histogrammed on the edges ``0, 0.001, ..., 0.999, 1, 2, 3``; TP and FP at each edge
are the pixels scoring at least that edge (cumulative sums from the top); precision =
TP / (TP + FP), recall = TP / (TP + FN), and PxAP = ``sum(precision[1:] * diff(recall))``, in
percent. Pixels of an optional ``ignore`` mask count as neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from saliencyaug import _checks
from saliencyaug._opencv import require_cv2
from saliencyaug.evaluation.maxboxacc import normalize_scoremap


def _check_mask(name: str, mask: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    out = np.asarray(mask)
    if out.ndim != 2 or out.size == 0:
        raise ValueError(f"{name} must be a non-empty (H, W) mask, got shape {out.shape}")
    if shape is not None and out.shape != shape:
        raise ValueError(f"{name} must have the mask's shape {shape}, got {out.shape}")
    if out.dtype == object or out.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers or bools, got dtype {out.dtype}")
    # the package's one mask rule (bool, 0/1 or 0/255), as the losses and transforms apply it
    return _checks.binary_mask(name, torch.from_numpy(np.ascontiguousarray(out))).numpy()


class PxAPEvaluator:
    """Accumulate CAMs and ground-truth masks, then :meth:`compute` PxAP (percent).

    Args:
        interval: spacing of the score thresholds (the authors' ``cam_curve_interval``).

    Examples:
        >>> ev = PxAPEvaluator()
        >>> mask = np.zeros((8, 8), bool); mask[2:6, 2:6] = True
        >>> ev.add(mask.astype(float), mask)
        >>> round(ev.compute(), 6)
        100.0
    """

    def __init__(self, interval: float = 0.001) -> None:
        interval = _checks.in_range("interval", interval, 0.0, 1.0, lo_open=True)
        self.edges = np.append(np.arange(0, 1, interval), [1.0, 2.0, 3.0])
        self.true_hist = np.zeros(len(self.edges) - 1)
        self.false_hist = np.zeros(len(self.edges) - 1)

    def add(self, cam: np.ndarray, mask: np.ndarray, ignore: np.ndarray | None = None) -> None:
        """One image: ``cam`` ``(h, w)`` at any resolution, ``mask`` ``(H, W)`` binary (the
        object), ``ignore`` ``(H, W)`` binary (pixels left out), optional."""
        cv2 = require_cv2()

        cam = _checks.real_map("cam", cam)
        mask = _check_mask("mask", mask)
        keep = ~_check_mask("ignore", ignore, mask.shape) if ignore is not None else None
        h, w = mask.shape
        scoremap = normalize_scoremap(cv2.resize(cam, (w, h), interpolation=cv2.INTER_CUBIC))
        true = mask if keep is None else mask & keep
        false = ~mask if keep is None else ~mask & keep
        self.true_hist += np.histogram(scoremap[true], bins=self.edges)[0]
        self.false_hist += np.histogram(scoremap[false], bins=self.edges)[0]

    def compute(self) -> float:
        """PxAP in percent.

        Raises:
            ValueError: no mask pixel was added.
        """
        positives = self.true_hist.sum()
        if positives <= 0:
            raise ValueError("no ground-truth mask pixel was added")
        tp = self.true_hist[::-1].cumsum()
        fp = self.false_hist[::-1].cumsum()
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = tp / (tp + fp)
        recall = tp / positives
        steps = np.diff(recall)
        # precision is 0/0 only above every score, where recall does not move
        return float((np.where(steps > 0, precision[1:], 0.0) * steps).sum() * 100.0)


def pxap(
    cams: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    ignores: Sequence[np.ndarray | None] | None = None,
    interval: float = 0.001,
) -> float:
    """PxAP (percent) of a data set in one call; see :class:`PxAPEvaluator`."""
    if not isinstance(cams, (list, tuple)) or not isinstance(masks, (list, tuple)):
        raise TypeError("cams and masks must be lists with one item per image")
    if len(cams) != len(masks) or not cams:
        raise ValueError(
            f"cams and masks must be non-empty and of the same length, got {len(cams)} and "
            f"{len(masks)}"
        )
    ev = PxAPEvaluator(interval)
    for i, (cam, mask) in enumerate(zip(cams, masks, strict=True)):
        ev.add(cam, mask, None if ignores is None else ignores[i])
    return ev.compute()


__all__ = ["PxAPEvaluator", "pxap"]
