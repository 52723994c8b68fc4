"""Image conversion at the library's boundary (SPEC.md conventions).

Detectors and transforms accept PIL images, ``(H, W)`` / ``(H, W, C)`` numpy arrays and
``(C, H, W)`` / ``(H, W)`` tensors (uint8 0..255 or float 0..1; gray, RGB or RGBA; RGB order)
and work internally on uint8 RGB numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_CHANNELS = (1, 3, 4)


def to_rgb_uint8(image: Any, name: str = "image") -> np.ndarray:
    """Convert an image to a C-contiguous ``(H, W, 3)`` uint8 RGB array.

    Gray images are replicated to three channels; an alpha channel is dropped (like
    ``PIL.Image.convert("RGB")``).

    Args:
        image: PIL image (any mode PIL can convert to RGB); numpy ``(H, W)`` or
            ``(H, W, C)`` with C in {1, 3, 4}; torch tensor ``(C, H, W)`` or ``(H, W)``.
            Integer data must be uint8 (or bool), float data must lie in [0, 1].
        name: argument name for error messages.

    Returns:
        uint8 array ``(H, W, 3)``.

    Raises:
        TypeError: an unsupported type or dtype.
        ValueError: a wrong shape, an empty image, float values outside [0, 1] or NaN.

    Example:
        >>> import numpy as np
        >>> to_rgb_uint8(np.full((2, 3), 0.5)).shape
        (2, 3, 3)
    """
    arr = _as_hwc(image, name)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    arr = _to_uint8(arr, name)
    c = arr.shape[2]
    if c == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif c == 4:
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


def image_size(image: Any, name: str = "image") -> tuple[int, int]:
    """``(H, W)`` of an image in any accepted form, without converting its pixels."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.height, image.width
    if _is_tensor(image):
        if image.ndim not in (2, 3):
            raise ValueError(f"{name} tensor must be (C, H, W) or (H, W), got {tuple(image.shape)}")
        return int(image.shape[-2]), int(image.shape[-1])
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3):
            raise ValueError(f"{name} array must be (H, W) or (H, W, C), got {image.shape}")
        return int(image.shape[0]), int(image.shape[1])
    raise TypeError(_type_message(image, name))


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") or hasattr(x, "__torch_function__")


def _type_message(image: Any, name: str) -> str:
    return (
        f"{name} must be a PIL image, an (H, W[, C]) numpy array or a (C, H, W) tensor, "
        f"got {type(image).__name__}"
    )


def _as_hwc(image: Any, name: str) -> np.ndarray:
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        arr = np.asarray(image)
        return arr[:, :, None] if arr.ndim == 2 else arr
    if _is_tensor(image):
        t = image.detach()
        if t.ndim == 2:
            t = t.unsqueeze(0)
        if t.ndim != 3 or t.shape[0] not in _CHANNELS:
            raise ValueError(
                f"{name} tensor must be (C, H, W) with C in {_CHANNELS} or (H, W), "
                f"got {tuple(image.shape)}"
            )
        if t.is_floating_point() and t.dtype not in _float_tensor_dtypes():
            t = t.float()
        return t.permute(1, 2, 0).cpu().numpy()
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            return image[:, :, None]
        if image.ndim != 3 or image.shape[2] not in _CHANNELS:
            raise ValueError(
                f"{name} array must be (H, W) or (H, W, C) with C in {_CHANNELS} (channels "
                f"last), got {image.shape}"
            )
        return image
    raise TypeError(_type_message(image, name))


def _float_tensor_dtypes() -> tuple[Any, ...]:
    import torch

    return (torch.float32, torch.float64)


def _to_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{name} is float with values in [{lo:g}, {hi:g}]; float images must lie in "
                "[0, 1] (use uint8 for 0..255)"
            )
        return np.round(arr * 255.0).astype(np.uint8)
    raise TypeError(f"{name} must be uint8, bool or float in [0, 1], got dtype {arr.dtype}")
