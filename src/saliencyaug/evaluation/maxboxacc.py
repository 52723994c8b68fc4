"""MaxBoxAcc (Choe et al., "Evaluating Weakly Supervised Object Localization Methods Right",
CVPR 2020), computed as the authors' public evaluation code (``wsolevaluation``) does.

For every image: the CAM is resized to the image size with ``cv2.INTER_CUBIC`` and min-max
normalised (a NaN or constant map becomes all zeros). For each threshold ``t`` of a grid
shared by the whole dataset (default ``0, 0.001, ..., 0.999``, the code's
``cam_curve_interval``): the map is scaled to uint8 (``(cam * 255).astype(uint8)``),
binarised with ``cv2.threshold(..., int(t * max), 255, THRESH_BINARY)`` (strictly greater
than), and boxes are the bounding rectangles (``cv2.boundingRect``) of the contours
(``cv2.findContours``, ``RETR_TREE``, ``CHAIN_APPROX_SIMPLE``) -- the largest contour by
``cv2.contourArea`` for v1, every contour for V2 -- as ``(x, y, x + w, y + h)`` with ``x1``
and ``y1`` clipped to ``W - 1`` and ``H - 1``; no contour gives the box ``(0, 0, 0, 0)``. IoU
uses the code's inclusive pixel convention (areas ``(x1 - x0 + 1) * (y1 - y0 + 1)``), and an
image counts as localised at ``t`` when the best IoU over its boxes and its ground-truth boxes
reaches the IoU threshold.

BoxAcc(t) = percentage of localised images; MaxBoxAcc = max over t. v1: largest contour, IoU
0.5. V2: all contours, mean of MaxBoxAcc at IoU 0.3, 0.5 and 0.7.

Two implementations give identical results (tested on random and structured maps):

* :func:`reference_image_scores` -- the procedure above, literally: for each of the (1000)
  thresholds, binarise the full map and trace its contours, once for v1 and once for V2.
* :func:`image_scores` (default) -- the same contours computed once per distinct mask: a uint8
  map has at most 256 levels, and thresholds that fall between the same two pixel values give
  the same binary map; each mask is traced once for v1 and V2 together, on the crop that holds
  its pixels (``cv2.findContours`` pads the image with zeros, so a crop with an offset traces
  the same contours in the same order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from saliencyaug import _checks
from saliencyaug._opencv import require_cv2
from saliencyaug.evaluation._maxboxacc_kernels import superlevel_components


def normalize_scoremap(cam: np.ndarray) -> np.ndarray:
    """Min-max normalise to [0, 1]; NaN or constant maps become zeros (wsolevaluation)."""
    cam = np.asarray(cam, dtype=np.float64)
    if np.isnan(cam).any() or cam.min() == cam.max():
        return np.zeros_like(cam)
    cam = cam - cam.min()
    return cam / cam.max()


def boxes_at_threshold(scoremap: np.ndarray, threshold: float, multi_contour: bool) -> np.ndarray:
    """Estimated boxes ``(K, 4)`` (x0, y0, x1, y1) of a normalised map at one threshold."""
    cv2 = require_cv2()

    height, width = scoremap.shape
    image = np.expand_dims((scoremap * 255).astype(np.uint8), 2)
    _, binary = cv2.threshold(image, int(threshold * np.max(image)), 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return np.zeros((1, 4), dtype=np.int64)
    if not multi_contour:
        contours = [max(contours, key=cv2.contourArea)]
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
    return np.asarray(boxes, dtype=np.int64)


def multiple_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` IoU with inclusive pixel coordinates (wsolevaluation)."""
    a = np.asarray(boxes_a, dtype=np.float64)[:, None, :]
    b = np.asarray(boxes_b, dtype=np.float64)[None, :, :]
    ix = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    iy = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    inter = ix * iy
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    return inter / (area_a + area_b - inter)


