"""The torchvision-style contract of every transform: kernels with known parameters, the
sampler, and the classes (structure, foreign leaves, pickling, replay), plus the per-sample and
batched swaps drawing from one distribution."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from scipy import stats
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from saliencyaug.boxes import Box
from saliencyaug.transforms import (
    BatchSaliencySwap,
    MultiView,
    RandomResizedCropWithMask,
    SaliencySwap,
    ViewParams,
    moco_v2_view,
    salient_mask_of,
)
from saliencyaug.transforms import functional as F
from saliencyaug.transforms.sampling import sample_derangement

FG = torch.tensor([250, 10, 10], dtype=torch.uint8)
COLORS = torch.tensor(
    [[250, 0, 0], [0, 250, 0], [0, 0, 250], [200, 200, 0], [0, 90, 90], [90, 0, 90]],
    dtype=torch.uint8,
)


def solid(color: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return color.view(3, 1, 1).expand(3, h, w).clone()


def sample(h: int = 40, w: int = 50, box: tuple[int, int, int, int] = (5, 4, 40, 30)) -> tuple:
    image = tv_tensors.Image(solid(FG, h, w))
    boxes = tv_tensors.BoundingBoxes([list(box)], format="XYXY", canvas_size=(h, w))
    return image, boxes, salient_mask_of(image, boxes)


def make_swap(mode: str = "paste", **kw: object) -> SaliencySwap:
    pool = [solid(COLORS[1], 30, 45), solid(COLORS[2], 50, 40)]
    return SaliencySwap(pool, size=(24, 32), mode=mode, **kw)  # type: ignore[arg-type]


TRANSFORMS = {
    "swap-replace": lambda: make_swap("replace"),
    "swap-paste": lambda: make_swap("paste"),
    "swap-fallback": lambda: make_swap("paste", p=0.0),
    "rrc-with-mask": lambda: RandomResizedCropWithMask((24, 32)),
}


# ----------------------------------------------------------------------------------------
# Kernels: known parameters, independent references
# ----------------------------------------------------------------------------------------


def test_swap_kernel_matches_a_crop_resize_and_copy() -> None:
    g = torch.Generator().manual_seed(0)
    fg = torch.randint(0, 255, (3, 40, 50), generator=g, dtype=torch.uint8)
    bg = torch.randint(0, 255, (3, 24, 32), generator=g, dtype=torch.uint8)
    crop, target = Box(3, 5, 23, 30), Box(4, 2, 20, 22)
    image, mask = F.saliency_swap(fg, crop, bg, target)
    expected = bg.clone()
    expected[:, 2:22, 4:20] = TF.resize(fg[:, 5:30, 3:23], [20, 16], antialias=True)
    assert torch.equal(image, expected)
    assert mask.dtype == torch.uint8 and mask.shape == (1, 24, 32)
    assert int(mask.sum()) == target.area and mask[0, 2:22, 4:20].all()


def test_resized_crop_kernel_moves_the_box_mask_like_torchvision() -> None:
    image = torch.randint(0, 255, (3, 40, 50), dtype=torch.uint8)
    crop, box = Box(10, 8, 40, 38), Box(0, 0, 25, 20)
    out, mask = F.resized_crop_with_box_mask(image, box, crop, (15, 15))
    assert torch.equal(out, TF.resized_crop(image, 8, 10, 30, 30, [15, 15], antialias=True))
    sample_mask = tv_tensors.Mask(torch.zeros(1, 40, 50, dtype=torch.uint8))
    sample_mask[:, 0:20, 0:25] = 1
    reference = TF.resized_crop(sample_mask, 8, 10, 30, 30, [15, 15])  # nearest for masks
    assert torch.equal(mask, reference.as_subclass(torch.Tensor))


def test_batch_kernel_equals_a_per_sample_loop() -> None:
    # replace the batched bilinear resampling by an independent per-sample construction:
    # with a crop and target of equal size the resampling is the identity, so each output must
    # be the background with the crop copied in, exactly
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 255, (4, 3, 20, 24), generator=g, dtype=torch.uint8)
    background = torch.tensor([2, 0, 3, 1])
    crop = torch.tensor([[1, 2, 9, 12], [0, 0, 5, 5], [4, 4, 14, 10], [10, 3, 24, 20]])
    target = torch.tensor([[3, 1, 11, 11], [19, 15, 24, 20], [0, 14, 10, 20], [0, 0, 14, 17]])
    swapped = torch.tensor([True, True, False, True])
    boxes = torch.tensor([[0, 0, 20, 20]] * 4)
    out, masks = F.batch_saliency_swap(images, background, crop, target, swapped, boxes, (20, 24))
    for i in range(4):
        if not swapped[i]:
            assert torch.equal(out[i], images[i])
            assert masks[i, 0, :, :20].all() and not masks[i, 0, :, 20:].any()
            continue
        cx0, cy0, cx1, cy1 = crop[i].tolist()
        tx0, ty0, tx1, ty1 = target[i].tolist()
        expected = images[background[i]].clone()
        expected[:, ty0:ty1, tx0:tx1] = images[i][:, cy0:cy1, cx0:cx1]
        assert torch.equal(out[i], expected), i
        assert int(masks[i].sum()) == (tx1 - tx0) * (ty1 - ty0)


def test_derangement_moves_everyone_and_covers_all() -> None:
    torch.manual_seed(0)
    for n in (2, 3, 7):
        d = sample_derangement(n)
        assert sorted(d.tolist()) == list(range(n)) and bool((d != torch.arange(n)).all())
    assert sample_derangement(1).tolist() == [0]


# ----------------------------------------------------------------------------------------
# Classes: structure, foreign leaves, pickling, replay
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_structure_is_kept_and_the_mask_is_filled(name: str) -> None:
    t = TRANSFORMS[name]()
    image, boxes, mask = sample()
    other = torch.arange(6)
    torch.manual_seed(0)
    out = t({"img": image, "boxes": boxes, "mask": mask, "label": 7, "name": "a.jpg", "t": other})
    assert set(out) == {"img", "boxes", "mask", "label", "name", "t"}
    assert out["label"] == 7 and out["name"] == "a.jpg" and out["t"] is other  # passed through
    assert isinstance(out["img"], tv_tensors.Image) and out["img"].shape == (3, 24, 32)
    assert isinstance(out["mask"], tv_tensors.Mask) and out["mask"].shape == (1, 24, 32)
    assert out["boxes"].canvas_size == (24, 32)
    box = out["boxes"].tolist()
    ys, xs = torch.nonzero(out["mask"][0], as_tuple=True)
    assert box == (
        []
        if len(ys) == 0
        else [[int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]]
    )
    # lists and tuples keep their type and order
    torch.manual_seed(0)
    as_list = t([image, boxes, mask, 7])
    assert isinstance(as_list, list) and len(as_list) == 4 and as_list[3] == 7
    assert torch.equal(as_list[2], out["mask"])  # same draws, same view
    # a bare image is the documented exception: (image, mask)
    bare = t(image)
    assert isinstance(bare, tuple) and isinstance(bare[1], tv_tensors.Mask)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_replay_gives_the_identical_view(name: str) -> None:
    t = TRANSFORMS[name]()
    image, boxes, mask = sample()
    torch.manual_seed(3)
    params = t.sample_params(image, boxes, mask)
    assert isinstance(params, ViewParams)
    torch.manual_seed(3)
    drawn = t(image, boxes, mask)
    for _ in range(2):
        replayed = t.replay(params, image, boxes, mask)
        assert all(torch.equal(a, b) for a, b in zip(drawn, replayed, strict=True))
    # replay on another image of the same size: the same geometry on other pixels
    other = tv_tensors.Image(torch.randint(0, 255, (3, 40, 50), dtype=torch.uint8))
    _, _, mask2 = t.replay(params, other, boxes, mask)
    assert torch.equal(mask2, drawn[2])
    with pytest.raises(TypeError, match="ViewParams"):
        t.replay({"view": params}, image)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_pickles_and_the_clone_draws_the_same(name: str) -> None:
    t = v2.Compose([TRANSFORMS[name](), v2.RandomHorizontalFlip()])
    clone = pickle.loads(pickle.dumps(t))
    image, boxes, mask = sample()
    torch.manual_seed(5)
    a = t(image, boxes, mask)
    torch.manual_seed(5)
    b = clone(image, boxes, mask)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_batch_swap_and_multiview_pickle() -> None:
    for obj in (BatchSaliencySwap(mode="paste", p=0.5), MultiView(make_swap(), n=3)):
        clone = pickle.loads(pickle.dumps(obj))
        assert repr(clone) == repr(obj) or isinstance(clone, BatchSaliencySwap)
    images, boxes = torch.rand(3, 3, 16, 16), torch.tensor([[2, 2, 14, 14]] * 3)
    swap = BatchSaliencySwap(mode="paste")
    torch.manual_seed(2)
    a = swap(images, boxes).images
    torch.manual_seed(2)
    b = pickle.loads(pickle.dumps(swap))(images, boxes).images
    assert torch.equal(a, b)


def test_salient_box_comes_from_boxes_then_mask_then_the_detector() -> None:
    t = RandomResizedCropWithMask(20, scale=(1.0, 1.0), ratio=(1.25, 1.25))
    image = tv_tensors.Image(solid(FG, 40, 50))
    mask = tv_tensors.Mask(torch.zeros(1, 40, 50, dtype=torch.uint8))
    mask[:, 10:20, 5:15] = 1
    p_mask = t.sample_params(image, mask)
    assert p_mask.source_box == Box(5, 10, 15, 20)
    boxes = tv_tensors.BoundingBoxes([[0, 0, 8, 8]], format="XYXY", canvas_size=(40, 50))
    assert t.sample_params(image, boxes, mask).source_box == Box(0, 0, 8, 8)
    assert t.sample_params(image).source_box == Box(0, 0, 50, 40)  # whole image
    empty = tv_tensors.BoundingBoxes(torch.zeros(0, 4), format="XYXY", canvas_size=(40, 50))
    detected = make_swap().sample_params(image, empty)  # empty boxes: the detector decides
    assert detected.source_box is not None


def test_moco_v2_preset_keeps_the_mask_and_normalises() -> None:
    image, boxes, mask = sample()
    out_image, out_boxes, out_mask = moco_v2_view(make_swap())(image, boxes, mask)
    assert out_image.dtype == torch.float32 and out_mask.dtype == torch.uint8
    assert out_mask.shape == (1, 24, 32) and out_boxes.canvas_size == (24, 32)


# ----------------------------------------------------------------------------------------
# Masks mark exactly the pixels that changed, for every p (paste mode)
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_batch_paste_masks_are_the_changed_pixels_for_every_p(p: float) -> None:
    torch.manual_seed(int(p * 10))
    b, h, w = 6, 30, 40
    images = COLORS[:b].view(b, 3, 1, 1).expand(b, 3, h, w).clone()
    boxes = torch.tensor([[2 + i, 3, 30 + i, 27 - i] for i in range(b)])
    swap = BatchSaliencySwap(mode="paste", p=p)
    for _ in range(5):
        out, masks, params = swap(images, boxes)
        for i in range(b):
            m = masks[i, 0].bool()
            changed = (out[i] != images[params.background[i]]).any(0)
            if params.swapped[i]:
                assert torch.equal(m, changed), i
            else:  # nothing changed: the image itself, and its own box as the mask
                assert torch.equal(out[i], images[i])
                x0, y0, x1, y1 = boxes[i].tolist()
                own = torch.zeros(h, w, dtype=torch.bool)
                own[y0:y1, x0:x1] = True
                assert torch.equal(m, own), i
        if p == 0.0:
            assert not params.swapped.any()
        if p == 1.0:
            assert params.swapped.all()


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_per_sample_paste_masks_are_the_changed_pixels_for_every_p(p: float) -> None:
    swap = SaliencySwap([solid(COLORS[1], 24, 32)], size=(24, 32), mode="paste", p=p)
    background = solid(COLORS[1], 24, 32)
    torch.manual_seed(1)
    kinds = set()
    for _ in range(20):
        params = swap.sample_params(*sample())
        image, _, mask = swap.replay(params, *sample())
        m = mask[0].bool()
        if params.swapped:
            kinds.add("swap")
            assert torch.equal(m, (image != background).any(0))
        else:  # the fallback: a crop of the foreground image, mask = its box inside the crop
            kinds.add("fallback")
            assert torch.equal(mask, params.mask())
            assert (image == FG.view(3, 1, 1)).all()
    assert kinds == {"swap"} if p == 1.0 else kinds == {"fallback"} if p == 0.0 else len(kinds) == 2


# ----------------------------------------------------------------------------------------
# Two views of one batch share their foreground objects
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["replace", "paste"])
def test_two_view_batch_pairs_share_their_foreground(mode: str) -> None:
    torch.manual_seed(4)
    b, h, w = 5, 32, 32
    images = COLORS[:b].view(b, 3, 1, 1).expand(b, 3, h, w).clone()
    boxes = torch.tensor([[4, 4, 28, 28]] * b)
    first, second = BatchSaliencySwap(mode=mode).views(images, boxes)
    backgrounds_differ = False
    for i in range(b):
        for view in (first, second):
            m = view.masks[i, 0].bool()
            assert (view.images[i][:, m] == COLORS[i].view(3, 1)).all()  # image i's object
            assert not (view.images[i][:, ~m] == COLORS[i].view(3, 1)).all(0).any()
        backgrounds_differ |= bool(first.params.background[i] != second.params.background[i])
    assert backgrounds_differ  # independent backgrounds ...
    assert not torch.equal(first.params.crop, second.params.crop)  # ... and crops


# ----------------------------------------------------------------------------------------
# One sampler: SaliencySwap (N = 1) and BatchSaliencySwap (N = B) draw alike
# ----------------------------------------------------------------------------------------


def _features(crop: np.ndarray, target: np.ndarray, box: np.ndarray) -> dict[str, np.ndarray]:
    bw, bh = box[2] - box[0], box[3] - box[1]
    cw, ch = crop[:, 2] - crop[:, 0], crop[:, 3] - crop[:, 1]
    return {
        "crop area fraction": cw * ch / (bw * bh),
        "crop log aspect": np.log(cw / ch),
        "crop left offset": (crop[:, 0] - box[0]) / np.maximum(bw - cw, 1),
        "target area": (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1]),
        "target x0": target[:, 0],
    }


def test_per_sample_and_batch_samplers_draw_from_the_same_distribution() -> None:
    # Two-sample Kolmogorov-Smirnov tests on five statistics of 1,500 draws each, each at
    # alpha = 0.001: if the two samplers agree, the chance of a false alarm is at most
    # 5 x 0.001 = 0.5 % (Bonferroni); the seeds are fixed, so the outcome is reproducible.
    n, size = 1500, (40, 60)
    box = np.array([6, 4, 54, 36])
    pool = [solid(COLORS[1], *size)]
    swap = SaliencySwap(pool, size=size, mode="paste", scale=(0.3, 1.0))
    image = tv_tensors.Image(solid(FG, *size))
    boxes = tv_tensors.BoundingBoxes([box.tolist()], format="XYXY", canvas_size=size)
    torch.manual_seed(11)
    single = [swap.sample_params(image, boxes) for _ in range(n)]
    single_crop = np.array([list(v.crop) for v in single])
    single_target = np.array([list(v.target) for v in single])
    torch.manual_seed(12)
    batch = BatchSaliencySwap(mode="paste", scale=(0.3, 1.0)).make_params(
        torch.tensor([box.tolist()] * n), size
    )
    a = _features(single_crop, single_target, box)
    b = _features(batch.crop.numpy(), batch.target.numpy(), box)
    for key in a:
        pvalue = stats.ks_2samp(a[key], b[key]).pvalue
        assert pvalue > 0.001, (key, pvalue)


def test_per_box_labels_follow_the_box_the_view_keeps() -> None:
    # the view keeps one box, the largest input box: its label is kept with it, so that
    # SanitizeBoundingBoxes after the swap sees one label per box
    image = tv_tensors.Image(solid(FG, 40, 50))
    boxes = tv_tensors.BoundingBoxes(
        [[0, 0, 4, 4], [5, 5, 40, 30], [1, 1, 9, 9]], format="XYXY", canvas_size=(40, 50)
    )
    target = {"boxes": boxes, "labels": torch.tensor([3, 7, 5]), "names": ["a", "b", "c"]}
    for t in (make_swap(), RandomResizedCropWithMask(20)):
        _, out_target = v2.Compose([t, v2.SanitizeBoundingBoxes()])(image, target)
        assert len(out_target["boxes"]) == len(out_target["labels"])
        assert out_target["labels"].tolist() in ([7], [])  # [] when the view lost the box
        assert out_target["names"] == ["a", "b", "c"]  # only "labels" is per-box by name
    sample = {"image": image, "boxes": boxes, "LABELS": [3, 7, 5]}  # any case, a list
    assert make_swap()(sample)["LABELS"] == [7]


def test_a_mask_outside_the_mask_rule_is_refused() -> None:
    t = RandomResizedCropWithMask(20)
    image = tv_tensors.Image(solid(FG, 40, 50))
    png = tv_tensors.Mask(torch.zeros(1, 40, 50, dtype=torch.uint8))
    png[:, 10:20, 5:15] = 255  # 0/255, as PNG files come: the object is the non-zero part
    assert t.sample_params(image, png).source_box == Box(5, 10, 15, 20)
    soft = tv_tensors.Mask(torch.full((1, 40, 50), 0.3))  # a saliency map, not a mask
    with pytest.raises(ValueError, match="the sample's Mask must be a binary mask"):
        t.sample_params(image, soft)
