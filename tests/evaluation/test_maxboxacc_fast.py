"""The fast MaxBoxAcc equals the reference procedure exactly, on random and structured maps."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from saliencyaug.evaluation import MaxBoxAccEvaluator
from saliencyaug.evaluation.maxboxacc import (
    image_scores,
    normalize_scoremap,
    reference_image_scores,
)

THRESHOLDS = np.arange(0, 1, 0.001)


def _structured(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    cam = np.zeros((h, w), np.float32)
    if kind == "holes":  # a ring, a blob inside its hole, a second ring
        cam[h // 6 : 5 * h // 6, w // 6 : 5 * w // 6] = 1
        cam[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3] = 0
        cam[h // 2 - 1 : h // 2 + 1, w // 2 - 1 : w // 2 + 1] = 0.7
        cam[1:4, 1:4], cam[2, 2] = 0.5, 0
    elif kind == "blobs":  # equal blobs: ties decide the largest contour
        for y, x in ((2, 2), (2, w - 8), (h - 8, 2), (h - 8, w - 8)):
            cam[y : y + 5, x : x + 5] = 1
        cam[h // 2, w // 2] = 1
    elif kind == "flat":
        cam[:] = 0.3
    elif kind == "hot pixel":
        cam[rng.integers(h), rng.integers(w)] = 1
    elif kind == "lines":  # one-pixel-wide shapes: contours of area 0, retraced borders
        cam[h // 2, 2 : w - 2] = 1
        cam[2 : h - 2, w // 3] = 0.8
        cam[np.arange(2, min(h, w) - 2), np.arange(2, min(h, w) - 2)] = 0.6
    elif kind == "border":  # shapes touching the image border
        cam[0, :] = 1
        cam[:, -1] = 0.9
        cam[h // 2 :, : w // 3] = 0.6
    return cam


@pytest.mark.parametrize(
    "kind",
    [
        "random 7x7",
        "random full",
        "blocks",
        "holes",
        "blobs",
        "flat",
        "hot pixel",
        "lines",
        "border",
    ],
)
def test_fast_scores_equal_the_reference(kind: str) -> None:
    rng = np.random.default_rng(abs(hash(kind)) % 2**32)
    for trial in range(12):
        h, w = (int(v) for v in rng.integers(16, 70, 2))
        if kind == "random 7x7":
            cam = rng.random((7, 7)).astype(np.float32)
        elif kind == "random full":
            cam = (rng.random((h, w)) ** 3).astype(np.float32)
        elif kind == "blocks":
            cam = (rng.random((h // 4 + 1, w // 4 + 1)) > 0.6).astype(np.float32)
        else:
            cam = _structured(kind, h, w, rng)
        interpolation = cv2.INTER_CUBIC if trial % 2 else cv2.INTER_NEAREST
        scoremap = normalize_scoremap(cv2.resize(cam, (w, h), interpolation=interpolation))
        gt = np.array(
            [
                [
                    rng.integers(0, w // 2),
                    rng.integers(0, h // 2),
                    rng.integers(w // 2, w),
                    rng.integers(h // 2, h),
                ]
            ],
            dtype=np.float64,
        )
        if trial % 3 == 0:
            gt = np.vstack([gt, [[0, 0, 3, 4]]])  # several ground-truth boxes
        thresholds = THRESHOLDS if trial % 4 else np.sort(rng.random(37))
        fast = image_scores(scoremap, gt, thresholds)
        reference = reference_image_scores(scoremap, gt, thresholds)
        np.testing.assert_array_equal(fast[0], reference[0])
        np.testing.assert_array_equal(fast[1], reference[1])


def test_the_evaluator_gives_the_same_result_with_either_method() -> None:
    cams = np.random.default_rng(0).random((5, 7, 7))
    results = []
    for method in ("fast", "reference"):
        ev = MaxBoxAccEvaluator(method=method)
        for cam in cams:
            ev.add(cam, [[4, 5, 30, 28]], (40, 48))
        results.append(ev.compute())
    assert results[0] == results[1]
    with pytest.raises(ValueError, match="method"):
        MaxBoxAccEvaluator(method="quick")


@pytest.mark.parametrize("connectivity", [8, 4])
def test_neighbour_groups_match_scipy_labelling(connectivity: int) -> None:
    """The sweep's table of neighbour groups (one ``find`` per group) against
    ``scipy.ndimage.label`` of every 3x3 neighbourhood without its centre."""
    from scipy import ndimage

    from saliencyaug.evaluation._maxboxacc_kernels import (
        _NEIGHBOURS,
        NREPS_4,
        NREPS_8,
        REPS_4,
        REPS_8,
    )

    reps, counts = (REPS_8, NREPS_8) if connectivity == 8 else (REPS_4, NREPS_4)
    structure = ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)
    for code in range(256):
        patch = np.zeros((3, 3), int)
        for bit, (dy, dx) in enumerate(_NEIGHBOURS):
            patch[1 + dy, 1 + dx] = (code >> bit) & 1
        labels, _ = ndimage.label(patch, structure)
        listed = [
            bit
            for bit, (dy, dx) in enumerate(_NEIGHBOURS)
            if patch[1 + dy, 1 + dx] and (connectivity == 8 or dy == 0 or dx == 0)
        ]
        want = sorted({labels[1 + _NEIGHBOURS[b][0], 1 + _NEIGHBOURS[b][1]] for b in listed})
        got = [
            labels[1 + _NEIGHBOURS[b][0], 1 + _NEIGHBOURS[b][1]] for b in reps[code, : counts[code]]
        ]
        assert sorted(got) == want, code


def test_fast_scores_equal_the_reference_at_cub_size() -> None:
    """One CUB-sized map with several peaks and holes, as the benchmark's (375x500)."""
    rng = np.random.default_rng(3)
    scoremap = normalize_scoremap(
        cv2.resize(rng.random((7, 7)).astype(np.float32), (500, 375), interpolation=cv2.INTER_CUBIC)
    )
    gt = np.array([[100.0, 75.0, 400.0, 319.0], [10.0, 10.0, 60.0, 50.0]])
    thresholds = np.arange(0, 1, 0.004)
    fast = image_scores(scoremap, gt, thresholds)
    reference = reference_image_scores(scoremap, gt, thresholds)
    np.testing.assert_array_equal(fast[0], reference[0])
    np.testing.assert_array_equal(fast[1], reference[1])
