"""Saliency detectors (docs/method.md, section 1)."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from torchvision import tv_tensors

from saliencyaug.boxes import Box, best_box
from saliencyaug.saliency import (
    ModuleSaliency,
    available_detectors,
    box_saliency,
    fine_grained,
    geodesic,
    get_detector,
    rbd,
    register_detector,
    spectral_residual,
)

DETECTORS = ["spectral_residual", "fine_grained", "rbd", "geodesic"]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return cv2.resize(skimage.data.chelsea(), (96, 64), interpolation=cv2.INTER_AREA)


def _formats(rgb: np.ndarray) -> dict[str, object]:
    """The same picture in every accepted form."""
    t = torch.from_numpy(rgb).permute(2, 0, 1).contiguous()
    return {
        "numpy uint8 HWC": rgb,
        "numpy float HWC": rgb.astype(np.float32) / 255.0,
        "PIL RGB": Image.fromarray(rgb),
        "PIL RGBA": Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])),
        "tensor uint8 CHW": t,
        "tensor float CHW": t.double() / 255.0,
        "tv_tensors.Image": tv_tensors.Image(t),
        "numpy RGBA": np.dstack([rgb, np.zeros(rgb.shape[:2], np.uint8)]),
    }


@pytest.mark.parametrize("name", DETECTORS)
def test_every_input_form_gives_the_same_float32_map(name: str, photo: np.ndarray) -> None:
    det = get_detector(name)
    ref = det(photo)
    assert ref.dtype == np.float32 and ref.shape == photo.shape[:2]
    assert ref.min() >= 0.0 and ref.max() <= 1.0 and ref.max() > ref.min()
    for label, image in _formats(photo).items():
        out = det(image)
        assert out.dtype == np.float32 and out.shape == photo.shape[:2], label
        np.testing.assert_array_equal(out, ref, err_msg=label)


@pytest.mark.parametrize("name", DETECTORS)
def test_gray_inputs(name: str, photo: np.ndarray) -> None:
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    det = get_detector(name)
    ref = det(np.dstack([gray] * 3))
    for image in (gray, gray[:, :, None], Image.fromarray(gray), torch.from_numpy(gray)[None]):
        np.testing.assert_array_equal(det(image), ref)


def test_fine_grained_float_image_gives_the_uint8_map(photo: np.ndarray) -> None:
    as_float = photo.astype(np.float64) / 255.0
    np.testing.assert_array_equal(fine_grained(as_float), fine_grained(photo))
    np.testing.assert_array_equal(
        fine_grained(torch.from_numpy(as_float).permute(2, 0, 1)), fine_grained(photo)
    )
    # the bug this guards against: OpenCV itself, fed the float image, gives another map
    det = cv2.saliency.StaticSaliencyFineGrained_create()
    _, raw_float = det.computeSaliency(
        cv2.cvtColor(photo, cv2.COLOR_RGB2BGR).astype(np.float32) / 255
    )
    corr = np.corrcoef(raw_float.ravel(), fine_grained(photo).ravel())[0, 1]
    assert not np.isfinite(corr) or corr < 0.9


def test_spectral_residual_equals_opencv(photo: np.ndarray) -> None:
    det = cv2.saliency.StaticSaliencySpectralResidual_create()
    _, raw = det.computeSaliency(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    expect = (raw - raw.min()) / (raw.max() - raw.min())
    np.testing.assert_allclose(spectral_residual(photo), expect, atol=1e-6)


# ----------------------------------------------------------------------------------------
# Synthetic scenes: a real object pasted on a real texture
# ----------------------------------------------------------------------------------------


def _scene(texture: str, seed: int) -> tuple[np.ndarray, Box]:
    rng = np.random.default_rng(seed)
    bg = getattr(skimage.data, texture)()
    bg = cv2.resize(bg, (160, 120), interpolation=cv2.INTER_AREA)
    bg = np.dstack([bg] * 3) if bg.ndim == 2 else bg
    obj = cv2.resize(skimage.data.coffee()[60:300, 180:420], (56, 48), interpolation=cv2.INTER_AREA)
    y0, x0 = int(rng.integers(15, 120 - 48 - 15)), int(rng.integers(20, 160 - 56 - 20))
    img = bg.copy()
    img[y0 : y0 + 48, x0 : x0 + 56] = obj
    return img, Box(x0, y0, x0 + 56, y0 + 48)


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    return inter / (a.area + b.area - inter)


@pytest.mark.parametrize("detector", [rbd, geodesic])
@pytest.mark.parametrize(("texture", "seed"), [("grass", 0), ("gravel", 1), ("brick", 2)])
def test_superpixel_detectors_find_a_pasted_object(detector, texture: str, seed: int) -> None:
    img, box = _scene(texture, seed)
    s = detector(img)
    inside = s[box.y0 : box.y1, box.x0 : box.x1].mean()
    outside_mask = np.ones(s.shape, bool)
    outside_mask[box.y0 : box.y1, box.x0 : box.x1] = False
    assert inside > s[outside_mask].mean() + 0.2
    assert _iou(best_box(s), box) > 0.5


@pytest.mark.parametrize("name", DETECTORS)
def test_real_photos_give_informative_maps(name: str) -> None:
    # on bundled photos (cat, astronaut, rocket, coffee) the map varies and its box is a
    # proper sub-region, not the whole frame
    det = get_detector(name)
    for img in (skimage.data.chelsea(), skimage.data.astronaut(), skimage.data.rocket()):
        s = det(img)
        assert s.std() > 0.05
        b = best_box(s)
        assert 0.02 < b.area / s.size < 0.95


@pytest.mark.parametrize("detector", [rbd, geodesic])
def test_superpixel_detectors_on_flat_and_tiny_images(detector) -> None:
    flat = np.full((20, 30, 3), 128, np.uint8)
    out = detector(flat)
    assert out.shape == (20, 30) and np.isfinite(out).all()
    tiny = detector(np.random.default_rng(0).integers(0, 255, (3, 2, 3), dtype=np.uint8))
    assert tiny.shape == (3, 2) and tiny.min() >= 0 and tiny.max() <= 1


def test_max_side_limits_work_but_keeps_output_size() -> None:
    img = cv2.resize(skimage.data.astronaut(), (400, 300))
    out = rbd(img, max_side=128)
    assert out.shape == (300, 400)
    full = rbd(img, max_side=None)
    assert np.corrcoef(out.ravel(), full.ravel())[0, 1] > 0.5


# ----------------------------------------------------------------------------------------
# Errors, registry, other sources
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "exc", "match"),
    [
        (np.zeros((3, 20, 20), np.uint8), ValueError, "channels last"),
        (np.zeros((2, 2, 2, 3), np.uint8), ValueError, r"\(H, W\) or \(H, W, C\)"),
        (np.full((4, 4, 3), 2.0), ValueError, r"\[0, 1\]"),
        (np.full((4, 4, 3), np.nan), ValueError, "NaN"),
        (np.zeros((4, 4, 3), np.int64), TypeError, "uint8, uint16"),  # uint16 is scaled now
        (torch.zeros(5, 8, 8), ValueError, r"\(C, H, W\)"),
        (np.zeros((0, 4, 3), np.uint8), ValueError, "empty"),
        ("cat.jpg", TypeError, "PIL image"),
    ],
)
@pytest.mark.parametrize("name", DETECTORS)
def test_bad_images_raise_clear_errors(name: str, image: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        get_detector(name)(image)


def test_missing_opencv_contrib_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(cv2.saliency, "StaticSaliencySpectralResidual_create")
    with pytest.raises(ImportError, match="opencv-contrib-python-headless"):
        spectral_residual(np.zeros((8, 8, 3), np.uint8))


def test_motion_saliency_refuses_still_images() -> None:
    from saliencyaug.saliency import motion_saliency

    with pytest.raises(ValueError, match="video"):
        get_detector("motion")
    with pytest.raises(ValueError, match="video"):
        motion_saliency(np.zeros((8, 8, 3), np.uint8))


def test_registry() -> None:
    assert set(DETECTORS) <= set(available_detectors())
    with pytest.raises(ValueError, match="unknown detector 'nope'"):
        get_detector("nope")
    with pytest.raises(TypeError, match="name or a callable"):
        get_detector(3)  # type: ignore[arg-type]

    def ones(image: object) -> np.ndarray:
        return np.ones((2, 2), np.float32)

    register_detector("test_ones", ones)
    try:
        assert get_detector("test_ones") is ones
        with pytest.raises(ValueError, match="exists"):
            register_detector("test_ones", ones)
        register_detector("test_ones", spectral_residual, overwrite=True)
    finally:
        from saliencyaug.saliency import _REGISTRY

        _REGISTRY.pop("test_ones")
    bound = get_detector("rbd", n_segments=40)
    np.testing.assert_array_equal(
        bound(np.zeros((16, 16, 3), np.uint8)), rbd(np.zeros((16, 16, 3), np.uint8), n_segments=40)
    )


def test_box_saliency_formats_and_round_trip() -> None:
    bb = tv_tensors.BoundingBoxes([[6.0, 4.5, 8.0, 5.0]], format="CXCYWH", canvas_size=(10, 12))
    m = box_saliency(bb)
    assert m.shape == (10, 12) and m.dtype == np.float32
    assert best_box(m) == Box(2, 2, 10, 7)
    assert m.sum() == 8 * 5
    np.testing.assert_array_equal(box_saliency([2, 2, 10, 7], canvas_size=(10, 12)), m)
    two = box_saliency(np.array([[0, 0, 2, 2], [5, 5, 6, 6]]), canvas_size=(8, 8))
    assert two.sum() == 5
    with pytest.raises(ValueError, match="canvas_size"):
        box_saliency([0, 0, 1, 1])
    with pytest.raises(ValueError, match="inside the 4x4 canvas"):
        box_saliency([0, 0, 5, 1], canvas_size=(4, 4))
    with pytest.raises(ValueError, match="inside the 4x4 canvas"):
        box_saliency([2, 0, 2, 1], canvas_size=(4, 4))


def test_module_saliency_matches_a_manual_forward() -> None:
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 1, 3, padding=1).eval()
    rgb = np.random.default_rng(0).integers(0, 255, (12, 20, 3), dtype=np.uint8)
    det = ModuleSaliency(net, mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25], activation="sigmoid")
    x = (torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255 - 0.5) / 0.25
    with torch.no_grad():
        ref = torch.sigmoid(net(x))[0, 0].numpy()
    ref = (ref - ref.min()) / (ref.max() - ref.min())
    np.testing.assert_allclose(det(rgb), ref, atol=1e-5)
    assert not net.training  # mode untouched

    class SideOutputs(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x.mean(1, keepdim=True)[:, :, ::2, ::2], x

    out = ModuleSaliency(SideOutputs(), input_size=(8, 8))(rgb)
    assert out.shape == (12, 20) and out.min() == 0 and out.max() == 1

    class Bad(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    with pytest.raises(ValueError, match="module output"):
        ModuleSaliency(Bad())(rgb)
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        ModuleSaliency(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="together"):
        ModuleSaliency(net, mean=[0.5, 0.5, 0.5])


def test_import_changes_no_global_state() -> None:
    code = """
import cv2, numpy as np, torch, random
cv2.setNumThreads(3)
torch.manual_seed(123); np.random.seed(7); random.seed(5)
before = (cv2.getNumThreads(), torch.get_rng_state().clone(), np.random.get_state()[1].copy(),
          random.getstate(), torch.get_num_threads())
import saliencyaug, saliencyaug.boxes, saliencyaug.saliency
after = (cv2.getNumThreads(), torch.get_rng_state(), np.random.get_state()[1],
         random.getstate(), torch.get_num_threads())
assert before[0] == after[0], (before[0], after[0])
assert torch.equal(before[1], after[1])
assert (before[2] == after[2]).all()
assert before[3] == after[3]
assert before[4] == after[4]
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_geodesic_boundary_weight_option() -> None:
    img, box = _scene("grass", 0)
    plain = geodesic(img)
    weighted = geodesic(img, boundary_weight=True)
    assert not np.array_equal(plain, weighted)  # the option reaches the graph
    assert _iou(best_box(weighted), box) > 0.5