def _binarisation_levels(image: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The integer level of each threshold: ``int(t * max(image))``, as ``cv2.threshold`` is
    called by the reference (truncation toward zero)."""
    return np.trunc(thresholds * float(image.max())).astype(np.int64)


def reference_image_scores(
    scoremap: np.ndarray, gt: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best IoU per threshold of one image, v1 (largest contour) and V2 (all contours), as the
    authors' code computes it: one full-map binarisation and contour tracing per threshold and
    per version. Slow (about 0.5 s per CUB-sized image); the tests and the benchmark use it as
    the reference for :func:`image_scores`."""
    best_v1 = np.empty(len(thresholds))
    best_v2 = np.empty(len(thresholds))
    for i, t in enumerate(thresholds):
        best_v1[i] = multiple_iou(boxes_at_threshold(scoremap, t, False), gt).max()
        best_v2[i] = multiple_iou(boxes_at_threshold(scoremap, t, True), gt).max()
    return best_v1, best_v2


def image_scores(
    scoremap: np.ndarray, gt: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`reference_image_scores`, exactly, from one pass over the pixels.

    A uint8 map has at most 256 binary maps, one per distinct pixel value; thresholds between
    the same two values share one. One union-find pass over the pixels in descending value
    order gives every binary map's 8-connected components with their bounding boxes (the
    bounding rectangles of ``cv2.findContours``' outer contours) and its number of holes; a
    second pass (4-connected background, ascending) gives the holes' boxes (the bounding
    rectangles of the hole contours, one pixel larger all round). V2 reads them all. For v1,
    the outer border of each component of a map with several is followed with
    ``cv2.findContours``' own rule to get its contour area (shoelace over pixel centres), and
    the largest wins (on ties, the last in raster order: ``cv2.findContours`` lists outer
    contours last found first, and ``max`` keeps the first), as in the reference. See
    :mod:`saliencyaug.evaluation._maxboxacc_kernels`.

    Args:
        scoremap: ``(H, W)`` normalised map in [0, 1] (:func:`normalize_scoremap`).
        gt: ``(G, 4)`` ground-truth boxes, inclusive XYXY.
        thresholds: ``(T,)`` CAM thresholds.

    Returns:
        ``(best_v1, best_v2)``, each ``(T,)``: the best IoU with the ground truth of the largest
        contour's box and of any contour's box at each threshold.
    """
    image = np.ascontiguousarray((scoremap * 255).astype(np.uint8))
    gt = np.ascontiguousarray(gt, dtype=np.float64)
    values = np.flatnonzero(np.bincount(image.ravel(), minlength=256)).astype(np.uint8)  # unique
    # the binary map of level k is image > k, i.e. image >= the first value above k
    first_above = np.searchsorted(values, _binarisation_levels(image, thresholds), side="right")
    # levels below the lowest threshold's are never read (often most of the pixels)
    _, component_iou, _, hole_iou, largest_iou = superlevel_components(
        image, values, gt, int(first_above.min())
    )
    empty = multiple_iou(np.zeros((1, 4)), gt).max()
    best_v1 = np.full(len(thresholds), empty)
    best_v2 = np.full(len(thresholds), empty)
    found = first_above < len(values)  # above the top value: no contour, the box (0, 0, 0, 0)
    best_v1[found] = largest_iou[first_above[found]]
    best_v2[found] = np.maximum(component_iou, hole_iou)[first_above[found]]
    return best_v1, best_v2


@dataclass
class MaxBoxAccResult:
    """``v1`` (IoU 0.5, largest contour), ``v2`` (mean over ``iou_thresholds``, all contours),
    the per-IoU MaxBoxAcc of V2, and the best CAM threshold of each."""

    v1: float
    v2: float
    v2_per_iou: dict[float, float]
    best_threshold_v1: float
    best_threshold_v2: dict[float, float]
    num_images: int

    def as_dict(self) -> dict[str, object]:
        return {
            "MaxBoxAcc": self.v1,
            "MaxBoxAccV2": self.v2,
            "MaxBoxAccV2_per_iou": {str(k): v for k, v in self.v2_per_iou.items()},
            "best_threshold": self.best_threshold_v1,
            "num_images": self.num_images,
        }


class MaxBoxAccEvaluator:
    """Accumulate CAMs and ground-truth boxes, then :meth:`compute` MaxBoxAcc v1 and V2.

    Args:
        thresholds: CAM thresholds (default ``np.arange(0, 1, 0.001)``, as the authors' code).
        iou_thresholds: IoU thresholds of V2 (default 0.3, 0.5, 0.7); v1 uses 0.5.
        method: ``"fast"`` (:func:`image_scores`) or ``"reference"``
            (:func:`reference_image_scores`); the results are identical.

    Examples:
        >>> ev = MaxBoxAccEvaluator()
        >>> cam = np.zeros((8, 8)); cam[2:6, 2:6] = 1
        >>> ev.add(cam, [[2, 2, 5, 5]], image_size=(8, 8))
        >>> ev.compute().v1
        100.0
    """

    def __init__(
        self,
        thresholds: Sequence[float] | None = None,
        iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
        method: str = "fast",
    ) -> None:
        self.method = _checks.choice("method", method, ("fast", "reference"))
        self.thresholds = np.asarray(
            thresholds if thresholds is not None else np.arange(0, 1, 0.001), dtype=np.float64
        )
        self.iou_thresholds = tuple(float(t) for t in iou_thresholds)
        self.correct_v1 = np.zeros(len(self.thresholds))
        self.correct_v2 = {t: np.zeros(len(self.thresholds)) for t in self.iou_thresholds}
        self.count = 0

    def add(
        self, cam: np.ndarray, gt_boxes: Sequence[Sequence[float]], image_size: tuple[int, int]
    ) -> None:
        """One image.

        Args:
            cam: ``(h, w)`` class activation map (any resolution, any range).
            gt_boxes: the image's ground-truth boxes, ``(x0, y0, x1, y1)`` in the pixel
                coordinates of ``image_size`` (wsolevaluation's convention: inclusive corners
                as read from the dataset's localisation file).
            image_size: ``(H, W)`` the CAM is resized to.

        Raises:
            ValueError: a CAM that is not 2-D, no ground-truth box, or a box outside the image.
        """
        cv2 = require_cv2()

        cam = _checks.real_map("cam", cam)
        try:
            gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
        except (TypeError, ValueError) as err:
            raise TypeError(f"gt_boxes must be XYXY boxes, got {gt_boxes!r}") from err
        if len(gt) == 0:
            raise ValueError("every image needs at least one ground-truth box")
        if not np.isfinite(gt).all():
            raise ValueError("gt_boxes contains NaN or inf")
        h, w = _checks.size_pair("image_size", image_size)
        if (
            (gt[:, 0] < 0).any()
            or (gt[:, 1] < 0).any()
            or (gt[:, 2] > w).any()
            or (gt[:, 3] > h).any()
            or (gt[:, 2] < gt[:, 0]).any()
            or (gt[:, 3] < gt[:, 1]).any()
        ):
            raise ValueError(
                f"ground-truth boxes must lie inside the {h}x{w} image, got {gt.tolist()}"
            )
        scoremap = normalize_scoremap(cv2.resize(cam, (w, h), interpolation=cv2.INTER_CUBIC))
        scores = image_scores if self.method == "fast" else reference_image_scores
        best_v1, best_v2 = scores(scoremap, gt, self.thresholds)
        self.correct_v1 += best_v1 >= 0.5
        for t in self.iou_thresholds:
            self.correct_v2[t] += best_v2 >= t
        self.count += 1

    def compute(self) -> MaxBoxAccResult:
        """MaxBoxAcc v1 and V2 in percent."""
        if self.count == 0:
            raise ValueError("no image was added")
        acc_v1 = self.correct_v1 * 100.0 / self.count
        per_iou = {t: float((c * 100.0 / self.count).max()) for t, c in self.correct_v2.items()}
        best_t = {t: float(self.thresholds[int(np.argmax(c))]) for t, c in self.correct_v2.items()}
        return MaxBoxAccResult(
            v1=float(acc_v1.max()),
            v2=float(np.mean(list(per_iou.values()))),
            v2_per_iou=per_iou,
            best_threshold_v1=float(self.thresholds[int(np.argmax(acc_v1))]),
            best_threshold_v2=best_t,
            num_images=self.count,
        )


def max_box_acc(
    cams: Sequence[np.ndarray],
    gt_boxes: Sequence[Sequence[Sequence[float]]],
    image_sizes: Sequence[tuple[int, int]],
    thresholds: Sequence[float] | None = None,
    iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
) -> MaxBoxAccResult:
    """MaxBoxAcc of a dataset in one call; see :class:`MaxBoxAccEvaluator`.

    Raises:
        ValueError: mismatched lengths or bad CAMs/boxes.
    """
    for name, items in (("cams", cams), ("gt_boxes", gt_boxes), ("image_sizes", image_sizes)):
        if not isinstance(items, (list, tuple)):
            raise TypeError(
                f"{name} must be a list with one item per image, got {type(items).__name__}"
            )
    if not cams:
        raise ValueError("cams must hold at least one image's CAM")
    if not (len(cams) == len(gt_boxes) == len(image_sizes)):
        raise ValueError(
            f"cams, gt_boxes and image_sizes must have the same length, got {len(cams)}, "
            f"{len(gt_boxes)}, {len(image_sizes)}"
        )
    ev = MaxBoxAccEvaluator(thresholds, iou_thresholds)
    for cam, boxes, size in zip(cams, gt_boxes, image_sizes, strict=True):
        ev.add(cam, boxes, size)
    return ev.compute()
