"""Exact best-box search on saliency maps (SPEC.md section 2).

The CVSA paper's Eq. 2 (the box with the highest mean saliency) is degenerate as written: a
1x1 box on the brightest pixel wins. This module offers four well-posed objectives:

``excess`` (default)
    Maximise ``sum over the box of (S - tau)``, ``tau = mean(S)`` by default (or a float, or
    ``"otsu"``). It needs no size parameter and boxes the region denser than the image
    average. If no pixel exceeds ``tau`` (a constant map) the box is the whole image.
``mean``
    Eq. 2 made well-posed: the highest mean over boxes of height >= ``min_size[0]`` and
    width >= ``min_size[1]``, or of area >= ``min_area * H * W``.
``threshold``
    Bounding box of the largest 8-connected component of ``S > t`` (``t`` Otsu by default),
    the convention of weakly-supervised localisation.
``fixed``
    The window of a given ``size`` with the highest mean (SaliencyMix-style).

``excess`` and ``mean`` are exact: the returned box's objective equals the brute-force optimum
over all boxes (:func:`saliencyaug.boxes.brute_force_best_box`). To make that exact rather than
"within float tolerance", each map is first converted to fixed point: ``rint((S - offset) *
scale)`` in int64, with ``scale`` chosen per map as large as possible without any box sum
overflowing (about 2**61 / (H * W) of the map's range for ``excess``; see ``_kernels.mean_scale``
for ``mean``). Sums are then exact, so ties are exact and are broken by SPEC.md's rule: the
smaller box, then the first in row-major order of ``(y0, x0, y1, x1)``.

Boxes are integer XYXY, half-open (``x0 <= x < x1``), never empty, inside the map, as
``torchvision.tv_tensors.BoundingBoxes(format="XYXY")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Union

import numpy as np

from saliencyaug.boxes import _kernels

if TYPE_CHECKING:
    import torch

Objective = Literal["excess", "mean", "threshold", "fixed"]
OBJECTIVES: tuple[str, ...] = ("excess", "mean", "threshold", "fixed")

# Fraction of the row-band pairs the branch and bound may evaluate before it solves the open
# nodes band by band; bounds the worst case (noise maps) near one plain O(H^2 W) pass.
_BUDGET_FRACTION = 0.05

MapLike = Union[np.ndarray, "torch.Tensor"]


class Box(NamedTuple):
    """An integer XYXY half-open box: ``x0 <= x < x1``, ``y0 <= y < y1``.

    Example:
        >>> box = Box(2, 1, 5, 4)
        >>> box.width, box.height, box.area
        (3, 3, 9)
    """

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        """``x1 - x0``."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """``y1 - y0``."""
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        """Number of pixels inside the box."""
        return self.width * self.height


# ----------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------


def as_saliency_array(saliency: Any, name: str = "saliency", ndim: int = 2) -> np.ndarray:
    """Convert a saliency map (or batch) to a C-contiguous real numpy array, checking it.

    Args:
        saliency: numpy array or torch tensor of shape ``(H, W)`` (``ndim=2``) or
            ``(B, H, W)`` (``ndim=3``), real dtype (bool, integer or float).
        name: argument name used in error messages.
        ndim: expected number of dimensions.

    Returns:
        float32 or float64 array (other real dtypes are converted to float64).

    Raises:
        TypeError: not an array/tensor, or a non-real dtype.
        ValueError: wrong number of dimensions or an empty map.
    """
    if hasattr(saliency, "detach") and hasattr(saliency, "cpu"):  # torch.Tensor
        tensor = saliency.detach()
        if tensor.is_complex():
            raise TypeError(f"{name} must have a real dtype, got {tensor.dtype}")
        if tensor.dtype.is_floating_point and tensor.dtype not in _numpy_float_dtypes():
            tensor = tensor.float()
        arr = tensor.cpu().numpy()
    elif isinstance(saliency, np.ndarray):
        arr = saliency
    else:
        raise TypeError(
            f"{name} must be a numpy array or torch tensor of shape "
            f"{'(H, W)' if ndim == 2 else '(B, H, W)'}, got {type(saliency).__name__}"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must have a real (bool, integer or float) dtype, got {arr.dtype}")
    if arr.ndim != ndim:
        shape = "(H, W)" if ndim == 2 else "(B, H, W)"
        raise ValueError(f"{name} must have shape {shape}, got {tuple(arr.shape)}")
    if arr.size == 0 or (ndim == 3 and (arr.shape[1] == 0 or arr.shape[2] == 0)):
        raise ValueError(f"{name} must not be empty, got shape {tuple(arr.shape)}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return np.ascontiguousarray(arr)


def _numpy_float_dtypes() -> tuple[Any, ...]:
    import torch

    return (torch.float32, torch.float64)


def _check_finite_stats(arr: np.ndarray, name: str) -> tuple[float, float]:
    # numpy's SIMD min/max propagate NaN and an inf is always the min or the max, so both
    # being finite is exactly "the map is finite", checked without another pass
    lo = float(arr.min())
    hi = float(arr.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or inf; a saliency map must be finite")
    if not np.isfinite(hi - lo):
        raise ValueError(f"{name}'s range max - min overflows float64; rescale the map")
    return lo, hi


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a (height, width) pair of ints, got {value!r}")
    if pair[0] < 1 or pair[1] < 1:
        raise ValueError(f"{name} must be positive, got {pair}")
    return pair


# ----------------------------------------------------------------------------------------
# Fixed-point conversion
# ----------------------------------------------------------------------------------------


def otsu_threshold(saliency: np.ndarray) -> float:
    """Otsu's threshold of a map (scikit-image, 256 bins); the map's value if it is constant.

    The map is normalised to [0, 1] first so that very large values cannot overflow Otsu's
    between-class variance.
    """
    from skimage.filters import threshold_otsu

    lo = float(saliency.min())
    hi = float(saliency.max())
    if lo == hi:
        return lo
    unit = (np.asarray(saliency, dtype=np.float64) - lo) / (hi - lo)
    return lo + float(threshold_otsu(unit)) * (hi - lo)


# ----------------------------------------------------------------------------------------
# The search configuration
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxSearch:
    """A best-box objective with its parameters; call it on a map to get a :class:`Box`.

    Args:
        objective: ``"excess"`` (default), ``"mean"``, ``"threshold"`` or ``"fixed"``.
        tau: ``excess`` only: the level subtracted from the map; ``"mean"`` (default),
            ``"otsu"`` or a float.
        min_size: ``mean`` only: minimum ``(height, width)`` (an int means a square).
        min_area: ``mean`` only: minimum area as a fraction of ``H * W`` in (0, 1].
        size: ``fixed`` only: the window's ``(height, width)``.
        threshold: ``threshold`` only: ``"otsu"`` (default) or a float; pixels strictly
            above it form the foreground.

    Raises:
        ValueError: an unknown objective, a parameter given to an objective that does not
            use it, or a parameter out of range.

    Example:
        >>> import numpy as np
        >>> s = np.zeros((8, 8), np.float32); s[2:5, 3:7] = 1
        >>> BoxSearch()(s)
        Box(x0=3, y0=2, x1=7, y1=5)
        >>> BoxSearch("mean", min_size=4)(s)
        Box(x0=3, y0=1, x1=7, y1=5)
    """

    objective: Objective = "excess"
    tau: float | Literal["mean", "otsu"] = "mean"
    min_size: int | tuple[int, int] | None = None
    min_area: float | None = None
    size: int | tuple[int, int] | None = None
    threshold: float | Literal["otsu"] = "otsu"

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.objective != "excess" and self.tau != "mean":
            raise ValueError(f"tau applies to objective='excess' only, not {self.objective!r}")
        if self.objective != "mean" and (self.min_size is not None or self.min_area is not None):
            raise ValueError("min_size and min_area apply to objective='mean' only")
        if self.objective != "fixed" and self.size is not None:
            raise ValueError("size applies to objective='fixed' only")
        if self.objective != "threshold" and self.threshold != "otsu":
            raise ValueError("threshold applies to objective='threshold' only")
        if isinstance(self.tau, str):
            if self.tau not in ("mean", "otsu"):
                raise ValueError(f"tau must be 'mean', 'otsu' or a finite float, got {self.tau!r}")
        elif not (isinstance(self.tau, (int, float)) and math.isfinite(self.tau)):
            raise ValueError(f"tau must be 'mean', 'otsu' or a finite float, got {self.tau!r}")
        if isinstance(self.threshold, str):
            if self.threshold != "otsu":
                raise ValueError(f"threshold must be 'otsu' or a float, got {self.threshold!r}")
        elif not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)):
            raise ValueError(f"threshold must be 'otsu' or a finite float, got {self.threshold!r}")
        if self.objective == "mean":
            if (self.min_size is None) == (self.min_area is None):
                raise ValueError(
                    "objective='mean' needs exactly one of min_size=(h, w) or min_area=fraction: "
                    "without a size limit the 1x1 box on the brightest pixel wins (Eq. 2 of the "
                    "CVSA paper is degenerate as written)"
                )
            if self.min_size is not None:
                _pair(self.min_size, "min_size")
            elif not (isinstance(self.min_area, (int, float)) and 0 < self.min_area <= 1):
                raise ValueError(f"min_area must be a fraction in (0, 1], got {self.min_area!r}")
        if self.objective == "fixed":
            if self.size is None:
                raise ValueError("objective='fixed' needs size=(height, width)")
            _pair(self.size, "size")

    def __call__(self, saliency: MapLike) -> Box:
        """Best box of one ``(H, W)`` map (numpy array or tensor on any device)."""
        arr = as_saliency_array(saliency)
        return self._search(arr, "saliency")

    def batch(self, saliency: MapLike) -> Any:
        """Best boxes of a ``(B, H, W)`` batch: an int64 ``(B, 4)`` array or tensor.

        numpy input gives a numpy array (computed in parallel over the batch with numba's
        threads); a tensor gives a tensor on the same device. On CUDA, ``excess`` and ``fixed``
        run on the GPU (see :mod:`saliencyaug.boxes.torch_search`); the other objectives copy
        the maps to the CPU.
        """
        return _batch(self, saliency)

    # -- internals -----------------------------------------------------------------------

    def _search(self, arr: np.ndarray, name: str) -> Box:
        if self.objective == "threshold":
            _check_finite_stats(arr, name)
            return self._threshold(arr)
        if self.objective == "excess":
            prepared = self._excess_q(arr, name)
            if prepared is None:
                return Box(0, 0, arr.shape[1], arr.shape[0])
            _, y0, x0, y1, x1, _ = _kernels.excess_box(*prepared, _BUDGET_FRACTION)
        elif self.objective == "mean":
            q, (hmin, hmax, wmin, wmax, amin) = self._mean_q(arr, name)
            sh, sw = _smallest_admissible(*arr.shape, hmin, wmin, amin)
            y0, x0, y1, x1 = _kernels.fixed_size_box(q, sh, sw)
            y0, x0, y1, x1, _ = _kernels.mean_box(
                q, hmin, hmax, wmin, wmax, amin, y0, x0, y1, x1, _BUDGET_FRACTION
            )
        else:
            q, bh, bw = self._fixed_q(arr, name)
            y0, x0, y1, x1 = _kernels.fixed_size_box(q, bh, bw)
        return Box(int(x0), int(y0), int(x1), int(y1))

    # Fixed-point maps, shared by the fast search and the brute-force reference so that both
    # optimise the very same integer objective.

    def _excess_q(self, arr: np.ndarray, name: str) -> tuple[np.ndarray, int, int, int, int] | None:
        """int64 ``rint((S - tau) / span * scale)`` and the rectangle ``(y0, y1, x0, x1)`` of its
        positive entries, or None when no pixel exceeds tau."""
        h, w = arr.shape
        lo, hi = _check_finite_stats(arr, name)
        if hi == lo:  # constant map: no pixel exceeds any tau that is its mean
            return None
        tau = self._tau(arr, lo, hi)
        span = max(hi - tau, tau - lo)
        if hi <= tau:
            return None
        q, y0, y1, x0, x1 = _kernels.quantize_support(arr, tau, span, _kernels.excess_scale(h, w))
        if y0 == h:  # every excess rounds to zero at the map's resolution
            return None
        return q, y0, y1, x0, x1

    def _mean_q(
        self, arr: np.ndarray, name: str
    ) -> tuple[np.ndarray, tuple[int, int, int, int, int]]:
        """Non-negative int64 map for ``mean`` and its limits (hmin, hmax, wmin, wmax, amin)."""
        h, w = arr.shape
        limits = self._mean_limits(h, w)
        lo, hi = _check_finite_stats(arr, name)
        span = hi - lo if hi > lo else 1.0
        q = _kernels.quantize(arr, lo, span, _kernels.mean_scale(h, w, limits[1] * limits[3]))
        return q, limits

    def _fixed_q(self, arr: np.ndarray, name: str) -> tuple[np.ndarray, int, int]:
        """Non-negative int64 map for ``fixed`` and the window's (height, width)."""
        bh, bw = self._fixed_size(*arr.shape)
        lo, hi = _check_finite_stats(arr, name)
        span = hi - lo if hi > lo else 1.0
        return _kernels.quantize(arr, lo, span, _kernels.fixed_scale(bh, bw)), bh, bw

    def _tau(self, arr: np.ndarray, lo: float, hi: float) -> float:
        if self.tau == "mean":
            return float(_kernels.exact_mean(arr, max(abs(lo), abs(hi))))
        if self.tau == "otsu":
            return otsu_threshold(arr)
        return float(self.tau)

    def _mean_limits(self, h: int, w: int) -> tuple[int, int, int, int, int]:
        """(hmin, hmax, wmin, wmax, amin) for the search; see :func:`mean_limits`."""
        return mean_limits(h, w, self.min_size, self.min_area)

    def _fixed_size(self, h: int, w: int) -> tuple[int, int]:
        bh, bw = _pair(self.size, "size")
        if bh > h or bw > w:
            raise ValueError(f"size {(bh, bw)} does not fit in a map of shape {(h, w)}")
        return bh, bw

    def _threshold(self, arr: np.ndarray) -> Box:
        t = otsu_threshold(arr) if self.threshold == "otsu" else float(self.threshold)
        return largest_component_box(arr > t)


