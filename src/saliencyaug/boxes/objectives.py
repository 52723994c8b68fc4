"""Best-box objectives as small frozen dataclasses, validated once and consumed by every backend
(single-map numba, batched numba, torch, brute force) and by the command line.

The CVSA paper's Eq. 2 (the box of highest mean saliency) is degenerate as written: a 1x1 box
on the brightest pixel wins. These objectives are well posed (see ``docs/method.md``):

==============  =========================================================================
:class:`Excess`     maximise ``sum over the box of (S - tau)``; ``tau`` = ``"mean"`` (default),
                    ``"otsu"`` or a number
:class:`Mean`       the highest mean over boxes of at least ``min_size`` or ``min_area``
:class:`Threshold`  the bounding box of the largest 8-connected component of ``S > t``
:class:`Fixed`      the window of one ``size`` with the highest mean
==============  =========================================================================

Examples:
    >>> make_objective("mean", min_area=0.25)
    Mean(min_size=None, min_area=0.25)
    >>> objective_from_dict(objective_to_dict(Excess(tau=0.5)))
    Excess(tau=0.5)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal

import numpy as np

from saliencyaug import _checks
from saliencyaug.boxes.thresholds import otsu_threshold

ObjectiveName = Literal["excess", "mean", "threshold", "fixed"]
OBJECTIVES: tuple[ObjectiveName, ...] = ("excess", "mean", "threshold", "fixed")


def _level(name: str, value: Any, words: tuple[str, ...]) -> float | str:
    if isinstance(value, str):
        return _checks.choice(name, value, words)
    if not _checks.is_real_number(value):
        raise TypeError(
            f"{name} must be one of {words} or a finite number, got {type(value).__name__} "
            f"{value!r}"
        )
    return _checks.real(name, value)


@dataclass(frozen=True)
class Excess:
    """Maximise ``sum over the box of (S - tau)``.

    No size parameter: it boxes the region denser than the level ``tau``; when no pixel exceeds
    ``tau`` (a constant map) the box is the whole image.

    Args:
        tau: ``"mean"`` (the map's mean, default), ``"otsu"`` (Otsu's threshold) or a number.

    Examples:
        >>> Excess(tau=np.float32(0.25)).tau
        0.25
    """

    tau: float | Literal["mean", "otsu"] = "mean"
    name: ClassVar[ObjectiveName] = "excess"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau", _level("tau", self.tau, ("mean", "otsu")))

    def levels(self, batch: int, cpu_maps: Callable[[], np.ndarray]) -> np.ndarray:
        """Per-map ``tau`` of a batch as float64 ``(B,)``; NaN stands for "the map's exact
        mean", which every backend computes with its own order-independent kernel.

        ``cpu_maps`` is called (for ``"otsu"`` only) to get the maps as a numpy array.
        """
        if self.tau == "mean":
            return np.full(batch, np.nan)
        if self.tau == "otsu":
            return np.array([otsu_threshold(m) for m in cpu_maps()], dtype=np.float64)
        return np.full(batch, float(self.tau))


@dataclass(frozen=True)
class Mean:
    """The highest mean saliency over boxes of height >= ``min_size[0]`` and width >=
    ``min_size[1]``, or of area >= ``min_area * H * W``: Eq. 2 of the CVSA paper made
    well-posed. Exactly one of the two limits is required.

    Args:
        min_size: minimum ``(height, width)`` (an int means a square).
        min_area: minimum area as a fraction of the map, in (0, 1].

    Examples:
        >>> Mean(min_size=4).limits(10, 10)
        (4, 7, 4, 7, 0)
    """

    min_size: tuple[int, int] | None = None
    min_area: float | None = None
    name: ClassVar[ObjectiveName] = "mean"

    def __post_init__(self) -> None:
        if (self.min_size is None) == (self.min_area is None):
            raise ValueError(
                "objective 'mean' needs exactly one of min_size=(h, w) or min_area=fraction: "
                "without a size limit the 1x1 box on the brightest pixel wins (Eq. 2 of the "
                "CVSA paper is degenerate as written)"
            )
        if self.min_size is not None:
            object.__setattr__(self, "min_size", _checks.size_pair("min_size", self.min_size))
        else:
            area = _checks.in_range("min_area", self.min_area, 0.0, 1.0, lo_open=True)
            object.__setattr__(self, "min_area", area)

    def limits(self, h: int, w: int) -> tuple[int, int, int, int, int]:
        """Search limits ``(hmin, hmax, wmin, wmax, amin)`` on an ``h x w`` map.

        A box of height >= 2 * hmin splits into two boxes that both satisfy the limits, one of
        them with a mean at least as large and a smaller area; so the tie-rule optimum has
        height < 2 * hmin and width < 2 * wmin, and the search is confined to those sizes.

        Raises:
            ValueError: the minimum size does not fit in the map.
        """
        if self.min_size is not None:
            hmin, wmin = self.min_size
            if hmin > h or wmin > w:
                raise ValueError(
                    f"saliency: min_size {(hmin, wmin)} is larger than the map's shape {(h, w)}"
                )
            return hmin, min(h, 2 * hmin - 1), wmin, min(w, 2 * wmin - 1), 0
        assert self.min_area is not None
        amin = max(1, math.ceil(self.min_area * h * w - 1e-9))
        return 1, h, 1, w, amin

    def smallest_window(self, h: int, w: int) -> tuple[int, int]:
        """An admissible ``(height, width)`` of small area: the search starts from the best
        window of this size."""
        hmin, _, wmin, _, amin = self.limits(h, w)
        if amin <= hmin * wmin:
            return hmin, wmin
        bh = min(h, max(hmin, math.isqrt(amin - 1) + 1))
        bw = max(wmin, -(-amin // bh))
        if bw > w:
            bw = w
            bh = -(-amin // w)
        return bh, bw


@dataclass(frozen=True)
class Threshold:
    """The bounding box of the largest 8-connected component of ``S > t`` (the convention of
    weakly-supervised localisation); an empty foreground gives the whole image.

    Args:
        threshold: ``"otsu"`` (default) or a number; pixels strictly above it are foreground.
    """

    threshold: float | Literal["otsu"] = "otsu"
    name: ClassVar[ObjectiveName] = "threshold"

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", _level("threshold", self.threshold, ("otsu",)))

    def level(self, saliency: np.ndarray) -> float:
        """The threshold for one map."""
        return otsu_threshold(saliency) if self.threshold == "otsu" else float(self.threshold)


@dataclass(frozen=True)
class Fixed:
    """The window of one ``size`` with the highest mean (SaliencyMix-style).

    Args:
        size: ``(height, width)`` (an int means a square).
    """

    size: tuple[int, int]
    name: ClassVar[ObjectiveName] = "fixed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", _checks.size_pair("size", self.size))

    def window(self, h: int, w: int) -> tuple[int, int]:
        """The window's ``(height, width)``, checked to fit an ``h x w`` map."""
        bh, bw = self.size
        if bh > h or bw > w:
            raise ValueError(f"saliency: size {(bh, bw)} does not fit in a map of shape {(h, w)}")
        return bh, bw


