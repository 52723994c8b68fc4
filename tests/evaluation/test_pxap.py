"""PxAP against a threshold-by-threshold count of the same definition."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from saliencyaug.evaluation import PxAPEvaluator, pxap
from saliencyaug.evaluation.maxboxacc import normalize_scoremap


def _reference(cams: list[np.ndarray], masks: list[np.ndarray], interval: float) -> float:
    """Counts at each threshold, highest first: TP = mask pixels scoring at least it."""
    thresholds = np.append(np.arange(0, 1, interval), [1.0, 2.0])[::-1]
    scores_true, scores_false = [], []
    for cam, mask in zip(cams, masks, strict=True):
        h, w = mask.shape
        s = normalize_scoremap(
            cv2.resize(cam.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        )
        scores_true.append(s[mask])
        scores_false.append(s[~mask])
    t, f = np.concatenate(scores_true), np.concatenate(scores_false)
    precision, recall = [], []
    for thr in thresholds:
        tp, fp = float((t >= thr).sum()), float((f >= thr).sum())
        precision.append(tp / (tp + fp) if tp + fp else 0.0)
        recall.append(tp / len(t))
    return 100.0 * sum(
        precision[k] * (recall[k] - recall[k - 1]) for k in range(1, len(thresholds))
    )


def test_pxap_equals_the_counted_definition() -> None:
    rng = np.random.default_rng(0)
    cams, masks = [], []
    for _ in range(6):
        h, w = (int(v) for v in rng.integers(20, 60, 2))
        mask = np.zeros((h, w), bool)
        mask[h // 4 : 3 * h // 4, w // 5 : 4 * w // 5] = True
        cam = rng.random((7, 7))
        cam[2:5, 2:5] += 1.0  # some signal in the middle
        cams.append(cam)
        masks.append(mask)
    for interval in (0.001, 0.05):
        assert pxap(cams, masks, interval=interval) == pytest.approx(
            _reference(cams, masks, interval), abs=1e-9
        )


def test_perfect_and_ignored_pixels() -> None:
    mask = np.zeros((10, 12), bool)
    mask[3:7, 2:9] = True
    assert pxap([mask.astype(float)], [mask]) == pytest.approx(100.0)
    inverted = pxap([(~mask).astype(float)], [mask])
    assert inverted < 50.0
    ignore = np.zeros_like(mask)
    ignore[:, :2] = True
    ev = PxAPEvaluator()
    ev.add(mask.astype(float), mask, ignore)
    assert ev.compute() == pytest.approx(100.0)
    with pytest.raises(ValueError, match="binary"):
        PxAPEvaluator().add(np.ones((4, 4)), np.full((4, 4), 3))
    with pytest.raises(ValueError, match="NaN"):
        PxAPEvaluator().add(np.full((4, 4), np.nan), mask)
    with pytest.raises(ValueError, match="no ground-truth"):
        PxAPEvaluator().compute()
