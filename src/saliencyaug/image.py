"""Images at the library's boundary: loading, listing and conversion (one home for all of it).

Accepted everywhere an image goes in: PIL images (any mode), ``(H, W)`` / ``(H, W, C)`` numpy
arrays and ``(C, H, W)`` / ``(H, W)`` tensors with C in {1, 3, 4} (gray, RGB, RGBA; RGB order;
alpha dropped). Values: uint8 0..255, uint16 0..65535 or float in [0, 1] (finite). Deeper images
keep their dynamic range when converted to 8 bits: uint16 (and PIL's 16-bit modes) are scaled
by 255 / 65535 (as ``torchvision``'s ``to_dtype`` does); PIL's 32-bit integer mode ``I`` is
read as 16-bit when its values fit, PIL's float mode ``F`` as [0, 1] when its values do, and
both are min-max scaled otherwise. Nothing is clipped.

Examples:
    >>> import numpy as np
    >>> to_rgb_uint8(np.full((2, 3), 0.5)).shape
    (2, 3, 3)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from saliencyaug import _checks
from saliencyaug._opencv import require_cv2

if TYPE_CHECKING:
    import torch

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
_CHANNELS = (1, 3, 4)


def _type_message(image: Any, name: str) -> str:
    return (
        f"{name} must be a PIL image, an (H, W[, C]) numpy array or a (C, H, W) tensor, "
        f"got {type(image).__name__}"
    )


def to_rgb_uint8(image: Any, name: str = "image") -> np.ndarray:
    """Convert an image to a C-contiguous ``(H, W, 3)`` uint8 RGB array.

    Gray images are replicated to three channels; an alpha channel is dropped (like
    ``PIL.Image.convert("RGB")``).

    Args:
        image: PIL image; numpy ``(H, W)`` or ``(H, W, C)`` with C in {1, 3, 4}; tensor
            ``(C, H, W)`` or ``(H, W)``. Integer data must be uint8 (or bool), float data must
            lie in [0, 1].
        name: argument name for error messages.

    Returns:
        uint8 array ``(H, W, 3)``.

    Raises:
        TypeError: an unsupported type or dtype.
        ValueError: a wrong shape, an empty image, float values outside [0, 1] or NaN.

    Examples:
        >>> to_rgb_uint8(np.zeros((4, 5, 4), np.uint8)).shape
        (4, 5, 3)
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
    """``(H, W)`` of an image in any accepted form, without converting its pixels.

    Examples:
        >>> image_size(np.zeros((4, 7, 3), np.uint8))
        (4, 7)
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.height, image.width
    if _checks.is_tensor(image):
        if image.ndim not in (2, 3):
            raise ValueError(f"{name} tensor must be (C, H, W) or (H, W), got {tuple(image.shape)}")
        return int(image.shape[-2]), int(image.shape[-1])
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3):
            raise ValueError(f"{name} array must be (H, W) or (H, W, C), got {image.shape}")
        return int(image.shape[0]), int(image.shape[1])
    raise TypeError(_type_message(image, name))


def to_image_tensor(image: Any, name: str = "image") -> torch.Tensor:
    """Any accepted image to a 3-channel ``(3, H, W)`` tensor, uint8 or float in [0, 1].

    PIL images and numpy arrays become uint8 (deeper ones scaled, see the module docstring);
    uint8 and float tensors keep their dtype (float tensors are checked to be finite and in
    [0, 1]); uint16 tensors become float32 in [0, 1]; gray is replicated, alpha dropped.

    Raises:
        TypeError / ValueError: an unsupported type, shape or dtype, an empty image, a float
            tensor outside [0, 1] or with NaN/inf (naming ``name``).

    Examples:
        >>> import torch
        >>> to_image_tensor(torch.zeros(1, 4, 5)).shape
        torch.Size([3, 4, 5])
    """
    import torch
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    if isinstance(image, Image.Image):
        if image.mode in ("1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "YCbCr", "LAB", "HSV", "PA"):
            return TF.pil_to_tensor(image.convert("RGB"))
        return torch.from_numpy(to_rgb_uint8(image, name)).permute(2, 0, 1).contiguous()
    if isinstance(image, np.ndarray):
        return torch.from_numpy(to_rgb_uint8(image, name)).permute(2, 0, 1).contiguous()
    if isinstance(image, torch.Tensor):
        t = image.as_subclass(torch.Tensor)
        if t.ndim == 2:
            t = t[None]
        if t.ndim != 3 or t.shape[0] not in _CHANNELS:
            raise ValueError(
                f"{name} must be (C, H, W) with C in {_CHANNELS}, got {tuple(image.shape)}"
            )
        if t.shape[-1] == 0 or t.shape[-2] == 0:
            raise ValueError(f"{name} must not be empty, got {tuple(image.shape)}")
        if t.dtype == torch.uint16:
            t = t.to(torch.float32) / 65535.0
        elif t.dtype != torch.uint8 and not t.is_floating_point():
            raise TypeError(f"{name} must be uint8, uint16 or float in [0, 1], got {t.dtype}")
        if t.is_floating_point():
            _check_unit_range(t, name)
        if t.shape[0] == 1:
            t = t.expand(3, -1, -1)
        elif t.shape[0] == 4:
            t = t[:3]
        return t
    raise TypeError(_type_message(image, name))


def _check_unit_range(t: torch.Tensor, name: str) -> None:
    lo, hi = float(t.min()), float(t.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or inf")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} is float with values in [{lo:g}, {hi:g}]; float images must lie in [0, 1] "
            "(use uint8 for 0..255)"
        )


def is_image_leaf(value: Any) -> bool:
    """True for a leaf of a sample that is an image: a PIL image, a tensor (but not a
    ``tv_tensors.Mask`` or ``BoundingBoxes``) or a numpy array."""
    from PIL import Image

    if isinstance(value, (Image.Image, np.ndarray)):
        return True
    if not _checks.is_tensor(value):
        return False
    from torchvision import tv_tensors

    return not isinstance(value, (tv_tensors.BoundingBoxes, tv_tensors.Mask))


def to_hwc_uint8(image: Any) -> np.ndarray:
    """An image (tensor in uint8 or [0, 1] float, or array) as uint8 ``(H, W, 3)`` for display.

    Float tensors are clamped to [0, 1] first (normalised tensors are not un-normalised).
    """
    if _checks.is_tensor(image):
        import torch

        t = image.as_subclass(torch.Tensor).detach().cpu()
        if t.is_floating_point():
            t = (t.clamp(0, 1) * 255).round().to(torch.uint8)
        return to_rgb_uint8(t.numpy().transpose(1, 2, 0) if t.ndim == 3 else t.numpy())
    return to_rgb_uint8(image)


def colorize(saliency: np.ndarray) -> np.ndarray:
    """A float map in [0, 1] as an RGB uint8 image (OpenCV's inferno colour map).

    Examples:
        >>> colorize(np.zeros((2, 3))).shape
        (2, 3, 3)
    """
    cv2 = require_cv2()

    return np.asarray(
        cv2.applyColorMap((np.clip(saliency, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[
            :, :, ::-1
        ]
    )


@dataclass
class ImageScan:
    """What :func:`scan_images` found below a folder.

    Attributes:
        files: image files, sorted by relative path.
        skipped: ``(path, reason)`` of every folder or file passed over (unreadable, a symlink
            loop, not a regular file).
    """

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def scan_images(root: str | Path) -> ImageScan:
    """Image files below ``root`` (recursive, by extension; symlinked folders are followed,
    once), and every folder or file skipped with its reason.

    Raises:
        ValueError: ``root`` is not a folder or cannot be read.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} is not a directory")
    try:
        os.scandir(root).close()
    except OSError as err:
        raise ValueError(f"cannot read image folder {str(root)!r}: {err.strerror}") from err
    scan = ImageScan()
    seen: set[str] = set()

    def unreadable(err: OSError) -> None:
        scan.skipped.append((str(err.filename), f"unreadable folder: {err.strerror}"))

    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a symlink back into a folder already walked
            scan.skipped.append((folder, "symlink loop (folder already listed)"))
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in names:
            path = Path(folder) / name
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            if path.is_file():
                scan.files.append(path)
            else:
                scan.skipped.append((str(path), "not a regular file (a broken link?)"))
    scan.files.sort(key=lambda p: p.relative_to(root).as_posix())
    return scan


