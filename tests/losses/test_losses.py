"""CVSA, BYOL and MoCo losses against naive loops written from the papers' equations."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from saliencyaug.losses import (
    BYOLLoss,
    CVSALoss,
    MoCoLoss,
    SaliencyAlignmentLoss,
    byol_loss,
    correspondence_intensity,
    cross_view_attention,
    cvsa_loss,
    info_nce,
    negative_cosine,
    saliency_alignment_loss,
)


# The tests name tensors as the paper does (q and k views); the library takes view pairs.
def align(p_q, h_k, p_k, h_q, m_q, m_k, normalize=True, temperature=0.1, reduction="mean"):
    return saliency_alignment_loss(
        (p_q, p_k),
        (h_q, h_k),
        (m_q, m_k),
        normalize=normalize,
        temperature=temperature,
        reduction=reduction,
    )


def byol(p_q, h_k, p_k, h_q, reduction="mean"):
    return byol_loss((p_q, p_k), (h_q, h_k), reduction=reduction)


def cvsa(p_q, h_k, p_k, h_q, pc_q, hc_k, pc_k, hc_q, m_q, m_k, **kw):
    return cvsa_loss((p_q, p_k), (h_q, h_k), (pc_q, pc_k), (hc_q, hc_k), (m_q, m_k), **kw)


SHAPES = [(2, 5, 3, 4), (1, 3, 2, 2), (3, 8, 4, 2)]  # (B, d, h, w), h != w


def naive_intensity(
    p: torch.Tensor, h: torch.Tensor, normalize: bool, temperature: float
) -> torch.Tensor:
    """Eq. 3-4 position by position: for each q position, the max over k positions of
    sigmoid(<p_q(i), h_k(j)> / t)."""
    b, _, hq, wq = p.shape
    _, _, hk, wk = h.shape
    out = torch.empty(b, hq, wq, dtype=p.dtype)
    for n in range(b):
        for yq in range(hq):
            for xq in range(wq):
                u = p[n, :, yq, xq]
                if normalize:
                    u = u / u.norm()
                best = -math.inf
                for yk in range(hk):
                    for xk in range(wk):
                        v = h[n, :, yk, xk]
                        if normalize:
                            v = v / v.norm()
                        best = max(best, float(torch.sigmoid((u @ v) / temperature)))
                out[n, yq, xq] = best
    return out


def naive_alignment(
    p_q: torch.Tensor,
    h_k: torch.Tensor,
    p_k: torch.Tensor,
    h_q: torch.Tensor,
    m_q: torch.Tensor,
    m_k: torch.Tensor,
    normalize: bool,
    temperature: float,
    reduction: str,
) -> torch.Tensor | float:
    c_qk = naive_intensity(p_q, h_k, normalize, temperature)
    c_kq = naive_intensity(p_k, h_q, normalize, temperature)
    dq = F.interpolate(
        m_q.double(), size=c_qk.shape[-2:], mode="bilinear", antialias=True, align_corners=False
    )[:, 0]
    dk = F.interpolate(
        m_k.double(), size=c_kq.shape[-2:], mode="bilinear", antialias=True, align_corners=False
    )[:, 0]
    terms_q = [
        (dq[n, y, x] - c_qk[n, y, x]) ** 2
        for n in range(dq.shape[0])
        for y in range(dq.shape[1])
        for x in range(dq.shape[2])
    ]
    terms_k = [
        (dk[n, y, x] - c_kq[n, y, x]) ** 2
        for n in range(dk.shape[0])
        for y in range(dk.shape[1])
        for x in range(dk.shape[2])
    ]
    if reduction == "mean":
        return sum(terms_q) / len(terms_q) + sum(terms_k) / len(terms_k)
    if reduction == "sum":
        return sum(terms_q) + sum(terms_k)
    b = dq.shape[0]
    per = len(terms_q) // b
    return torch.stack(
        [
            sum(terms_q[n * per : (n + 1) * per]) / per
            + sum(terms_k[n * per : (n + 1) * per]) / per
            for n in range(b)
        ]
    )


def _inputs(shape: tuple[int, int, int, int], seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    b, d, h, w = shape
    feats = [torch.randn(b, d, h, w, generator=g, dtype=torch.float64) for _ in range(4)]
    masks = [(torch.rand(b, 1, 4 * h, 4 * w, generator=g) > 0.5).to(torch.uint8) for _ in range(2)]
    return (*feats, *masks)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("normalize", "temperature"), [(True, 0.1), (False, 1.0), (True, 0.5)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_alignment_equals_naive_loop(
    shape: tuple[int, int, int, int], normalize: bool, temperature: float, reduction: str
) -> None:
    p_q, h_k, p_k, h_q, m_q, m_k = _inputs(shape, seed=hash((shape, normalize, reduction)) % 1000)
    got = align(p_q, h_k, p_k, h_q, m_q, m_k, normalize, temperature, reduction)
    want = naive_alignment(p_q, h_k, p_k, h_q, m_q, m_k, normalize, temperature, reduction)
    torch.testing.assert_close(
        got, torch.as_tensor(want, dtype=torch.float64), rtol=1e-10, atol=1e-12
    )
    module = SaliencyAlignmentLoss(
        normalize=normalize,
        temperature=temperature,
        reduction=reduction,  # type: ignore[arg-type]
    )
    torch.testing.assert_close(module((p_q, p_k), (h_q, h_k), (m_q, m_k)), got)


def test_attention_and_intensity_shapes_and_values() -> None:
    p, h = (
        torch.randn(2, 6, 3, 5, dtype=torch.float64),
        torch.randn(2, 6, 4, 2, dtype=torch.float64),
    )
    a = cross_view_attention(p, h, normalize=False)
    assert a.shape == (2, 15, 8)
    torch.testing.assert_close(a[1, 7, 3], p[1, :, 1, 2] @ h[1, :, 1, 1])  # row-major positions
    c = correspondence_intensity(p, h, normalize=True, temperature=0.2)
    assert c.shape == (2, 3, 5)
    torch.testing.assert_close(c, naive_intensity(p, h, True, 0.2))


def test_unit_normalised_attention_is_bounded_as_spec_says() -> None:
    # with normalize=True and temperature 1, C lies in [sigmoid(-1), sigmoid(1)] = [0.27, 0.73]
    p, h = torch.randn(4, 16, 3, 3), torch.randn(4, 16, 3, 3)
    c = correspondence_intensity(p, h, normalize=True, temperature=1.0)
    assert (
        c.min() >= torch.sigmoid(torch.tensor(-1.0)) - 1e-6
        and c.max() <= torch.sigmoid(torch.tensor(1.0)) + 1e-6
    )


def test_byol_loss_equals_the_formula() -> None:
    g = torch.Generator().manual_seed(0)
    p_q, h_k, p_k, h_q = (torch.randn(5, 7, generator=g, dtype=torch.float64) for _ in range(4))
    want = [
        0.5 * -(p_q[n] / p_q[n].norm()) @ (h_k[n] / h_k[n].norm())
        + 0.5 * -(p_k[n] / p_k[n].norm()) @ (h_q[n] / h_q[n].norm())
        for n in range(5)
    ]
    torch.testing.assert_close(byol(p_q, h_k, p_k, h_q, "none"), torch.stack(want))
    torch.testing.assert_close(byol(p_q, h_k, p_k, h_q), torch.stack(want).mean())
    torch.testing.assert_close(byol(p_q, h_k, p_k, h_q, "sum"), torch.stack(want).sum())
    torch.testing.assert_close(BYOLLoss()((p_q, p_k), (h_q, h_k)), torch.stack(want).mean())
    assert negative_cosine(p_q, p_q, reduction="none").allclose(-torch.ones(5, dtype=torch.float64))


def test_cvsa_total_is_contrastive_plus_weighted_alignment() -> None:
    g = torch.Generator().manual_seed(1)
    vec = [torch.randn(3, 8, generator=g) for _ in range(4)]
    maps = [torch.randn(3, 8, 2, 3, generator=g) for _ in range(4)]
    masks = [torch.ones(3, 1, 8, 12), torch.zeros(3, 8, 12)]
    parts = cvsa(*vec, *maps, *masks, weight=0.3)
    torch.testing.assert_close(parts.contrastive, byol(*vec))
    torch.testing.assert_close(parts.alignment, align(*maps, *masks))
    torch.testing.assert_close(parts.total, parts.contrastive + 0.3 * parts.alignment)
    p_q, h_k, p_k, h_q = vec
    pc_q, hc_k, pc_k, hc_q = maps
    module = CVSALoss(weight=0.3)
    pairs = ((p_q, p_k), (h_q, h_k), (pc_q, pc_k), (hc_q, hc_k), tuple(masks))
    assert module(*pairs).total.allclose(parts.total)


def test_info_nce_equals_a_manual_cross_entropy() -> None:
    g = torch.Generator().manual_seed(2)
    q, k = (
        torch.randn(4, 6, generator=g, dtype=torch.float64),
        torch.randn(4, 6, generator=g, dtype=torch.float64),
    )
    queue = torch.randn(10, 6, generator=g, dtype=torch.float64)
    t = 0.2
    losses = []
    for n in range(4):
        qn = q[n] / q[n].norm()
        pos = qn @ (k[n] / k[n].norm()) / t
        negs = [(qn @ (queue[j] / queue[j].norm())) / t for j in range(10)]
        logits = torch.stack([pos, *negs])
        losses.append(-(pos - torch.logsumexp(logits, 0)))
    torch.testing.assert_close(
        info_nce(q, k, negatives=queue, temperature=t), torch.stack(losses).mean()
    )
    # in-batch negatives: row n against every key, the positive on the diagonal
    logits = (F.normalize(q, dim=1) @ F.normalize(k, dim=1).t()) / t
    torch.testing.assert_close(
        info_nce(q, k, temperature=t), F.cross_entropy(logits, torch.arange(4))
    )


# ----------------------------------------------------------------------------------------
# Gradients
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalize", [True, False])
def test_gradcheck_alignment(normalize: bool) -> None:
    g = torch.Generator().manual_seed(3)
    p_q = torch.randn(2, 3, 2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    p_k = torch.randn(2, 3, 2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    h_q, h_k = (
        torch.randn(2, 3, 2, 3, generator=g, dtype=torch.float64),
        torch.randn(2, 3, 2, 3, generator=g, dtype=torch.float64),
    )
    m = (torch.rand(2, 1, 6, 9, generator=g) > 0.5).double()
    t = 0.5 if normalize else 2.0
    assert torch.autograd.gradcheck(
        lambda a, b: align(a, h_k, b, h_q, m, m, normalize, t), (p_q, p_k)
    )


def test_gradcheck_byol_and_info_nce() -> None:
    g = torch.Generator().manual_seed(4)
    p = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    h = torch.randn(3, 4, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: byol(a, h, a, h), (p,))
    queue = torch.randn(5, 4, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: info_nce(a, h, negatives=queue), (p,))


def test_gradients_reach_the_online_branch_only() -> None:
    g = torch.Generator().manual_seed(5)
    online = [torch.randn(2, 4, 3, 3, generator=g, requires_grad=True) for _ in range(2)]
    target = [torch.randn(2, 4, 3, 3, generator=g, requires_grad=True) for _ in range(2)]
    vec_on = [torch.randn(2, 4, generator=g, requires_grad=True) for _ in range(2)]
    vec_tg = [torch.randn(2, 4, generator=g, requires_grad=True) for _ in range(2)]
    m = torch.ones(2, 1, 6, 6)
    parts = cvsa(
        vec_on[0], vec_tg[1], vec_on[1], vec_tg[0], online[0], target[1], online[1], target[0], m, m
    )
    parts.total.backward()
    assert all(t.grad is None for t in target + vec_tg)
    assert all(o.grad is not None and o.grad.abs().sum() > 0 for o in online + vec_on)
    q, k = torch.randn(3, 4, requires_grad=True), torch.randn(3, 4, requires_grad=True)
    info_nce(q, k, negatives=torch.randn(6, 4)).backward()
    assert k.grad is None and q.grad is not None


def test_empty_masks_and_batch_of_one_are_finite() -> None:
    p, h = torch.randn(1, 8, 2, 2), torch.randn(1, 8, 2, 2)
    empty = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    for reduction in ("mean", "sum", "none"):
        loss = align(p, h, p, h, empty, empty, reduction=reduction)
        assert torch.isfinite(loss).all()
    assert torch.isfinite(
        byol(torch.zeros(1, 4), torch.zeros(1, 4), torch.zeros(1, 4), torch.zeros(1, 4))
    )


def test_autocast_bfloat16_on_cpu_is_finite() -> None:
    p, h = torch.randn(4, 16, 7, 7), torch.randn(4, 16, 7, 7)
    m = torch.ones(4, 1, 56, 56)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = align(p, h, p, h, m, m) + byol(
            p.mean((2, 3)), h.mean((2, 3)), p.mean((2, 3)), h.mean((2, 3))
        )
    assert torch.isfinite(loss)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_autocast_float16_on_cuda_is_finite() -> None:
    p, h = torch.randn(4, 256, 7, 7, device="cuda"), torch.randn(4, 256, 7, 7, device="cuda")
    m = torch.ones(4, 1, 224, 224, device="cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        loss = align(p, h, p, h, m, m, normalize=False, temperature=1.0)
    assert torch.isfinite(loss)


# ----------------------------------------------------------------------------------------
# The loss does what it is for
# ----------------------------------------------------------------------------------------


def test_minimised_when_correspondence_equals_the_mask() -> None:
    # build features whose correspondence is ~1 on the mask and ~0 elsewhere
    b, d, hh, ww = 2, 8, 4, 4
    mask = torch.zeros(b, 1, hh, ww)
    mask[:, :, 1:3, 1:3] = 1
    fg = torch.zeros(d)
    fg[0] = 1
    bg = torch.zeros(d)
    bg[1] = 1
    # p on the mask matches h there (cosine 1); off the mask it is -(fg + bg), at cosine
    # -0.71 from every target position, so C -> 1 on the mask and -> 0 off it
    away = -(fg + bg)
    p = (
        torch.where(mask.bool(), fg.view(1, d, 1, 1), away.view(1, d, 1, 1))
        .expand(b, d, hh, ww)
        .clone()
    )
    h = (
        torch.where(mask.bool(), fg.view(1, d, 1, 1), bg.view(1, d, 1, 1))
        .expand(b, d, hh, ww)
        .clone()
    )
    good = align(p, h, p, h, mask, mask, temperature=0.02)
    assert good < 1e-6
    for seed in range(5):
        other = torch.randn(b, d, hh, ww, generator=torch.Generator().manual_seed(seed))
        assert align(other, h, other, h, mask, mask, temperature=0.02) > good


def test_a_few_optimiser_steps_reduce_the_loss() -> None:
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(4, 16, 5, 5))
    h = torch.randn(4, 16, 5, 5)
    mask = torch.zeros(4, 1, 40, 40)
    mask[:, :, 10:30, 5:25] = 1
    opt = torch.optim.Adam([p], lr=0.05)
    start = float(align(p, h, p, h, mask, mask).detach())
    for _ in range(60):
        opt.zero_grad()
        loss = align(p, h, p, h, mask, mask)
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * start


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: cross_view_attention(torch.randn(2, 3, 4), torch.randn(2, 3, 4, 4)),
            r"\(B, d, h, w\)",
        ),
        (
            lambda: cross_view_attention(torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4)),
            "same batch and channels",
        ),
        (
            lambda: correspondence_intensity(
                torch.randn(1, 2, 2, 2), torch.randn(1, 2, 2, 2), temperature=0
            ),
            "temperature",
        ),
        (
            lambda: align(
                *(torch.randn(1, 2, 2, 2),) * 4, torch.ones(1, 2, 8, 8), torch.ones(1, 8, 8)
            ),
            "mask",
        ),
        (
            lambda: align(
                *(torch.randn(1, 2, 2, 2),) * 4,
                torch.ones(1, 8, 8),
                torch.ones(1, 8, 8),
                reduction="avg",
            ),
            "reduction",
        ),
        (
            lambda: byol(
                torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 3), torch.randn(2, 3)
            ),
            "same shape",
        ),
        (
            lambda: info_nce(torch.randn(2, 3), torch.randn(2, 3), negatives=torch.randn(4, 5)),
            "negatives",
        ),
    ],
)
def test_bad_inputs(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_moco_loss_uses_the_queue_then_enqueues() -> None:
    torch.manual_seed(0)
    loss_fn = MoCoLoss(dim=4, queue_size=8, temperature=0.2)
    before = loss_fn.queue.memory.clone()
    q, k = torch.randn(2, 4), torch.randn(2, 4)
    loss = loss_fn(q, k)
    torch.testing.assert_close(loss, info_nce(q, k, negatives=before, temperature=0.2))
    assert torch.allclose(loss_fn.queue.memory[:2], F.normalize(k, dim=1))
    loss_fn(q, k, update=False)
    assert int(loss_fn.queue.ptr) == 2


def test_png_style_0_255_masks_give_the_0_1_loss_and_other_values_are_refused() -> None:
    # one mask rule for every loss and transform: bool, 0/1 or 0/255, non-zero is the object;
    # before, a 0/255 uint8 mask was read as 255x the target (0.033 instead of 0.876)
    p_q, h_k, p_k, h_q, m_q, m_k = _inputs((2, 8, 4, 4), seed=3)
    want = saliency_alignment_loss((p_q, p_k), (h_q, h_k), (m_q, m_k))
    png = saliency_alignment_loss((p_q, p_k), (h_q, h_k), (m_q * 255, m_k * 255))
    as_bool = saliency_alignment_loss((p_q, p_k), (h_q, h_k), (m_q.bool(), m_k.bool()))
    assert torch.equal(png, want) and torch.equal(as_bool, want)
    soft = saliency_alignment_loss((p_q, p_k), (h_q, h_k), (m_q * 0.5, m_k.double()))
    assert torch.isfinite(soft)  # float masks in [0, 1] are soft targets
    for bad, found in ((m_q * 3, "3"), (m_q * 1.5, "1.5"), (m_q.double() * 255 - 1, "-1.0")):
        with pytest.raises(ValueError, match=rf"masks\[0\] must be a binary mask.*{found}"):
            saliency_alignment_loss((p_q, p_k), (h_q, h_k), (bad, m_k))
