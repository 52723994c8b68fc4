"""Evaluation metrics against hand computations and independent loops."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from saliencyaug.evaluation import (
    MaxBoxAccEvaluator,
    class_activation_map,
    extract_features,
    grad_cam,
    knn_accuracy,
    knn_predict,
    linear_probe_lbfgs,
    linear_probe_sgd,
    max_box_acc,
    retrieval_metrics,
)
from saliencyaug.evaluation.maxboxacc import boxes_at_threshold, multiple_iou, normalize_scoremap

# ----------------------------------------------------------------------------------------
# Retrieval
# ----------------------------------------------------------------------------------------


def naive_retrieval(
    features: np.ndarray, labels: np.ndarray, ks: tuple[int, ...]
) -> tuple[dict[int, float], float, int]:
    f = features / np.linalg.norm(features, axis=1, keepdims=True)
    hits = {k: 0 for k in ks}
    aps = []
    skipped = 0
    for i in range(len(f)):
        gallery = [j for j in range(len(f)) if j != i]
        sims = [float(f[i] @ f[j]) for j in gallery]
        order = sorted(range(len(gallery)), key=lambda r: -sims[r])  # Python's sort is stable
        rel = [labels[gallery[r]] == labels[i] for r in order]
        if not any(rel):
            skipped += 1
            continue
        for k in ks:
            hits[k] += any(rel[:k])
        found, precisions = 0, []
        for rank, r in enumerate(rel, start=1):
            if r:
                found += 1
                precisions.append(found / rank)
        aps.append(np.mean(precisions))
    n = len(f) - skipped
    return {k: hits[k] / n for k in ks}, float(np.mean(aps)), skipped


@pytest.mark.parametrize("seed", range(4))
def test_retrieval_equals_a_naive_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(40, 6))
    labels = rng.integers(0, 6, 40)
    labels[0] = 99  # a query without a positive
    if seed % 2:
        feats[5] = feats[7]  # exact ties in similarity
        feats[9] = feats[7]
    want_rank, want_map, skipped = naive_retrieval(feats, labels, (1, 5, 10))
    for block in (7, 1024):
        got = retrieval_metrics(
            torch.from_numpy(feats), torch.from_numpy(labels), ks=(1, 5, 10), block_size=block
        )
        for k in (1, 5, 10):
            assert got.rank[k] == pytest.approx(want_rank[k], abs=1e-12)
        assert got.mean_ap == pytest.approx(want_map, abs=1e-12)
        assert got.num_without_positive == skipped >= 1 and got.num_queries == 40 - skipped


def test_retrieval_hand_case() -> None:
    feats = torch.tensor([[1.0, 0.0], [0.99, 0.14], [0.9, 0.43], [0.6, 0.8]])
    labels = torch.tensor([0, 1, 0, 0])
    # cosines: q0 -> 1: .990, 2: .902, 3: .600   ranking 1 (x), 2 (v), 3 (v): AP = (1/2 + 2/3)/2
    #          q2 -> 1: .954, 0: .902, 3: .887   ranking 1 (x), 0 (v), 3 (v): AP = 7/12
    #          q3 -> 2: .887, 1: .706, 0: .600   ranking 2 (v), 1 (x), 0 (v): AP = (1 + 2/3)/2
    #          q1 has no other item of its label: left out and counted
    r = retrieval_metrics(feats, labels, ks=(1, 5), block_size=2)
    assert r.num_queries == 3 and r.num_without_positive == 1
    assert r.mean_ap == pytest.approx((7 / 12 + 7 / 12 + 5 / 6) / 3)  # = 2/3
    assert r.rank[1] == pytest.approx(1 / 3) and r.rank[5] == 1.0
    assert r.as_dict()["mAP"] == pytest.approx(2 / 3)


def test_retrieval_bad_input() -> None:
    with pytest.raises(ValueError, match="labels"):
        retrieval_metrics(torch.randn(4, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="NaN"):
        retrieval_metrics(torch.tensor([[0.0, float("nan")], [1.0, 0.0]]), torch.tensor([0, 0]))
    with pytest.raises(ValueError, match=r"\(N, n\)"):
        retrieval_metrics(torch.randn(4), torch.tensor([0, 1, 2, 3]))


# ----------------------------------------------------------------------------------------
# MaxBoxAcc
# ----------------------------------------------------------------------------------------


def test_iou_uses_the_inclusive_pixel_convention() -> None:
    # boxes 0..9 (10 px) and 0..4 (5 px) wide, 10 px tall: areas 100 and 50, overlap 50
    assert multiple_iou(np.array([[0, 0, 9, 9]]), np.array([[0, 0, 4, 9]]))[0, 0] == pytest.approx(
        0.5
    )
    # touching at one pixel column counts as overlap in this convention
    assert multiple_iou(np.array([[0, 0, 4, 4]]), np.array([[4, 0, 8, 4]]))[0, 0] == pytest.approx(
        5 / 45
    )


def test_threshold_is_strictly_greater_and_the_grid_is_shared() -> None:
    cam = np.zeros((20, 20))
    cam[4:16, 4:16] = 0.5  # ring: uint8 value int(0.5 * 255) = 127
    cam[8:12, 8:12] = 1.0  # core: 255
    gt = [[8, 8, 11, 11]]  # inclusive corners of the core
    ev = MaxBoxAccEvaluator()
    ev.add(cam, gt, image_size=(20, 20))
    res = ev.compute()
    assert res.v1 == 100.0
    # the ring (127) survives while int(t * 255) < 127, i.e. up to t = 0.498; at t = 0.499
    # int(127.245) = 127 and 127 > 127 is false, so only the core remains
    assert res.best_threshold_v1 == pytest.approx(0.499)
    acc = ev.correct_v1
    assert acc[498] == 0 and acc[499] == 1


def test_contour_boxes_clip_and_ring_and_multi_contour() -> None:
    # a blob touching the right edge: x + w = W is clipped to W - 1
    m = np.zeros((10, 12))
    m[2:5, 8:12] = 1.0
    assert boxes_at_threshold(m, 0.5, False).tolist() == [[8, 2, 11, 5]]
    # a ring: the largest contour is the outer one, its box the ring's outer bounds
    ring = np.zeros((30, 30))
    ring[5:25, 5:25] = 1.0
    ring[10:20, 10:20] = 0.0
    assert boxes_at_threshold(ring, 0.5, False).tolist() == [[5, 5, 25, 25]]
    multi = boxes_at_threshold(ring, 0.5, True).tolist()
    assert [5, 5, 25, 25] in multi and len(multi) == 2  # the hole is a second contour
    # nothing above the threshold: the zero box
    assert boxes_at_threshold(np.zeros((5, 5)), 0.5, True).tolist() == [[0, 0, 0, 0]]


def test_v1_versus_v2_and_two_ground_truth_boxes() -> None:
    # two blobs, the big one is background; GT is the small blob
    cam = np.zeros((40, 40))
    cam[2:22, 2:22] = 1.0  # big: 20x20
    cam[30:36, 30:36] = 1.0  # small: 6x6
    small_gt = [[30, 30, 35, 35]]
    res = max_box_acc([cam], [small_gt], [(40, 40)], thresholds=[0.5])
    assert res.v1 == 0.0  # largest contour only: misses
    assert res.v2_per_iou[0.5] == 100.0 and res.v2 == 100.0  # all contours: found
    # a second image with two GT boxes, the CAM on the second one
    cam2 = np.zeros((40, 40))
    cam2[10:20, 25:35] = 1.0
    res2 = max_box_acc(
        [cam, cam2], [small_gt, [[0, 0, 5, 5], [25, 10, 34, 19]]], [(40, 40)] * 2, thresholds=[0.5]
    )
    assert res2.v1 == 50.0 and res2.v2 == 100.0 and res2.num_images == 2


def test_ring_shaped_cam_hand_iou() -> None:
    # GT = the hole of a ring; v1 takes the outer contour (21x21 inclusive box) ->
    # IoU = 11*11 / (21*21) = 0.274 < 0.3: not localised at any IoU threshold
    ring = np.zeros((40, 40))
    ring[5:26, 5:26] = 1.0
    ring[10:21, 10:21] = 0.0
    res = max_box_acc([ring], [[[10, 10, 20, 20]]], [(40, 40)], thresholds=[0.5])
    assert multiple_iou(np.array([[5, 5, 25, 25]]), np.array([[10, 10, 20, 20]]))[
        0, 0
    ] == pytest.approx(121 / 441)
    assert res.v1 == 0.0
    assert res.v2_per_iou[0.3] > 0  # V2 also sees the inner contour, the hole's box


def test_cam_is_resized_and_normalised() -> None:
    cam = np.zeros((7, 7))
    cam[2:5, 2:5] = 3.0
    ev = MaxBoxAccEvaluator(thresholds=np.arange(0, 1, 0.05))
    ev.add(cam, [[64, 64, 159, 159]], image_size=(224, 224))
    assert ev.compute().v1 == 100.0
    assert normalize_scoremap(np.full((3, 3), 2.0)).max() == 0.0
    assert normalize_scoremap(np.array([[np.nan, 1.0]])).max() == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: MaxBoxAccEvaluator().add(np.zeros((2, 3, 4)), [[0, 0, 1, 1]], (8, 8)),
            r"\(h, w\)",
        ),
        (
            lambda: MaxBoxAccEvaluator().add(np.zeros((4, 4)), [[0, 0, 9, 1]], (8, 8)),
            "inside the 8x8",
        ),
        (lambda: MaxBoxAccEvaluator().add(np.zeros((4, 4)), [], (8, 8)), "at least one"),
        (lambda: max_box_acc([np.zeros((4, 4))], [], [(4, 4)]), "same length"),
        (lambda: MaxBoxAccEvaluator().compute(), "no image"),
    ],
)
def test_maxboxacc_bad_input(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------------------
# Probes and kNN
# ----------------------------------------------------------------------------------------


def _clusters(
    n_per: int, k: int, dim: int, sep: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, dim, generator=g) * sep
    x = torch.cat([centers[c] + torch.randn(n_per, dim, generator=g) for c in range(k)])
    return x, torch.arange(k).repeat_interleave(n_per)


def test_probes_reach_high_accuracy_on_separable_features_and_chance_on_shuffled_labels() -> None:
    xtr, ytr = _clusters(60, 5, 16, 6.0, 0)
    xte, yte = _clusters(30, 5, 16, 6.0, 0)
    xte = xte + 0.1 * torch.randn_like(xte)
    sgd = linear_probe_sgd(xtr, ytr, xte, yte, epochs=30, batch_size=64)
    assert sgd.accuracy > 0.95 and sgd.best in (0.1, 0.01, 0.001) and sgd.classifier is not None
    # the folded classifier works on raw features
    assert float((sgd.classifier(xte).argmax(1) == yte).double().mean()) == pytest.approx(
        sgd.accuracy
    )
    lb = linear_probe_lbfgs(xtr, ytr, xte, yte)
    assert lb.accuracy > 0.95
    # features that carry no label information: test accuracy is chance, 1/5, up to
    # sampling error (standard error sqrt(0.2 * 0.8 / 1000) = 0.013)
    g = torch.Generator().manual_seed(1)
    noise_tr, noise_te = torch.randn(500, 16, generator=g), torch.randn(1000, 16, generator=g)
    y_tr, y_te = torch.randint(0, 5, (500,), generator=g), torch.randint(0, 5, (1000,), generator=g)
    assert abs(linear_probe_lbfgs(noise_tr, y_tr, noise_te, y_te).accuracy - 0.2) < 0.05
    assert abs(linear_probe_sgd(noise_tr, y_tr, noise_te, y_te, epochs=10).accuracy - 0.2) < 0.05
    test_sel = linear_probe_sgd(xtr, ytr, xte, yte, epochs=5, select="test")
    assert set(test_sel.scores) == {"0.1", "0.01", "0.001"}


def test_knn_equals_a_brute_force_loop() -> None:
    xtr, ytr = _clusters(20, 4, 8, 2.0, 3)
    xte, yte = _clusters(10, 4, 8, 2.0, 4)
    k, t = 7, 0.1
    f_tr = xtr / xtr.norm(dim=1, keepdim=True)
    f_te = xte / xte.norm(dim=1, keepdim=True)
    want = []
    for q in f_te.double():
        sims = (f_tr.double() @ q).tolist()
        top = sorted(range(len(sims)), key=lambda j: -sims[j])[:k]
        votes = [0.0] * 4
        for j in top:
            votes[int(ytr[j])] += np.exp(sims[j] / t)
        want.append(int(np.argmax(votes)))
    assert knn_predict(xtr, ytr, xte, k, t).tolist() == want
    assert knn_accuracy(xtr, ytr, xte, yte, k, t) == pytest.approx(
        np.mean(np.array(want) == yte.numpy())
    )


def test_probe_bad_input() -> None:
    with pytest.raises(ValueError, match="labels"):
        linear_probe_lbfgs(
            torch.randn(5, 3),
            torch.zeros(4, dtype=torch.long),
            torch.randn(2, 3),
            torch.zeros(2, dtype=torch.long),
        )
    with pytest.raises(ValueError, match="NaN"):
        knn_accuracy(
            torch.full((2, 2), float("nan")),
            torch.zeros(2, dtype=torch.long),
            torch.randn(1, 2),
            torch.zeros(1, dtype=torch.long),
        )
    with pytest.raises(ValueError, match="width"):
        linear_probe_sgd(
            torch.randn(5, 3),
            torch.zeros(5, dtype=torch.long),
            torch.randn(2, 4),
            torch.zeros(2, dtype=torch.long),
        )


# ----------------------------------------------------------------------------------------
# CAM, Grad-CAM, features
# ----------------------------------------------------------------------------------------


def test_cam_and_grad_cam_against_manual_computation() -> None:
    g = torch.Generator().manual_seed(0)
    fmap = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 5, generator=g, dtype=torch.float64)
    cls = torch.tensor([1, 4])
    cam = class_activation_map(fmap.detach(), w, cls)
    manual = torch.stack(
        [sum(w[cls[b], c] * fmap[b, c] for c in range(5)) for b in range(2)]
    ).detach()
    torch.testing.assert_close(cam, manual)
    # a linear classifier on the average pool: d score / d F = w / (h w) at every position, so
    # Grad-CAM = ReLU(CAM / (h w))
    scores = fmap.mean(dim=(2, 3)) @ w.t()
    torch.testing.assert_close(grad_cam(fmap, scores, cls), torch.relu(manual / 12))
    assert fmap.grad is None
    with pytest.raises(ValueError, match=r"\(K, C\)"):
        class_activation_map(fmap.detach(), torch.randn(6, 4), cls)


def test_extract_features_restores_mode() -> None:
    enc = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(12, 3), torch.nn.BatchNorm1d(3)
    ).train()
    loader = [
        (torch.randn(4, 3, 2, 2), torch.tensor([0, 1, 2, 3])),
        (torch.randn(2, 3, 2, 2), torch.tensor([1, 1])),
    ]
    feats, labels = extract_features(enc, loader, progress=False)
    assert feats.shape == (6, 3) and labels.tolist() == [0, 1, 2, 3, 1, 1] and enc.training
    enc.eval()
    with torch.no_grad():
        torch.testing.assert_close(feats[:4], enc(loader[0][0]))


def test_overlay_draws_map_and_boxes() -> None:
    from saliencyaug.evaluation import overlay

    img = np.full((20, 30, 3), 100, np.uint8)
    cam = np.zeros((4, 6))
    cam[1:3, 2:4] = 1
    out = overlay(img, cam, boxes=[[5, 4, 15, 12], [0, 0, 30, 20]])
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out[4, 5:15] == (0, 230, 64)).all() and (
        out[11, 5:15] == (0, 230, 64)
    ).all()  # first box
    assert (out[0, :] == (255, 64, 64)).all()  # second box on the border
    assert not np.array_equal(out[10, 16], img[10, 16])  # the map is blended in
    assert np.array_equal(overlay(img)[5, 5], img[5, 5])  # nothing to draw: the image
