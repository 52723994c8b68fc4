"""Exact best-box search on saliency maps (``docs/method.md``, "Best box").

:class:`BoxSearch` pairs an objective of :mod:`saliencyaug.boxes.objectives` with the search
that solves it: ``excess`` by branch and bound, ``mean`` by Dinkelbach's method over the same
engine, ``fixed`` by sliding windows, ``threshold`` by connected components.

``excess`` and ``mean`` are exact: the returned box's objective equals the brute-force optimum
over all boxes (:func:`saliencyaug.boxes.brute_force_best_box`). To make that exact rather than
"within float tolerance", each map is first converted to fixed point: ``rint((S - offset) *
scale)`` in int64, with ``scale`` chosen per map as large as possible without any box sum
overflowing (about 2**61 / (H * W) of the map's range for ``excess``; see
``_kernels.mean_scale`` for ``mean``). Sums are then exact, so ties are exact and are broken by
one rule: the smaller box, then the first in row-major order of ``(y0, x0, y1, x1)``. The
fixed-point maps ("plans") are built here once and shared by the fast search and the
brute-force reference, so both optimise the very same integer objective.

Boxes are integer XYXY, half-open (``x0 <= x < x1``), never empty, inside the map, as
``torchvision.tv_tensors.BoundingBoxes(format="XYXY")``.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Union, overload

import numpy as np

from saliencyaug import _checks
from saliencyaug.boxes import _batch_kernels, _kernels, torch_search
from saliencyaug.boxes.geometry import Box
from saliencyaug.boxes.objectives import (
    Excess,
    Fixed,
    Mean,
    Objective,
    ObjectiveName,
    Threshold,
    make_objective,
    objective_from_dict,
    objective_to_dict,
)
from saliencyaug.boxes.thresholds import largest_component_box

if TYPE_CHECKING:
    import torch

# Fraction of the row-band pairs the branch and bound may evaluate before it solves the open
# nodes band by band; bounds the worst case (noise maps) near one plain O(H^2 W) pass.
BUDGET_FRACTION = 0.05

MapLike = Union[np.ndarray, "torch.Tensor"]


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
    shape = "(H, W)" if ndim == 2 else "(B, H, W)"
    if hasattr(saliency, "detach") and hasattr(saliency, "cpu"):  # torch.Tensor
        tensor = saliency.detach()
        if tensor.is_complex():
            raise TypeError(f"{name} must have a real dtype, got {tensor.dtype}")
        if tensor.dtype.is_floating_point and tensor.dtype.itemsize < 4:
            tensor = tensor.float()
        arr = tensor.cpu().numpy()
    elif isinstance(saliency, np.ndarray):
        arr = saliency
    else:
        raise TypeError(
            f"{name} must be a numpy array or torch tensor of shape {shape}, "
            f"got {type(saliency).__name__}"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must have a real (bool, integer or float) dtype, got {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(arr.shape)}")
    if arr.size == 0 or (ndim == 3 and (arr.shape[1] == 0 or arr.shape[2] == 0)):
        raise ValueError(f"{name} must not be empty, got shape {tuple(arr.shape)}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return np.ascontiguousarray(arr)


def check_finite_range(arr: np.ndarray, name: str) -> tuple[float, float]:
    """``(min, max)`` of a map, checked finite with a finite range ``max - min``."""
    # numpy's SIMD min/max propagate NaN and an inf is always the min or the max, so both
    # being finite is exactly "the map is finite", checked without another pass
    lo = float(arr.min())
    hi = float(arr.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or inf; a saliency map must be finite")
    if not np.isfinite(hi - lo):
        raise ValueError(f"{name}'s range max - min overflows float64; rescale the map")
    return lo, hi


# ----------------------------------------------------------------------------------------
# Plans: fixed-point maps shared by the fast search and the brute-force reference
# ----------------------------------------------------------------------------------------


def excess_plan(
    objective: Excess, arr: np.ndarray, name: str = "saliency"
) -> tuple[np.ndarray, int, int, int, int] | None:
    """int64 ``rint((S - tau) / span * scale)`` and the rectangle ``(y0, y1, x0, x1)`` of its
    positive entries, or None when no pixel exceeds ``tau`` (the box is then the whole map)."""
    h, w = arr.shape
    lo, hi = check_finite_range(arr, name)
    if hi == lo:  # constant map: no pixel exceeds any tau that is its mean
        return None
    tau = float(objective.levels(1, lambda: arr[None])[0])
    if np.isnan(tau):
        tau = float(_kernels.exact_mean(arr, max(abs(lo), abs(hi))))
    if hi <= tau:
        return None
    span = max(hi - tau, tau - lo)
    q, y0, y1, x0, x1 = _kernels.quantize_support(arr, tau, span, _kernels.excess_scale(h, w))
    if y0 == h:  # every excess rounds to zero at the map's resolution
        return None
    return q, y0, y1, x0, x1


def mean_plan(
    objective: Mean, arr: np.ndarray, name: str = "saliency"
) -> tuple[np.ndarray, tuple[int, int, int, int, int]]:
    """Non-negative int64 map for ``mean`` and its limits ``(hmin, hmax, wmin, wmax, amin)``."""
    h, w = arr.shape
    limits = objective.limits(h, w)
    lo, hi = check_finite_range(arr, name)
    span = hi - lo if hi > lo else 1.0
    q = _kernels.quantize(arr, lo, span, _kernels.mean_scale(h, w, limits[1] * limits[3]))
    return q, limits


def fixed_plan(
    objective: Fixed, arr: np.ndarray, name: str = "saliency"
) -> tuple[np.ndarray, int, int]:
    """Non-negative int64 map for ``fixed`` and the window's ``(height, width)``."""
    bh, bw = objective.window(*arr.shape)
    lo, hi = check_finite_range(arr, name)
    span = hi - lo if hi > lo else 1.0
    return _kernels.quantize(arr, lo, span, _kernels.fixed_scale(bh, bw)), bh, bw