Objective = Excess | Mean | Threshold | Fixed
_CLASSES: dict[str, type[Excess] | type[Mean] | type[Threshold] | type[Fixed]] = {
    "excess": Excess,
    "mean": Mean,
    "threshold": Threshold,
    "fixed": Fixed,
}


def make_objective(objective: str | Objective = "excess", **params: Any) -> Objective:
    """An objective from its name and parameters (the only place a name is parsed), or an
    objective instance passed through.

    Raises:
        ValueError: an unknown name, a parameter the objective does not take, or a bad value.
        TypeError: a parameter of the wrong type.
    """
    if isinstance(objective, (Excess, Mean, Threshold, Fixed)):
        if params:
            raise ValueError(
                f"parameters {sorted(params)} cannot be added to an objective instance; "
                "pass them to its constructor"
            )
        return objective
    if not isinstance(objective, str):
        raise TypeError(
            f"objective must be one of {OBJECTIVES} or an objective instance, got "
            f"{type(objective).__name__}"
        )
    cls = _CLASSES.get(objective)
    if cls is None:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        key = unknown[0]
        owners = [n for n, c in _CLASSES.items() if key in {f.name for f in fields(c)}]
        where = f"objective={owners[0]!r} only" if owners else "no objective"
        raise ValueError(
            f"{key} applies to {where}, not to objective={objective!r} (which takes "
            f"{sorted(known) or 'no parameters'})"
        )
    if cls is Fixed and "size" not in params:
        raise ValueError("objective 'fixed' needs size=(height, width)")
    return cls(**params)


def objective_to_dict(objective: Objective) -> dict[str, Any]:
    """``{"objective": name, **parameters}`` with JSON-ready values (unset ones left out)."""
    out: dict[str, Any] = {"objective": objective.name}
    for key, value in asdict(objective).items():
        if value is not None:
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


def objective_from_dict(data: dict[str, Any]) -> Objective:
    """Inverse of :func:`objective_to_dict`.

    Raises:
        ValueError: a malformed record.
    """
    if not isinstance(data, dict) or "objective" not in data:
        raise ValueError(f"an objective record needs an 'objective' key, got {data!r}")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    name = params.pop("objective")
    if not isinstance(name, str):
        raise ValueError(f"an objective record names its objective, got {name!r}")
    return make_objective(name, **params)


__all__ = [
    "OBJECTIVES",
    "Excess",
    "Fixed",
    "Mean",
    "Objective",
    "ObjectiveName",
    "Threshold",
    "make_objective",
    "objective_from_dict",
    "objective_to_dict",
]