def mean_limits(
    h: int, w: int, min_size: int | tuple[int, int] | None, min_area: float | None
) -> tuple[int, int, int, int, int]:
    """Search limits ``(hmin, hmax, wmin, wmax, amin)`` for the ``mean`` objective.

    A box of height >= 2 * hmin splits into two boxes that both satisfy the limits, one of them
    with a mean at least as large and a smaller area; so the tie-rule optimum has height
    < 2 * hmin and width < 2 * wmin, and the search is confined to those sizes.

    Raises:
        ValueError: the minimum size or area does not fit in the map.
    """
    if min_size is not None:
        hmin, wmin = _pair(min_size, "min_size")
        if hmin > h or wmin > w:
            raise ValueError(f"min_size {(hmin, wmin)} is larger than the map's shape {(h, w)}")
        return hmin, min(h, 2 * hmin - 1), wmin, min(w, 2 * wmin - 1), 0
    assert min_area is not None
    amin = max(1, math.ceil(min_area * h * w - 1e-9))
    return 1, h, 1, w, amin


def _smallest_admissible(h: int, w: int, hmin: int, wmin: int, amin: int) -> tuple[int, int]:
    if amin <= hmin * wmin:
        return hmin, wmin
    bh = min(h, max(hmin, math.isqrt(amin - 1) + 1))
    bw = max(wmin, -(-amin // bh))
    if bw > w:
        bw = w
        bh = -(-amin // w)
    return bh, bw


def largest_component_box(foreground: np.ndarray) -> Box:
    """Bounding box of the largest 8-connected component of a boolean mask.

    Ties between equally large components go to the smaller bounding box, then the first in
    row-major order. An all-false mask gives the whole image.

    Args:
        foreground: bool ``(H, W)``.

    Returns:
        The component's bounding :class:`Box`.
    """
    import cv2

    h, w = foreground.shape
    if not foreground.any():
        return Box(0, 0, w, h)
    n, _, stats, _ = cv2.connectedComponentsWithStats(
        foreground.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    comps = stats[1:n].astype(np.int64)
    x0, y0, cw, ch, area = comps.T
    order = np.lexsort((x0 + cw, y0 + ch, x0, y0, cw * ch, -area))
    i = order[0]
    return Box(int(x0[i]), int(y0[i]), int(x0[i] + cw[i]), int(y0[i] + ch[i]))


def best_box(saliency: MapLike, objective: Objective = "excess", **params: Any) -> Box:
    """Best box of one saliency map under an objective of SPEC.md section 2.

    Args:
        saliency: ``(H, W)`` real map, numpy or torch (any device), finite.
        objective: ``"excess"`` (default), ``"mean"``, ``"threshold"`` or ``"fixed"``.
        **params: the objective's parameters: ``tau``, ``min_size``, ``min_area``, ``size``,
            ``threshold`` (see :class:`BoxSearch`).

    Returns:
        The :class:`Box` ``(x0, y0, x1, y1)``, half-open.

    Raises:
        TypeError: not an array, or a non-real dtype.
        ValueError: wrong shape, empty map, NaN or inf, bad parameters.

    Example:
        >>> import numpy as np
        >>> s = np.zeros((6, 9)); s[1:4, 2:8] = 0.9
        >>> best_box(s)
        Box(x0=2, y0=1, x1=8, y1=4)
    """
    return BoxSearch(objective, **params)(saliency)


def best_boxes(saliency: MapLike, objective: Objective = "excess", **params: Any) -> Any:
    """Best boxes of a ``(B, H, W)`` batch; see :meth:`BoxSearch.batch`.

    Returns:
        int64 ``(B, 4)`` XYXY boxes: a numpy array for numpy input, a tensor on the input's
        device for tensor input.
    """
    return BoxSearch(objective, **params).batch(saliency)


def _batch(search: BoxSearch, saliency: MapLike) -> Any:
    is_tensor = hasattr(saliency, "detach") and hasattr(saliency, "device")
    if is_tensor and saliency.device.type != "cpu" and search.objective in ("excess", "fixed"):
        from saliencyaug.boxes import torch_search

        return torch_search.best_boxes_torch(search, saliency)
    arr = as_saliency_array(saliency, ndim=3)
    out = _batch_numpy(search, arr)
    if is_tensor:
        import torch

        return torch.from_numpy(out).to(saliency.device)
    return out


def _batch_numpy(search: BoxSearch, arr: np.ndarray) -> np.ndarray:
    b, h, w = arr.shape
    ok, bad = _kernels_batch_stats(arr)
    if not ok:
        raise ValueError(f"saliency[{bad}] contains NaN or inf; a saliency map must be finite")
    if search.objective == "excess":
        if search.tau == "mean":
            taus = np.full(b, np.nan)  # computed per map by the kernel (exact_mean)
        elif search.tau == "otsu":
            taus = np.array([otsu_threshold(m) for m in arr], dtype=np.float64)
        else:
            taus = np.full(b, float(search.tau))
        return _batch_kernels().batch_excess(arr, taus, _BUDGET_FRACTION)
    if search.objective == "threshold":
        return np.array([search._threshold(m) for m in arr], dtype=np.int64).reshape(b, 4)
    if search.objective == "fixed":
        bh, bw = search._fixed_size(h, w)
        return _batch_kernels().batch_fixed(arr, bh, bw)
    hmin, hmax, wmin, wmax, amin = search._mean_limits(h, w)
    sh, sw = _smallest_admissible(h, w, hmin, wmin, amin)
    return _batch_kernels().batch_mean(arr, hmin, hmax, wmin, wmax, amin, sh, sw, _BUDGET_FRACTION)


def _kernels_batch_stats(arr: np.ndarray) -> tuple[bool, int]:
    finite = np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
    if finite.all():
        return True, -1
    return False, int(np.argmin(finite))


def _batch_kernels() -> Any:
    # imported lazily: compiling the parallel kernels is only paid by batch users
    from saliencyaug.boxes import _batch_kernels as mod

    return mod