def threshold_foreground(objective: Threshold, arr: np.ndarray, name: str = "saliency") -> Any:
    """The boolean foreground ``S > t`` of the ``threshold`` objective."""
    check_finite_range(arr, name)
    return arr > objective.level(arr)


def _search_one(objective: Objective, arr: np.ndarray, name: str) -> Box:
    if isinstance(objective, Threshold):
        return largest_component_box(threshold_foreground(objective, arr, name))
    if isinstance(objective, Excess):
        prepared = excess_plan(objective, arr, name)
        if prepared is None:
            return Box(0, 0, arr.shape[1], arr.shape[0])
        _, y0, x0, y1, x1, _ = _kernels.excess_box(*prepared, BUDGET_FRACTION)
    elif isinstance(objective, Mean):
        q, (hmin, hmax, wmin, wmax, amin) = mean_plan(objective, arr, name)
        sh, sw = objective.smallest_window(*arr.shape)
        y0, x0, y1, x1 = _kernels.fixed_size_box(q, sh, sw)
        y0, x0, y1, x1, _ = _kernels.mean_box(
            q, hmin, hmax, wmin, wmax, amin, y0, x0, y1, x1, BUDGET_FRACTION
        )
    else:
        q, bh, bw = fixed_plan(objective, arr, name)
        y0, x0, y1, x1 = _kernels.fixed_size_box(q, bh, bw)
    return Box(int(x0), int(y0), int(x1), int(y1))


# ----------------------------------------------------------------------------------------
# The search configuration
# ----------------------------------------------------------------------------------------


