"""SaliencySwap (docs/method.md, section 3) against independent references."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats
from torch.utils.data import DataLoader, default_collate
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from saliencyaug.transforms import BackgroundPool, MultiView, SaliencySwap, salient_mask_of
from saliencyaug.transforms.sampling import sample_crop_boxes, sample_paste_boxes

FG = (250, 10, 10)
BG_COLORS = [(10, 250, 10), (10, 10, 250), (240, 240, 20)]


def solid(color: tuple[int, int, int], h: int, w: int) -> torch.Tensor:
    return torch.tensor(color, dtype=torch.uint8).view(3, 1, 1).expand(3, h, w).clone()


def textured_background(seed: int, h: int = 90, w: int = 120) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 120, (3, h, w), generator=g, dtype=torch.uint8)
    img[:, h // 4 : h // 2, w // 3 : 2 * w // 3] = 200  # a salient block
    return img


def boxed(
    image: torch.Tensor, box: list[int]
) -> tuple[tv_tensors.Image, tv_tensors.BoundingBoxes, tv_tensors.Mask]:
    """A sample with its box and a Mask for SaliencySwap to fill."""
    h, w = image.shape[-2:]
    bb = tv_tensors.BoundingBoxes([box], format="XYXY", canvas_size=(h, w))
    return tv_tensors.Image(image), bb, salient_mask_of(image, bb)


# ----------------------------------------------------------------------------------------
# Pixel truth
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["replace", "paste"])
@pytest.mark.parametrize("seed", range(6))
def test_pixels_inside_mask_are_foreground_outside_are_background(mode: str, seed: int) -> None:
    backgrounds = [textured_background(s, 70 + 10 * s, 100 - 5 * s) for s in range(3)]
    swap = SaliencySwap(backgrounds, size=(48, 64), mode=mode)
    fg = solid(FG, 60, 80)
    torch.manual_seed(seed)
    image, _, mask = swap(boxed(fg, [10, 5, 70, 50]))
    assert isinstance(image, tv_tensors.Image) and isinstance(mask, tv_tensors.Mask)
    assert image.shape == (3, 48, 64) and mask.shape == (1, 48, 64) and mask.dtype == torch.uint8
    m = mask[0].bool()
    assert m.any()
    assert (image[:, m] == torch.tensor(FG).view(3, 1)).all()
    # outside: exactly one of the backgrounds, resized to the output size on its own
    outside = ~m
    candidates = [TF.resize(b, [48, 64], antialias=True) for b in backgrounds]
    assert any(torch.equal(image[:, outside], c[:, outside]) for c in candidates)


def test_replace_mode_covers_the_backgrounds_own_box() -> None:
    # backgrounds carry boxes: the mask must be that box, scaled to the output size
    bg = solid(BG_COLORS[0], 100, 200)
    pool = [
        (
            tv_tensors.Image(bg),
            tv_tensors.BoundingBoxes([[50, 20, 150, 80]], format="XYXY", canvas_size=(100, 200)),
            7,
        )
    ]
    swap = SaliencySwap(pool, size=(50, 100), mode="replace")
    _, mask = swap(solid(FG, 30, 30))
    ys, xs = torch.nonzero(mask[0], as_tuple=True)
    assert (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) == (25, 10, 75, 40)


def test_replace_mode_detects_the_background_box_without_annotations() -> None:
    bg = solid(BG_COLORS[1], 80, 80)
    bg[:, 30:50, 10:40] = 255  # the background's own object
    swap = SaliencySwap([bg], size=80, mode="replace", detector="rbd")
    image, mask = swap(solid(FG, 40, 40))
    m = mask[0].bool()
    # the foreground now covers the background's object
    assert m[30:50, 10:40].float().mean() > 0.8
    assert (image[:, m] == torch.tensor(FG).view(3, 1)).all()


# ----------------------------------------------------------------------------------------
# Geometry follows, photometry leaves the mask alone
# ----------------------------------------------------------------------------------------


@pytest.fixture
def swap() -> SaliencySwap:
    return SaliencySwap([textured_background(s) for s in range(3)], size=64, mode="paste")


@pytest.mark.parametrize(
    ("op", "reference"),
    [
        (v2.RandomHorizontalFlip(p=1.0), TF.horizontal_flip),
        (v2.RandomVerticalFlip(p=1.0), TF.vertical_flip),
        (
            v2.Resize((40, 50)),
            lambda m: TF.resize(m, [40, 50], interpolation=v2.InterpolationMode.NEAREST),
        ),
        (v2.CenterCrop(30), lambda m: TF.center_crop(m, [30, 30])),
    ],
)
def test_deterministic_geometry_moves_the_mask(
    swap: SaliencySwap,
    op: v2.Transform,
    reference: Callable[[torch.Tensor], torch.Tensor],
) -> None:
    for seed in range(4):
        torch.manual_seed(seed)
        _, mask = swap(solid(FG, 50, 50))
        torch.manual_seed(seed)
        _, moved = v2.Compose([swap, op])(solid(FG, 50, 50))
        assert torch.equal(moved, reference(mask))


def _dilate(region: torch.Tensor, radius: int = 3) -> torch.Tensor:
    padded = torch.nn.functional.pad(region[None, None].float(), [radius] * 4, value=1.0)
    return torch.nn.functional.max_pool2d(padded, 2 * radius + 1, 1)[0, 0]


@pytest.mark.parametrize(
    "op",
    [
        v2.RandomResizedCrop(48, scale=(0.3, 1.0)),
        v2.RandomRotation(30),
        v2.RandomAffine(20, (0.1, 0.1)),
    ],
)
def test_random_geometry_keeps_mask_on_foreground_pixels(
    swap: SaliencySwap, op: v2.Transform
) -> None:
    red = torch.tensor(FG).view(3, 1, 1)
    for seed in range(6):
        torch.manual_seed(seed)
        image, mask = v2.Compose([swap, op])(solid(FG, 50, 50))
        m = mask[0].bool()
        is_fg = (image == red).all(0)
        # away from edges (bilinear upscaling blends up to ~2 output pixels; the nearest-
        # neighbour mask may differ by one source pixel there), mask and foreground colour
        # agree; outside the canvas counts as unknown, hence the padding with 1
        core = _dilate(~m) == 0
        assert is_fg[core].all()
        far = _dilate(m) == 0
        assert not is_fg[far].any()


def test_photometric_transforms_leave_the_mask_bit_identical(swap: SaliencySwap) -> None:
    photometric = v2.Compose(
        [
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=1.0),
            v2.RandomGrayscale(1.0),
            v2.GaussianBlur(23, (0.1, 2.0)),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    torch.manual_seed(3)
    _, mask = swap(solid(FG, 50, 50))
    torch.manual_seed(3)
    image, after = v2.Compose([swap, photometric])(solid(FG, 50, 50))
    assert torch.equal(after, mask) and after.dtype == torch.uint8
    assert image.dtype == torch.float32


def test_the_moco_v2_pipeline_from_the_issue() -> None:
    pipeline = v2.Compose(
        [
            SaliencySwap([textured_background(1)], size=224),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            v2.RandomGrayscale(0.2),
            v2.GaussianBlur(23, (0.1, 2.0)),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    import skimage.data

    image, mask = pipeline(Image.fromarray(skimage.data.chelsea()))
    assert image.shape == (3, 224, 224) and image.dtype == torch.float32
    assert mask.shape == (1, 224, 224) and mask.any()


def test_moco_v2_view_blur_scales_with_the_image() -> None:
    from saliencyaug.transforms import moco_v2_view

    def blur_of(pipeline: v2.Compose) -> tuple[v2.RandomApply, v2.GaussianBlur]:
        (apply,) = [
            t
            for t in pipeline.transforms
            if isinstance(t, v2.RandomApply) and isinstance(t.transforms[0], v2.GaussianBlur)
        ]
        return apply, apply.transforms[0]

    apply, blur = blur_of(moco_v2_view(size=32))  # MoCo v2's, the default
    assert (apply.p, blur.kernel_size, blur.sigma) == (0.5, (23, 23), [0.1, 2.0])
    apply, blur = blur_of(moco_v2_view(size=32, blur_p=1.0, blur_sigma=(0.1, 0.3), blur_kernel=3))
    assert (apply.p, blur.kernel_size, blur.sigma) == (1.0, (3, 3), [0.1, 0.3])
    with pytest.raises(ValueError, match="blur_kernel must be odd"):
        moco_v2_view(blur_kernel=4)
    with pytest.raises(ValueError, match="blur_sigma"):
        moco_v2_view(blur_sigma=(0.0, 1.0))


# ----------------------------------------------------------------------------------------
# Sample structures and inputs
# ----------------------------------------------------------------------------------------


def test_structures_pass_foreign_leaves_and_replace_boxes() -> None:
    swap = SaliencySwap([solid(BG_COLORS[0], 40, 40)], size=32, mode="paste")
    img, bb, placeholder = boxed(solid(FG, 40, 40), [5, 5, 30, 25])
    image, boxes, mask, label, name = swap(img, bb, placeholder, 3, "a.jpg")
    assert label == 3 and name == "a.jpg" and isinstance(image, tv_tensors.Image)
    assert isinstance(boxes, tv_tensors.BoundingBoxes) and boxes.canvas_size == (32, 32)
    ys, xs = torch.nonzero(mask[0], as_tuple=True)
    assert boxes.tolist() == [[int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]]
    out = swap({"image": img, "boxes": bb, "mask": placeholder, "label": 1})
    assert set(out) == {"image", "boxes", "mask", "label"}
    assert isinstance(out["mask"], tv_tensors.Mask) and out["mask"].shape == (1, 32, 32)
    # CXCYWH boxes come back in their own format
    bb_c = TF.convert_bounding_box_format(bb, new_format=tv_tensors.BoundingBoxFormat.CXCYWH)
    _, boxes_c = swap(img, bb_c)
    assert boxes_c.format == tv_tensors.BoundingBoxFormat.CXCYWH


@pytest.mark.parametrize(
    "make",
    [
        lambda a: Image.fromarray(a),
        lambda a: Image.fromarray(a).convert("L"),
        lambda a: Image.fromarray(a).convert("RGBA"),
        lambda a: torch.from_numpy(a).permute(2, 0, 1).contiguous(),
        lambda a: torch.from_numpy(a).permute(2, 0, 1).float() / 255,
        lambda a: tv_tensors.Image(torch.from_numpy(a).permute(2, 0, 1)),
        lambda a: a,
        lambda a: a[:, :, 0],
    ],
)
def test_input_forms(make: Callable[[np.ndarray], object]) -> None:
    rgb = np.zeros((37, 53, 3), np.uint8)
    rgb[10:25, 20:40] = FG
    swap = SaliencySwap([textured_background(0, 30, 90)], size=(20, 24))
    image, mask = swap(make(rgb))
    assert image.shape == (3, 20, 24) and mask.shape == (1, 20, 24) and mask.any()
    src = make(rgb)
    expected_dtype = src.dtype if isinstance(src, torch.Tensor) else torch.uint8
    assert image.dtype == expected_dtype


def test_float_foreground_gets_float_background_in_range() -> None:
    swap = SaliencySwap([Image.new("RGB", (50, 40), (255, 255, 255))], size=16, mode="paste")
    image, mask = swap(torch.zeros(3, 30, 30))
    assert image.dtype == torch.float32
    assert torch.allclose(image[:, ~mask[0].bool()], torch.ones(1))  # 255 -> 1.0, not 255.0
    assert (image[:, mask[0].bool()] == 0).all()


@pytest.mark.parametrize("box", [[5, 5, 6, 6], [0, 0, 40, 30], [39, 0, 40, 30]])
def test_degenerate_boxes(box: list[int]) -> None:
    swap = SaliencySwap([textured_background(0)], size=24, mode="replace")
    image, _, mask = swap(*boxed(solid(FG, 30, 40), box))
    assert mask.any() and (image[:, mask[0].bool()] == torch.tensor(FG).view(3, 1)).all()


def test_tiny_images_and_constant_saliency() -> None:
    swap = SaliencySwap([solid(BG_COLORS[2], 2, 3)], size=4)
    image, mask = swap(solid(FG, 1, 2))  # constant map: the whole image is the box
    assert image.shape == (3, 4, 4) and mask.any()
    assert (image[:, mask[0].bool()] == torch.tensor(FG).view(3, 1)).all()


def test_background_pool_sources(tmp_path: Path) -> None:
    for i, color in enumerate(BG_COLORS):
        Image.new("RGB", (30 + i, 20), color).save(tmp_path / f"bg{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    pool = BackgroundPool(tmp_path)
    assert len(pool) == 3
    swap = SaliencySwap(str(tmp_path), size=16, mode="paste")
    image, mask = swap(solid(FG, 20, 20))
    outside = image[:, ~mask[0].bool()]
    assert any((outside == torch.tensor(c).view(3, 1)).all() for c in BG_COLORS)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"scale": (0.0, 1.0)}, ValueError, "scale"),
        ({"scale": (0.5, 1.5)}, ValueError, "scale"),
        ({"scale": (0.9, 0.5)}, ValueError, "scale"),
        ({"scale": 0.5}, TypeError, "scale"),
        ({"paste_scale": (0.2, 1.2)}, ValueError, "paste_scale"),
        ({"ratio": (0.0, 1.0)}, ValueError, "ratio"),
        ({"p": 1.5}, ValueError, "p must be"),
        ({"mode": "mix"}, ValueError, "mode"),
        ({"size": 0}, ValueError, "size"),
        ({"size": "big"}, TypeError, "size"),
        ({"detector": "nope"}, ValueError, "unknown detector"),
        ({"box_search": "excess"}, TypeError, "box_search"),
    ],
)
def test_bad_arguments(kwargs: dict, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        SaliencySwap([solid(FG, 4, 4)], **kwargs)


def test_bad_pools_and_samples() -> None:
    with pytest.raises(ValueError, match="empty"):
        SaliencySwap([])
    with pytest.raises(TypeError, match="backgrounds must be"):
        SaliencySwap(42)
    swap = SaliencySwap([solid(FG, 4, 4)], size=4)
    with pytest.raises(ValueError, match="exactly one image"):
        swap(tv_tensors.Image(solid(FG, 4, 4)), tv_tensors.Image(solid(FG, 4, 4)))
    mask = tv_tensors.Mask(torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="at most one Mask"):
        swap(tv_tensors.Image(solid(FG, 4, 4)), mask, mask)


# ----------------------------------------------------------------------------------------
# Randomness, workers, pickling
# ----------------------------------------------------------------------------------------


def test_seed_reproduces_and_draws_differ(swap: SaliencySwap) -> None:
    fg = solid(FG, 50, 50)
    torch.manual_seed(11)
    a = swap(fg)
    torch.manual_seed(11)
    b = swap(fg)
    c = swap(fg)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


_VIEWS_MODULE = """
import torch
from torch.utils.data import Dataset


