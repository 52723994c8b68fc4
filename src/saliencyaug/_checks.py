"""Argument checks shared by every public entry (one wording for one mistake).

Each check raises ``TypeError`` for a wrong type and ``ValueError`` for a wrong value, with a
message that names the argument and says what was expected, and returns the value normalised
(e.g. a numpy scalar as a Python float). ``bool`` is never accepted where a number is meant.
"""

from __future__ import annotations

import contextvars
import math
import numbers
import os
import sys
from collections.abc import Collection, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[Reduction, ...] = ("mean", "sum", "none")


def _type_name(value: Any) -> str:
    return type(value).__name__


def is_tensor(value: Any) -> bool:
    """``isinstance(value, torch.Tensor)`` without importing torch (if torch was never imported,
    nothing can be a tensor)."""
    mod = sys.modules.get("torch")
    return mod is not None and isinstance(value, mod.Tensor)


def is_real_number(value: Any) -> bool:
    """A real number that is not a bool (Python, numpy or 0-d tensor)."""
    if isinstance(value, bool):
        return False
    if is_tensor(value):
        return (
            value.ndim == 0 and not value.is_complex() and value.dtype != sys.modules["torch"].bool
        )
    if type(value).__module__ == "numpy" and type(value).__name__ == "bool_":
        return False
    return isinstance(value, numbers.Real)


def is_integer(value: Any) -> bool:
    """An integer that is not a bool (Python or numpy)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Integral)


def real(name: str, value: Any) -> float:
    """A finite real number as ``float``."""
    if not is_real_number(value):
        raise TypeError(f"{name} must be a real number, got {_type_name(value)} {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (``>= 0`` with ``allow_zero``)."""
    out = real(name, value)
    if out < 0 or (out == 0 and not allow_zero):
        expected = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return out


def probability(name: str, value: Any) -> float:
    """A number in [0, 1]."""
    out = real(name, value)
    if not 0.0 <= out <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return out


def in_range(
    name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False
) -> float:
    """A number in the interval between ``lo`` and ``hi`` (closed unless told open)."""
    out = real(name, value)
    ok = (out > lo if lo_open else out >= lo) and (out < hi if hi_open else out <= hi)
    if not ok:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{name} must lie in {left}{lo:g}, {hi:g}{right}, got {value!r}")
    return out


def integer(name: str, value: Any, *, minimum: int | None = None) -> int:
    """An int (not bool), at least ``minimum`` when given."""
    if not is_integer(value):
        raise TypeError(f"{name} must be an int, got {_type_name(value)} {value!r}")
    out = int(value)
    if minimum is not None and out < minimum:
        expected = "positive" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} must be {expected}, got {out}")
    return out


def boolean(name: str, value: Any) -> bool:
    """A ``bool`` (numpy bools included)."""
    if isinstance(value, bool):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ == "bool_":
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {_type_name(value)} {value!r}")


def choice(name: str, value: Any, choices: Collection[T]) -> T:
    """One of ``choices`` (compared with ``==``; strings only match strings)."""
    for c in choices:
        if type(value) is type(c) and value == c:
            return c
    raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def reduction(value: Any) -> Reduction:
    """``"mean"``, ``"sum"`` or ``"none"``."""
    return choice("reduction", value, REDUCTIONS)