class BoxSearch:
    """A best-box objective with its parameters; call it on a map to get a :class:`Box`.

    Args:
        objective: ``"excess"`` (default), ``"mean"``, ``"threshold"``, ``"fixed"``, or an
            objective instance (:class:`~saliencyaug.boxes.objectives.Excess`, ...).
        **params: the objective's parameters: ``tau`` (excess), ``min_size`` / ``min_area``
            (mean), ``threshold`` (threshold), ``size`` (fixed).

    Raises:
        ValueError: an unknown objective, a parameter the objective does not take, or a
            parameter out of range.
        TypeError: a parameter of the wrong type.

    Examples:
        >>> s = np.zeros((8, 8), np.float32); s[2:5, 3:7] = 1
        >>> BoxSearch()(s)
        Box(x0=3, y0=2, x1=7, y1=5)
        >>> BoxSearch("mean", min_size=4)(s)
        Box(x0=3, y0=1, x1=7, y1=5)
        >>> BoxSearch("excess", tau=0.5)
        BoxSearch(Excess(tau=0.5))
    """

    __slots__ = ("objective",)
    objective: Objective

    def __init__(self, objective: ObjectiveName | Objective = "excess", **params: Any) -> None:
        object.__setattr__(self, "objective", make_objective(objective, **params))

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("BoxSearch is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (BoxSearch, (self.objective,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BoxSearch) and other.objective == self.objective

    def __hash__(self) -> int:
        return hash(self.objective)

    def __repr__(self) -> str:
        return f"BoxSearch({self.objective!r})"

    @property
    def name(self) -> ObjectiveName:
        """The objective's name."""
        return self.objective.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"objective": name, **parameters}`` (box-file headers, the CLI)."""
        return objective_to_dict(self.objective)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoxSearch:
        """Inverse of :meth:`to_dict`."""
        return cls(objective_from_dict(data))

    def __call__(self, saliency: MapLike) -> Box:
        """Best box of one ``(H, W)`` map (numpy array or tensor on any device)."""
        return _search_one(self.objective, as_saliency_array(saliency), "saliency")

    @overload
    def batch(self, saliency: np.ndarray, *, threads: int | None = None) -> np.ndarray: ...
    @overload
    def batch(self, saliency: torch.Tensor, *, threads: int | None = None) -> torch.Tensor: ...
    def batch(self, saliency: MapLike, *, threads: int | None = None) -> np.ndarray | torch.Tensor:
        """Best boxes of a ``(B, H, W)`` batch: an int64 ``(B, 4)`` array or tensor.

        numpy input gives a numpy array; a tensor gives a tensor on the same device. On the
        CPU the maps are split over ``threads`` threads (default :func:`default_threads`: torch's
        intra-op thread count, which DataLoader workers set to 1); the kernels release the GIL,
        touch no global thread setting and are safe in forked, spawned and forkserver workers
        and from several threads at once. On CUDA, ``excess`` and ``fixed`` run on the GPU (see
        :mod:`saliencyaug.boxes.torch_search`); the other objectives copy the maps to the CPU.
        """
        n_threads = (
            default_threads() if threads is None else _checks.integer("threads", threads, minimum=1)
        )
        if isinstance(saliency, np.ndarray):
            return _batch_numpy(self.objective, as_saliency_array(saliency, ndim=3), n_threads)
        import torch

        if not isinstance(saliency, torch.Tensor):
            raise TypeError(
                "saliency must be a numpy array or torch tensor of shape (B, H, W), "
                f"got {type(saliency).__name__}"
            )
        if saliency.device.type != "cpu" and isinstance(self.objective, (Excess, Fixed)):
            return torch_search.best_boxes_torch(self, saliency)
        out = _batch_numpy(self.objective, as_saliency_array(saliency, ndim=3), n_threads)
        return torch.from_numpy(out).to(saliency.device)


def default_threads() -> int:
    """Threads a batched box search uses by default: torch's intra-op thread count when torch
    is loaded (``torch.set_num_threads`` sets it; DataLoader workers have 1), else the CPUs this
    process may run on."""
    torch_module = sys.modules.get("torch")
    if torch_module is not None:
        return max(1, int(torch_module.get_num_threads()))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _run_slices(kernel: Callable[..., None], b: int, threads: int, *args: Any) -> np.ndarray:
    """``kernel(*args, out, start, stop)`` over ``[0, b)`` in ``threads`` slices."""
    out = np.empty((b, 4), dtype=np.int64)
    threads = min(threads, b)
    if threads <= 1:
        kernel(*args, out, 0, b)
        return out
    bounds = np.linspace(0, b, threads + 1).astype(int)
    # a pool per call: nothing survives a fork, nothing is shared between callers' threads
    with ThreadPoolExecutor(threads, thread_name_prefix="saliencyaug-boxes") as pool:
        futures = [
            pool.submit(kernel, *args, out, int(lo), int(hi))
            for lo, hi in itertools.pairwise(bounds)
            if hi > lo
        ]
        for f in futures:
            f.result()
    return out


def _batch_numpy(objective: Objective, arr: np.ndarray, threads: int) -> np.ndarray:
    b, h, w = arr.shape
    flat = arr.reshape(b, -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    bad = ~(np.isfinite(lo) & np.isfinite(hi))
    if bad.any():
        raise ValueError(
            f"saliency[{int(np.argmax(bad))}] contains NaN or inf; a saliency map must be finite"
        )
    with np.errstate(over="ignore"):
        overflow = ~np.isfinite(hi.astype(np.float64) - lo.astype(np.float64))
    if overflow.any():
        raise ValueError(
            f"saliency[{int(np.argmax(overflow))}]'s range max - min overflows float64; "
            "rescale the map"
        )
    if isinstance(objective, Excess):
        taus = objective.levels(b, lambda: arr)
        return _run_slices(_batch_kernels.batch_excess, b, threads, arr, taus, BUDGET_FRACTION)
    if isinstance(objective, Threshold):
        return np.array(
            [largest_component_box(threshold_foreground(objective, m)) for m in arr],
            dtype=np.int64,
        ).reshape(b, 4)
    if isinstance(objective, Fixed):
        bh, bw = objective.window(h, w)
        return _run_slices(_batch_kernels.batch_fixed, b, threads, arr, bh, bw)
    hmin, hmax, wmin, wmax, amin = objective.limits(h, w)
    sh, sw = objective.smallest_window(h, w)
    limits = (hmin, hmax, wmin, wmax, amin, sh, sw, BUDGET_FRACTION)
    return _run_slices(_batch_kernels.batch_mean, b, threads, arr, *limits)


def best_box(
    saliency: MapLike, objective: ObjectiveName | Objective = "excess", **params: Any
) -> Box:
    """Best box of one saliency map.

    Args:
        saliency: ``(H, W)`` real map, numpy or torch (any device), finite.
        objective: ``"excess"`` (default), ``"mean"``, ``"threshold"``, ``"fixed"`` or an
            objective instance.
        **params: the objective's parameters (see :class:`BoxSearch`).

    Returns:
        The :class:`Box` ``(x0, y0, x1, y1)``, half-open.

    Raises:
        TypeError: not an array, or a non-real dtype.
        ValueError: wrong shape, empty map, NaN or inf, bad parameters.

    Examples:
        >>> s = np.zeros((6, 9)); s[1:4, 2:8] = 0.9
        >>> best_box(s)
        Box(x0=2, y0=1, x1=8, y1=4)
    """
    return BoxSearch(objective, **params)(saliency)


@overload
def best_boxes(
    saliency: np.ndarray,
    objective: ObjectiveName | Objective = ...,
    *,
    threads: int | None = ...,
    **params: Any,
) -> np.ndarray: ...
@overload
def best_boxes(
    saliency: torch.Tensor,
    objective: ObjectiveName | Objective = ...,
    *,
    threads: int | None = ...,
    **params: Any,
) -> torch.Tensor: ...
def best_boxes(
    saliency: MapLike,
    objective: ObjectiveName | Objective = "excess",
    *,
    threads: int | None = None,
    **params: Any,
) -> np.ndarray | torch.Tensor:
    """Best boxes of a ``(B, H, W)`` batch; see :meth:`BoxSearch.batch` (``threads`` too).

    Returns:
        int64 ``(B, 4)`` XYXY boxes: a numpy array for numpy input, a tensor on the input's
        device for tensor input.

    Examples:
        >>> maps = np.zeros((2, 5, 5)); maps[0, 1:3, 1:3] = 1; maps[1, 2:5, 0:2] = 1
        >>> best_boxes(maps).tolist()
        [[1, 1, 3, 3], [0, 2, 2, 5]]
    """
    return BoxSearch(objective, **params).batch(saliency, threads=threads)


__all__ = [
    "BUDGET_FRACTION",
    "BoxSearch",
    "MapLike",
    "as_saliency_array",
    "best_box",
    "best_boxes",
    "check_finite_range",
    "default_threads",
    "excess_plan",
    "fixed_plan",
    "mean_plan",
    "threshold_foreground",
]