class Views(Dataset):
    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return self.transform(torch.tensor((250, 10, 10), dtype=torch.uint8)
                              .view(3, 1, 1).expand(3, 40, 40).clone())
"""


@pytest.fixture
def views_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type:
    # a module outside tests/ (a stray top-level ``tests`` package in site-packages would
    # shadow ours in spawned workers); workers inherit sys.path
    (tmp_path / "views_dataset_module.py").write_text(_VIEWS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    return importlib.import_module("views_dataset_module").Views


@pytest.mark.parametrize("ctx", ["fork", "spawn"])
def test_dataloader_workers_and_epochs_differ(
    swap: SaliencySwap, ctx: str, views_dataset: type
) -> None:
    loader = DataLoader(
        views_dataset(MultiView(swap)), batch_size=2, num_workers=2, multiprocessing_context=ctx
    )
    torch.manual_seed(0)
    epoch1 = [views[0][1] for views in loader]  # first view's masks, one batch per worker
    epoch2 = [views[0][1] for views in loader]
    assert epoch1[0].shape == (2, 1, 64, 64)
    assert not torch.equal(epoch1[0], epoch1[1])  # the two workers differ
    assert not torch.equal(epoch1[0], epoch2[0])  # so do epochs


def test_multiview_independent_and_collates(swap: SaliencySwap) -> None:
    views = MultiView(swap, n=2)(solid(FG, 40, 40))
    assert len(views) == 2 and not torch.equal(views[0][1], views[1][1])
    batch = default_collate([views, MultiView(swap)(solid(FG, 40, 40))])
    assert (
        len(batch) == 2
        and batch[0][0].shape == (2, 3, 64, 64)
        and batch[0][1].shape == (2, 1, 64, 64)
    )
    with pytest.raises(ValueError, match="positive"):
        MultiView(swap, n=0)


def test_pickles(swap: SaliencySwap) -> None:
    clone = pickle.loads(pickle.dumps(v2.Compose([swap, v2.RandomHorizontalFlip()])))
    torch.manual_seed(5)
    a = clone(solid(FG, 50, 50))
    torch.manual_seed(5)
    b = v2.Compose([swap, v2.RandomHorizontalFlip()])(solid(FG, 50, 50))
    assert torch.equal(a[1], b[1])


def test_fallback_probability_gives_random_resized_crops() -> None:
    swap = SaliencySwap([solid(BG_COLORS[0], 30, 30)], size=16, p=0.0)
    torch.manual_seed(0)
    image, _, mask = swap(*boxed(solid(FG, 40, 40), [0, 0, 40, 40]))
    assert (image == torch.tensor(FG).view(3, 1, 1)).all()  # only the foreground image is used
    assert mask.all()  # the box covers the whole image, so the crop is inside it
    counts = []
    swap_half = SaliencySwap([solid(BG_COLORS[0], 30, 30)], size=16, p=0.5, mode="paste")
    torch.manual_seed(1)
    for _ in range(400):
        image, _ = swap_half(solid(FG, 40, 40))
        counts.append(bool((image == torch.tensor(BG_COLORS[0]).view(3, 1, 1)).all(0).any()))
    assert abs(np.mean(counts) - 0.5) < 4 * np.sqrt(0.25 / 400)


# ----------------------------------------------------------------------------------------
# Statistics: the sampled fractions follow their uniform ranges
# ----------------------------------------------------------------------------------------


RATIO = (3 / 4, 4 / 3)


def _area(b: torch.Tensor) -> float:
    return float((b[2] - b[0]) * (b[3] - b[1]))


def test_crop_area_fraction_is_uniform() -> None:
    # one sample at a time, as SaliencySwap draws
    torch.manual_seed(1234)
    box = torch.tensor([[0, 0, 300, 200]])
    fractions = [_area(sample_crop_boxes(box, (0.5, 1.0), RATIO)[0]) / 60000 for _ in range(3000)]
    ks = stats.kstest(fractions, stats.uniform(loc=0.5, scale=0.5).cdf)
    assert ks.pvalue > 0.01, ks
    crops = [sample_crop_boxes(box, (0.2, 0.4), (0.5, 2.0))[0].tolist() for _ in range(500)]
    assert all(0 <= x0 < x1 <= 300 and 0 <= y0 < y1 <= 200 for x0, y0, x1, y1 in crops)


def test_paste_area_fraction_is_uniform() -> None:
    torch.manual_seed(99)
    patch = torch.tensor([[50, 50]])
    fractions = [
        _area(sample_paste_boxes(patch, (256, 256), (0.3, 1.0))[0]) / 256**2 for _ in range(3000)
    ]
    ks = stats.kstest(fractions, stats.uniform(loc=0.3, scale=0.7).cdf)
    assert ks.pvalue > 0.01, ks


def test_crop_aspect_ratio_is_log_uniform_when_it_fits() -> None:
    torch.manual_seed(7)
    box = torch.tensor([[0, 0, 1000, 1000]])
    logs = []
    for _ in range(2000):
        x0, y0, x1, y1 = sample_crop_boxes(box, (0.05, 0.1), RATIO)[0].tolist()
        logs.append(np.log((x1 - x0) / (y1 - y0)))
    ks = stats.kstest(
        logs, stats.uniform(loc=np.log(3 / 4), scale=np.log(4 / 3) - np.log(3 / 4)).cdf
    )
    assert ks.pvalue > 0.01, ks


# -- detection on the fly: background boxes once, the foreground at a working resolution ------


class CountingDetector:
    """The default detector, counting its calls (picklable, for DataLoader workers)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: object) -> np.ndarray:
        from saliencyaug.saliency import get_detector

        self.calls += 1
        return get_detector("geodesic")(image)