def list_images(root: str | Path) -> list[Path]:
    """Image files below ``root`` (recursive, by extension), sorted by relative path; see
    :func:`scan_images` for what is skipped.

    Raises:
        ValueError: ``root`` is not a folder or cannot be read.
    """
    return scan_images(root).files


def load_image(path: str | Path) -> torch.Tensor:
    """Decode an image file to a uint8 RGB ``(3, H, W)`` tensor (PIL; EXIF rotation ignored)."""
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    with Image.open(path) as im:
        return TF.pil_to_tensor(im.convert("RGB"))


def _as_hwc(image: Any, name: str) -> np.ndarray:
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode.startswith("I;16") or image.mode in ("I", "F"):
            return _deep_pil(image)[:, :, None]
        if image.mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        arr = np.asarray(image)
        return arr[:, :, None] if arr.ndim == 2 else arr
    if _checks.is_tensor(image):
        import torch

        t = image.detach()
        if t.ndim == 2:
            t = t.unsqueeze(0)
        if t.ndim != 3 or t.shape[0] not in _CHANNELS:
            raise ValueError(
                f"{name} tensor must be (C, H, W) with C in {_CHANNELS} or (H, W), "
                f"got {tuple(image.shape)}"
            )
        if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
            t = t.float()
        if t.dtype == torch.uint16:
            t = t.to(torch.int32)  # numpy conversion of uint16 tensors is not supported everywhere
            return np.asarray(t.permute(1, 2, 0).cpu().numpy()).astype(np.uint16)
        return np.asarray(t.permute(1, 2, 0).cpu().numpy())
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


def _deep_pil(image: Any) -> np.ndarray:
    """A 16-bit, 32-bit integer or float PIL image as uint16 or float [0, 1] ``(H, W)``."""
    arr = np.asarray(image)
    if image.mode.startswith("I;16"):
        return arr.astype(np.uint16)
    if not np.isfinite(arr).all():
        raise ValueError("image contains NaN or inf")
    lo, hi = float(arr.min()), float(arr.max())
    if image.mode == "I" and lo >= 0 and hi <= 65535:
        return arr.astype(np.uint16)
    if image.mode == "F" and lo >= 0 and hi <= 1:
        return arr.astype(np.float64)
    span = hi - lo
    return (arr.astype(np.float64) - lo) / span if span > 0 else np.zeros(arr.shape)


def _to_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return np.round(arr.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
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
    raise TypeError(f"{name} must be uint8, uint16, bool or float in [0, 1], got dtype {arr.dtype}")


__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageScan",
    "colorize",
    "image_size",
    "is_image_leaf",
    "list_images",
    "load_image",
    "scan_images",
    "to_hwc_uint8",
    "to_image_tensor",
    "to_rgb_uint8",
]