def range_pair(
    name: str,
    value: Any,
    lo: float,
    hi: float,
    *,
    lo_open: bool = True,
) -> tuple[float, float]:
    """A ``(min, max)`` pair with ``lo < min <= max <= hi`` (``lo <= min`` if not ``lo_open``)."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{name} must be a (min, max) pair, got {value!r}")
    a, b = (real(f"{name}[{i}]", v) for i, v in enumerate(value))
    ok_lo = a > lo if lo_open else a >= lo
    if not (ok_lo and a <= b <= hi):
        op = "<" if lo_open else "<="
        raise ValueError(f"{name} must satisfy {lo:g} {op} min <= max <= {hi:g}, got {value!r}")
    return a, b


def size_pair(name: str, value: Any) -> tuple[int, int]:
    """A positive int (a square) or a ``(height, width)`` pair of positive ints."""
    if is_integer(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(map(is_integer, value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a (height, width) pair of ints, got {value!r}")
    if min(pair) < 1:
        raise ValueError(f"{name} must be positive, got {pair}")
    return pair


def tensor(
    name: str,
    value: Any,
    *,
    ndim: int | Sequence[int] | None = None,
    shape: str = "",
    floating: bool = False,
    finite: bool = False,
    nonempty: bool = True,
) -> torch.Tensor:
    """A tensor with the given number of dimensions (``shape`` describes it in messages),
    optionally floating point, finite and non-empty."""
    want = f" {shape}" if shape else ""
    if not is_tensor(value):
        raise TypeError(f"{name} must be a{want} torch.Tensor, got {_type_name(value)}")
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in dims:
            raise ValueError(
                f"{name} must have shape{want or ' with ' + str(dims) + ' dims'}, "
                f"got {tuple(value.shape)}"
            )
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if nonempty and value.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(value.shape)}")
    if finite:
        finite_tensor(name, value)
    return value


def finite_tensor(name: str, value: torch.Tensor) -> torch.Tensor:
    """Raise if a tensor holds NaN or inf."""
    if value.is_floating_point() and not bool(value.isfinite().all()):
        raise ValueError(f"{name} contains NaN or inf")
    return value


def real_map(name: str, value: Any) -> Any:
    """A non-empty, finite, real ``(h, w)`` map as float32 numpy (CAMs for MaxBoxAcc and
    PxAP: the authors' code turns a NaN map into zeros, which scores as a miss, so a broken
    network would pass unnoticed; it is refused instead)."""
    import numpy as np

    if np.iscomplexobj(value) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real (h, w) map, got {_type_name(value)}")
    try:
        out = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real (h, w) map, got {_type_name(value)}") from err
    if out.ndim != 2 or out.size == 0:
        raise ValueError(f"{name} must be a non-empty (h, w) map, got shape {out.shape}")
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or inf")
    return out


MASK_RULE = (
    "bool, 0/1 or 0/255 values (0/255 as PNG files and OpenCV write masks), non-zero being "
    "the object"
)


def binary_mask(name: str, mask: torch.Tensor, *, soft: bool = False) -> torch.Tensor:
    """A mask under the package's one rule (:data:`MASK_RULE`): bool, or every value 0, 1 or
    255, non-zero being the object; returned as bool. With ``soft`` (the alignment loss), a
    floating-point mask with values in [0, 1] is kept as it is (soft targets).

    Raises:
        TypeError: a complex mask.
        ValueError: any other value (a 0/255 float map or a saliency map, say), naming
            ``name`` and the rule.
    """
    import torch

    if mask.is_complex():
        raise TypeError(f"{name} must be real (bool, integer or float), got {mask.dtype}")
    if mask.dtype == torch.bool:
        return mask
    if torch.compiler.is_compiling():  # data-dependent checks would break the graph
        return mask if soft and mask.is_floating_point() else mask > 0
    checks = deferred()
    if checks is not None:  # the same rule, as device flags and selects: no sync
        flat = mask.detach()
        binary = ((flat == 0) | (flat == 1) | (flat == 255)).all()
        if not (soft and mask.is_floating_point()):
            checks.record(name, binary, f"must be a binary mask: {MASK_RULE}")
            return mask > 0
        in_unit = ((flat >= 0) & (flat <= 1)).all()
        checks.record(name, in_unit | binary, f"must be a binary mask: {MASK_RULE}")
        return torch.where(in_unit, mask, (mask > 0).to(mask.dtype))
    finite_tensor(name, mask)
    # one min/max pass settles the usual cases (0/1, soft, 0/255) without a per-value test
    lo, hi = (float(v) for v in torch.aminmax(mask.detach().reshape(-1)))
    if lo >= 0 and hi <= 1 and (soft and mask.is_floating_point()):
        return mask
    if lo >= 0 and hi <= 1 and not mask.is_floating_point():
        return mask > 0
    if lo < 0 or not bool(((mask == 0) | (mask == 1) | (mask == 255)).all()):
        values = torch.unique(mask.detach().flatten())
        found = values[:6].tolist()
        more = ", or floats in [0, 1] as soft targets" if soft else ""
        raise ValueError(
            f"{name} must be a binary mask: {MASK_RULE}{more}; got values {found}"
            f"{'...' if values.numel() > 6 else ''}. Threshold a saliency map first "
            "(e.g. mask > 0.5)"
        )
    return mask > 0


class DeferredChecks:
    """Value checks of the losses and the training transforms without a host sync per call.

    Checking that a tensor holds no NaN or inf, or that a mask holds 0/1 values, reads a result
    back from the device: on a GPU every such read waits for all queued work, so a training
    step that calls a few losses stalls the GPU a few times. While a ``DeferredChecks`` is
    active (``with checks:``), those checks keep a device-side flag per argument instead, and
    :meth:`raise_if_failed` reads all flags back at once (one sync; call it where the loop
    syncs anyway, e.g. on logging steps): it raises the same ``ValueError``, naming every
    argument that failed since the last call. Leaving the ``with`` block calls it too (unless
    an exception is already on its way). The flags live in the object; nothing global is
    changed outside the block (a context variable, so threads and async tasks do not share it).
    Only the process that entered the block defers: DataLoader workers forked inside it check
    at once, since nothing would ever read their flags.

    Examples:
        >>> import torch
        >>> with DeferredChecks() as checks:                   # saliencyaug.DeferredChecks
        ...     _ = finite_values("x", torch.tensor([float("nan")]))  # as every loss checks
        ...     try:
        ...         checks.raise_if_failed()                   # e.g. on a logging step
        ...     except ValueError as err:
        ...         print(str(err).split(" (")[0])
        x contains NaN or inf
    """

    def __init__(self) -> None:
        self._flags: dict[str, torch.Tensor] = {}
        self._token: contextvars.Token[DeferredChecks | None] | None = None
        self._pid = 0

    def record(self, name: str, ok: torch.Tensor, problem: str) -> None:
        """Keep ``ok`` (a 0-d bool tensor, on any device) for the argument ``name``."""
        key = f"{name} {problem}"
        previous = self._flags.get(key)
        self._flags[key] = ok if previous is None else previous & ok.to(previous.device)

    def raise_if_failed(self) -> None:
        """Read every flag back (one sync) and raise for the failed ones; then start afresh.

        Raises:
            ValueError: naming each argument whose check failed since the last call.
        """
        import torch

        if not self._flags:
            return
        keys = list(self._flags)
        device = self._flags[keys[0]].device
        ok = torch.stack([self._flags[k].reshape(()).to(device) for k in keys]).tolist()
        self._flags.clear()
        failed = [k for k, good in zip(keys, ok, strict=True) if not good]
        if failed:
            raise ValueError(
                f"{'; '.join(failed)} (deferred check; found since the last raise_if_failed)"
            )

    def __enter__(self) -> DeferredChecks:
        if self._token is not None:
            raise RuntimeError("this DeferredChecks is already active")
        self._token = _DEFERRED.set(self)
        self._pid = os.getpid()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._token is not None
        _DEFERRED.reset(self._token)
        self._token = None
        if kind is None:
            self.raise_if_failed()


_DEFERRED: contextvars.ContextVar[DeferredChecks | None] = contextvars.ContextVar(
    "saliencyaug_deferred_checks", default=None
)


def deferred() -> DeferredChecks | None:
    """The active :class:`DeferredChecks` of this process, if any (a forked child inherits the
    context variable, not the duty to read the flags)."""
    checks = _DEFERRED.get()
    return checks if checks is not None and checks._pid == os.getpid() else None


def finite_values(name: str, value: torch.Tensor) -> torch.Tensor:
    """:func:`finite_tensor`, skipped while ``torch.compile`` traces (a data-dependent check
    would break the graph; compiled code is checked when run eagerly), and kept as a device
    flag while a :class:`DeferredChecks` is active."""
    import torch

    if torch.compiler.is_compiling():
        return value
    checks = deferred()
    if checks is not None:
        if value.is_floating_point():
            checks.record(name, value.detach().isfinite().all(), "contains NaN or inf")
        return value
    return finite_tensor(name, value)


def vector_batches(names: tuple[str, str], a: torch.Tensor, b: torch.Tensor) -> None:
    """Two ``(B, d)`` floating-point batches of the same shape, finite (outside compilation)."""
    for name, value in zip(names, (a, b), strict=True):
        tensor(name, value, ndim=2, shape="(B, d)", floating=True)
        finite_values(name, value)
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )


def float_tensor(name: str, value: Any, ndim: int, shape: str) -> torch.Tensor:
    """A floating-point tensor with ``ndim`` dimensions, non-empty and finite (the finiteness
    check is skipped under ``torch.compile``)."""
    tensor(name, value, ndim=ndim, shape=shape, floating=True)
    return finite_values(name, value)


def same_batch(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> int:
    """The common batch size (dim 0) of several tensors."""
    sizes = [int(t.shape[0]) for t in tensors]
    if len(set(sizes)) != 1:
        listed = ", ".join(f"{n}: {s}" for n, s in zip(names, sizes, strict=True))
        raise ValueError(f"{', '.join(names)} must have the same batch size, got {listed}")
    return sizes[0]


def view_pair(
    name: str, value: Any, *, same: Literal["shape", "channels", "batch"] = "shape"
) -> tuple[torch.Tensor, torch.Tensor]:
    """A pair ``(view_1, view_2)`` of tensors that agree in shape, or only in batch and
    channels (feature maps of views of different sizes), or only in batch (masks)."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(
            f"{name} must be a pair (view_1, view_2) of tensors, got {_type_name(value)}"
        )
    a, b = value
    for i, t in enumerate((a, b)):
        if not is_tensor(t):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor, got {_type_name(t)}")
    dims = {"shape": None, "channels": 2, "batch": 1}[same]
    if (same != "batch" and a.ndim != b.ndim) or a.shape[:dims] != b.shape[:dims]:
        what = {
            "shape": "the same shape",
            "channels": "the same batch and channels",
            "batch": "the same batch size",
        }[same]
        raise ValueError(
            f"{name} must hold two views of {what}, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return a, b


def reduce(values: torch.Tensor, how: Reduction) -> torch.Tensor:
    """Apply a reduction over every element."""
    if how == "mean":
        return values.mean()
    if how == "sum":
        return values.sum()
    return values


def callable_(name: str, value: Any) -> Any:
    """A callable."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {_type_name(value)}")
    return value