def _direct_background_box(background: torch.Tensor, swap: SaliencySwap) -> object:
    """The box a fresh detection gives: resize to the output, then to the working side,
    detect, search and scale back, written out step by step."""
    from saliencyaug.boxes import scale_box
    from saliencyaug.saliency import get_detector

    canvas = TF.resize(background, list(swap.size), antialias=True)
    h, w = canvas.shape[-2:]
    if max(h, w) <= 160:  # already at or below the working side
        return swap.box_search(get_detector("geodesic")(canvas))
    f = 160 / max(h, w)
    small = (round(h * f), round(w * f))
    working = TF.resize(canvas, list(small), antialias=True)
    return scale_box(swap.box_search(get_detector("geodesic")(working)), small, (h, w))


def test_background_boxes_are_detected_once_and_equal_a_fresh_detection() -> None:
    pool = [textured_background(s, 200, 260) for s in range(3)]
    counting = CountingDetector()
    swap = SaliencySwap(pool, size=224, detector=counting)
    fg, fg_box = (
        solid(FG, 120, 160),
        tv_tensors.BoundingBoxes([[20, 20, 120, 100]], format="XYXY", canvas_size=(120, 160)),
    )  # the foreground has its box: every detection is a background's
    torch.manual_seed(0)
    drawn = {swap.sample_params(fg, fg_box).background_index for _ in range(30)}
    assert drawn == {0, 1, 2} and counting.calls == 3  # once per background, not per draw
    for index in drawn:
        assert swap.background_boxes[index] == _direct_background_box(pool[index], swap)
    assert swap.prepare_backgrounds(progress=False) == 0  # nothing left to detect


