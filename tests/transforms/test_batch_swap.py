"""BatchSaliencySwap: swaps within a batch, on the batch's device."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from saliencyaug.transforms.batch_swap import BatchSaliencySwap, BatchSwapParams

COLORS = torch.tensor(
    [[250, 0, 0], [0, 250, 0], [0, 0, 250], [200, 200, 0], [0, 90, 90]], dtype=torch.uint8
)


def colored_batch(b: int = 5, h: int = 40, w: int = 48) -> torch.Tensor:
    return COLORS[:b].view(b, 3, 1, 1).expand(b, 3, h, w).clone()


def boxes_for(b: int) -> torch.Tensor:
    return torch.tensor([[2 + i, 3, 30 + i, 35 - i] for i in range(b)])


@pytest.mark.parametrize("mode", ["replace", "paste"])
def test_pixel_truth_and_derangement(mode: str) -> None:
    torch.manual_seed(0)
    images = colored_batch()
    out, masks, params = BatchSaliencySwap(mode=mode)(images, boxes_for(5))
    assert (
        out.dtype == torch.uint8 and masks.shape == (5, 1, 40, 48) and masks.dtype == torch.float32
    )
    assert (params.background != torch.arange(5)).all()  # nobody keeps their own background
    assert sorted(params.background.tolist()) == list(range(5))
    for i in range(5):
        m = masks[i, 0].bool()
        assert m.any()
        assert (out[i][:, m] == COLORS[i].view(3, 1)).all()  # output i shows image i's object
        assert (out[i][:, ~m] == COLORS[params.background[i]].view(3, 1)).all()
        if mode == "replace":  # ... on the background image's own box
            assert params.target[i].tolist() == boxes_for(5)[params.background[i]].tolist()
        x0, y0, x1, y1 = params.target[i].tolist()
        assert m[y0:y1, x0:x1].all() and int(m.sum()) == (x1 - x0) * (y1 - y0)


def test_affine_mapping_is_exact_on_a_ramp() -> None:
    # bilinear sampling of a linear ramp is exact, so each output pixel must equal the source
    # coordinate it maps to: crop.x0 + (x + 0.5 - target.x0) * s - 0.5
    torch.manual_seed(3)
    h, w = 30, 64
    ramp_x = torch.arange(w, dtype=torch.float64).view(1, 1, 1, w).expand(2, 1, h, w).clone()
    ramp_y = torch.arange(h, dtype=torch.float64).view(1, 1, h, 1).expand(2, 1, h, w).clone()
    images = torch.cat([ramp_x, ramp_y], 1)
    swap = BatchSaliencySwap(mode="paste", scale=(0.3, 0.6))
    boxes = torch.tensor([[5, 2, 60, 28], [10, 5, 50, 25]])
    for _ in range(5):
        out, _, p = swap(images, boxes)
        for i in range(2):
            cx0, cy0, cx1, cy1 = p.crop[i].tolist()
            tx0, ty0, tx1, ty1 = p.target[i].tolist()
            sx, sy = (cx1 - cx0) / (tx1 - tx0), (cy1 - cy0) / (ty1 - ty0)
            xs = torch.arange(tx0, tx1, dtype=torch.float64)
            ys = torch.arange(ty0, ty1, dtype=torch.float64)
            want_x = (cx0 + (xs + 0.5 - tx0) * sx - 0.5).clamp(0, w - 1)
            want_y = (cy0 + (ys + 0.5 - ty0) * sy - 0.5).clamp(0, h - 1)
            got = out[i, :, ty0:ty1, tx0:tx1]
            torch.testing.assert_close(
                got[0], want_x.view(1, -1).expand_as(got[0]), atol=1e-4, rtol=0
            )
            torch.testing.assert_close(
                got[1], want_y.view(-1, 1).expand_as(got[1]), atol=1e-4, rtol=0
            )
            # the crop lies inside the foreground's (image i's) box
            bx0, by0, bx1, by1 = boxes[i].tolist()
            assert bx0 <= cx0 < cx1 <= bx1 and by0 <= cy0 < cy1 <= by1


def test_replay_and_apply_to_other_tensors() -> None:
    swap = BatchSaliencySwap()
    images = torch.rand(4, 3, 20, 20)
    out, masks, params = swap(images, torch.tensor([[2, 2, 18, 18]] * 4))
    again, masks2, same = swap(images, None, params=params)  # type: ignore[arg-type]
    assert same is params and torch.equal(out, again) and torch.equal(masks, masks2)
    feats, fmasks = swap.replay(torch.rand(4, 7, 20, 20), params)
    assert feats.shape == (4, 7, 20, 20) and torch.equal(fmasks, masks)
    assert isinstance(params, BatchSwapParams)


def test_probability_zero_keeps_images_and_seed_reproduces() -> None:
    images = colored_batch(3)
    out, masks, params = BatchSaliencySwap(p=0.0)(images, boxes_for(3))
    assert torch.equal(out, images) and not params.swapped.any() and masks.sum() > 0
    torch.manual_seed(9)
    a = BatchSaliencySwap()(images, boxes_for(3))[0]
    torch.manual_seed(9)
    b = BatchSaliencySwap()(images, boxes_for(3))[0]
    assert torch.equal(a, b)


def test_batch_of_one_and_float_images() -> None:
    img = torch.rand(1, 3, 16, 16)
    out, masks, params = BatchSaliencySwap()(img, torch.tensor([[0, 0, 16, 16]]))
    assert params.background.tolist() == [0] and out.dtype == torch.float32 and masks.all()


def test_crop_area_fraction_is_uniform() -> None:
    torch.manual_seed(21)
    boxes = torch.tensor([[0, 0, 300, 200]] * 3000)
    params = BatchSaliencySwap(scale=(0.5, 1.0)).make_params(boxes, (200, 300))
    c = params.crop.double()
    frac = ((c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1]) / 60000).numpy()
    assert stats.kstest(frac, stats.uniform(loc=0.5, scale=0.5).cdf).pvalue > 0.01


@pytest.mark.parametrize(
    ("boxes", "match"),
    [
        (torch.tensor([[0, 0, 50, 10]] * 2), "inside the 20x20"),
        (torch.tensor([[5, 5, 5, 9]] * 2), "non-empty"),
        (torch.tensor([[0, 0, 5, 5]]), r"\(B, 4\)"),
    ],
)
def test_bad_boxes(boxes: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BatchSaliencySwap()(torch.rand(2, 3, 20, 20), boxes)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="mode"):
        BatchSaliencySwap(mode="mix")
    with pytest.raises(ValueError, match="scale"):
        BatchSaliencySwap(scale=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        BatchSaliencySwap()(torch.rand(3, 20, 20), torch.zeros(3, 4))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_replay() -> None:
    images = torch.rand(8, 3, 32, 32)
    boxes = torch.tensor([[4, 4, 28, 28]] * 8)
    swap = BatchSaliencySwap()
    out, masks, params = swap(images, boxes)
    cuda_params = params.to("cuda")
    out_gpu, masks_gpu = swap.replay(images.cuda(), cuda_params)
    assert out_gpu.device.type == "cuda"
    torch.testing.assert_close(out_gpu.cpu(), out, atol=1e-5, rtol=0)
    assert torch.equal(masks_gpu.cpu(), masks)
