"""Image conversion at the boundary: every accepted form, deep images scaled (never clipped),
bad values refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from saliencyaug import best_box
from saliencyaug.image import to_image_tensor, to_rgb_uint8
from saliencyaug.saliency import get_detector


def scene8() -> np.ndarray:
    """A gray 8-bit scene: a textured background and a brighter object."""
    rng = np.random.default_rng(3)
    img = (40 + 30 * rng.random((80, 100))).astype(np.float64)
    img[16:54, 24:76] = 200 + 20 * rng.random((38, 52))
    return np.round(img).astype(np.uint8)


def as_16bit(arr8: np.ndarray) -> np.ndarray:
    return (arr8.astype(np.uint32) * 257).astype(np.uint16)  # 255 -> 65535 exactly


@pytest.mark.parametrize(
    "make",
    [
        lambda a: Image.fromarray(as_16bit(a)),  # PIL "I;16"
        lambda a: Image.fromarray(as_16bit(a).astype(np.int32)),  # PIL "I"
        lambda a: Image.fromarray(a.astype(np.float32) / 255),  # PIL "F" in [0, 1]
        lambda a: as_16bit(a),  # numpy uint16
        lambda a: torch.from_numpy(as_16bit(a).astype(np.int32)).to(torch.uint16),
    ],
    ids=["pil-I16", "pil-I", "pil-F", "numpy-uint16", "torch-uint16"],
)
def test_deep_images_keep_their_range_into_the_detectors(make: object) -> None:
    arr8 = scene8()
    deep = make(arr8)  # type: ignore[operator]
    converted = to_rgb_uint8(deep)
    np.testing.assert_array_equal(converted[:, :, 0], arr8)  # scaled back exactly, not clipped
    for name in ("spectral_residual", "rbd"):
        detect = get_detector(name)
        assert best_box(detect(deep)) == best_box(detect(arr8)), name
    tensor = to_image_tensor(deep)
    assert tensor.shape == (3, 80, 100)
    top = float(arr8.max())
    assert float(tensor.float().max()) == pytest.approx(
        top / 255 if tensor.is_floating_point() else top
    )


def test_out_of_range_float_images_are_min_max_scaled_only_for_pil_float_mode() -> None:
    arr = scene8().astype(np.float32) * 3  # a PIL float image in 0..765
    np.testing.assert_array_equal(
        to_rgb_uint8(Image.fromarray(arr))[:, :, 0].argmax(), arr.argmax()
    )
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\]"):
        to_rgb_uint8(arr)  # a numpy float array out of range is an error


@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        (torch.full((3, 8, 8), 200.0), ValueError, r"in \[0, 1\]"),
        (torch.full((3, 8, 8), float("nan")), ValueError, "NaN"),
        (torch.zeros(3, 0, 8), ValueError, "empty"),
        (torch.zeros(2, 8, 8), ValueError, r"\(C, H, W\)"),
        (torch.zeros(3, 8, 8, dtype=torch.int64), TypeError, "uint8, uint16 or float"),
        (np.zeros((8, 8, 3), np.int64), TypeError, "dtype int64"),
        ("image.png", TypeError, "PIL image"),
    ],
)
def test_bad_images_are_refused_by_name(bad: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        to_image_tensor(bad, "foreground")
    with pytest.raises(exc):
        to_rgb_uint8(bad)