class _BackgroundBoxes(torch.utils.data.Dataset):
    def __init__(self, swap: SaliencySwap, n: int) -> None:
        self.swap, self.n = swap, n

    def __len__(self) -> int:
        return 2 * self.n

    def __getitem__(self, k: int) -> torch.Tensor:
        return torch.tensor(list(self.swap.background_box(k % self.n)))


def test_a_pickled_transform_in_two_workers_finds_the_same_background_boxes() -> None:
    pool = [textured_background(s, 150, 190) for s in range(3)]
    swap = SaliencySwap(pool, size=96)
    direct = [list(_direct_background_box(bg, swap)) for bg in pool]
    # 3 backgrounds over 6 items and 2 workers: each background is detected in each worker
    loader = DataLoader(_BackgroundBoxes(swap, 3), batch_size=1, num_workers=2)
    found = [batch[0].tolist() for batch in loader]
    assert found == direct + direct
    assert not swap.background_boxes  # the workers' boxes stay theirs


def test_working_resolution_keeps_the_default_detectors_box_quality(
    composite_assets: Path,
) -> None:
    # measured on 500 composites: mean IoU with the exact box 0.725 at 160 px against 0.724
    # at full resolution (384 px images), 0.725 against 0.728 (256 px); here a fixed set
    from saliencyaug.bench.box_quality import box_iou
    from saliencyaug.data import CompositeEmoji

    data = CompositeEmoji(composite_assets, "test", 48, 320, seed=7)
    full = SaliencySwap([torch.zeros(3, 8, 8, dtype=torch.uint8)], detect_size=None)
    working = SaliencySwap([torch.zeros(3, 8, 8, dtype=torch.uint8)])
    assert working.detect_size == 160
    scores: dict[str, list[float]] = {"full": [], "working": []}
    for i in range(len(data)):
        image, mask, _ = data.render(i)
        ys, xs = np.nonzero(mask)
        truth = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        scores["full"].append(box_iou(full._default_box(tensor), truth))
        scores["working"].append(box_iou(working._default_box(tensor), truth))
    assert np.mean(scores["working"]) >= np.mean(scores["full"]) - 0.015, {
        k: float(np.mean(v)) for k, v in scores.items()
    }
