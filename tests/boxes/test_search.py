"""Best-box search against brute force (docs/method.md, section 2).

Every fast path -- single map (numba branch and bound / Dinkelbach), numpy batch (numba
prange), torch batch, and the torch exhaustive kernel -- must return exactly the box of the
brute-force enumeration, which shares only the fixed-point conversion with them. A second,
fully independent float64 check (numpy over all boxes, no fixed point) confirms that the
returned box is optimal for the real-valued objective.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saliencyaug.boxes import Box, BoxSearch, best_box, best_boxes, brute_force_best_box
from saliencyaug.boxes.torch_search import best_boxes_torch

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------
# Map strategies: random, constant, single spike, plateaus with ties, extreme magnitudes
# ----------------------------------------------------------------------------------------


@st.composite
def saliency_maps(draw: st.DrawFn, max_side: int = 24) -> np.ndarray:
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(
        st.sampled_from(
            ["uniform", "constant", "spike", "plateau", "blob", "binary", "huge", "tiny"]
        )
    )
    if kind == "uniform":
        s = rng.random((h, w))
    elif kind == "constant":
        s = np.full((h, w), draw(st.floats(0, 1)))
    elif kind == "spike":
        s = np.zeros((h, w))
        s[rng.integers(h), rng.integers(w)] = draw(st.floats(1e-3, 1))
    elif kind == "plateau":
        s = rng.integers(0, draw(st.integers(2, 4)), (h, w)) / 4.0
    elif kind == "blob":
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx = rng.random() * h, rng.random() * w
        s = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (1 + rng.random() * max(h, w)) ** 2))
        s = s + 0.1 * rng.random((h, w))
    elif kind == "binary":
        s = (rng.random((h, w)) > 0.8).astype(np.float64)
    elif kind == "huge":
        s = rng.random((h, w)) * 1e300
    else:
        s = rng.random((h, w)) * 1e-300
    dtype = (
        draw(st.sampled_from([np.float64, np.float32]))
        if kind not in ("huge", "tiny")
        else np.float64
    )
    return np.ascontiguousarray(s.astype(dtype))


def _naive_float_values(s: np.ndarray, fn) -> dict[Box, float]:
    """Objective value of every box, in float64, straight from the definition."""
    h, w = s.shape
    ii = np.zeros((h + 1, w + 1))
    ii[1:, 1:] = np.asarray(s, np.float64).cumsum(0).cumsum(1)
    out = {}
    for y0, y1 in itertools.combinations(range(h + 1), 2):
        for x0, x1 in itertools.combinations(range(w + 1), 2):
            total = ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]
            val = fn(total, y1 - y0, x1 - x0)
            if val is not None:
                out[Box(x0, y0, x1, y1)] = val
    return out


def _box_sum(s: np.ndarray, b: Box) -> float:
    return float(np.asarray(s, np.float64)[b.y0 : b.y1, b.x0 : b.x1].sum())


# ----------------------------------------------------------------------------------------
# excess
# ----------------------------------------------------------------------------------------


def _all_backends(s: np.ndarray, **kw: object) -> list[Box]:
    """The box from every backend for one map (batched backends get a batch of copies)."""
    search = BoxSearch(**kw)  # type: ignore[arg-type]
    batch = np.stack([s, s])
    out = [search(s), search(torch.from_numpy(s))]
    out += [Box(*map(int, r)) for r in search.batch(batch)]
    out += [Box(*map(int, r)) for r in search.batch(torch.from_numpy(batch))]
    if search.name in ("excess", "fixed"):
        out += [Box(*map(int, r)) for r in best_boxes_torch(search, torch.from_numpy(batch))]
    return out


@SETTINGS
@given(saliency_maps(), st.sampled_from(["mean", "otsu", 0.25]))
def test_excess_matches_brute_force_all_backends(s: np.ndarray, tau: object) -> None:
    ref = brute_force_best_box(s, "excess", tau=tau)
    for got in _all_backends(s, objective="excess", tau=tau):
        assert got == ref


@settings(max_examples=60, deadline=None)
@given(saliency_maps(max_side=10))
def test_excess_is_optimal_in_float64(s: np.ndarray) -> None:
    """Independent of the fixed point: compare with every box's float64 excess."""
    box = best_box(s)
    s64 = np.asarray(s, np.float64)
    if s64.max() == s64.min():
        assert box == Box(0, 0, s.shape[1], s.shape[0])
        return
    tau = s64.mean()
    values = _naive_float_values(s64 - tau, lambda t, bh, bw: t)
    best = max(values.values())
    tol = 1e-9 * np.abs(s64 - tau).sum()
    if best <= tol:
        return  # no box clearly positive: the whole-image rule or a rounding-level tie
    assert values[box] >= best - tol
    # tie rule: no near-optimal box is strictly smaller
    smaller = [b for b, v in values.items() if v >= best - tol * 1e-3 and b.area < box.area]
    assert not [b for b in smaller if values[b] > values[box] + tol]


def test_excess_constant_map_is_whole_image() -> None:
    for v in (0.0, 0.3, 1.0):
        s = np.full((5, 7), v, np.float32)
        assert best_box(s) == Box(0, 0, 7, 5)
        assert brute_force_best_box(s) == Box(0, 0, 7, 5)
        assert best_boxes(np.stack([s, s])).tolist() == [[0, 0, 7, 5]] * 2


def test_excess_tie_rule_hand_cases() -> None:
    # two equal, distant spikes: tau = 0.02, one spike scores 0.98, the 8x8 box holding both
    # 2 - 64 * 0.02 = 0.72; equal value and area -> the first in row-major order (y0 first)
    s = np.zeros((10, 10))
    s[8, 1] = 1.0
    s[1, 8] = 1.0
    assert best_box(s) == Box(8, 1, 9, 2)
    # a zero-excess row beside the object: the smaller box wins
    s = np.zeros((6, 6))
    s[1:3, 1:4] = 1.0
    s[3, 1:4] = s.mean()  # exactly tau: adding this row leaves the excess unchanged
    assert best_box(s) == Box(1, 1, 4, 3)


def test_excess_boxes_a_rectangle_exactly() -> None:
    s = np.zeros((40, 50), np.float32)
    s[7:23, 11:42] = 0.8
    assert best_box(s) == Box(11, 7, 42, 23)


# ----------------------------------------------------------------------------------------
# mean
# ----------------------------------------------------------------------------------------


@st.composite
def mean_params(draw: st.DrawFn, s: np.ndarray) -> dict[str, object]:
    h, w = s.shape
    if draw(st.booleans()):
        return {"min_size": (draw(st.integers(1, h)), draw(st.integers(1, w)))}
    return {"min_area": draw(st.floats(0.01, 1.0))}


@SETTINGS
@given(st.data())
def test_mean_matches_brute_force_all_backends(data: st.DataObject) -> None:
    s = data.draw(saliency_maps(max_side=16))
    kw = data.draw(mean_params(s))
    ref = brute_force_best_box(s, "mean", **kw)
    for got in _all_backends(s, objective="mean", **kw):
        assert got == ref


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mean_is_optimal_in_float64(data: st.DataObject) -> None:
    s = data.draw(saliency_maps(max_side=9)).astype(np.float64)
    h, w = s.shape
    mh, mw = data.draw(st.integers(1, h)), data.draw(st.integers(1, w))
    box = best_box(s, "mean", min_size=(mh, mw))
    assert box.height >= mh and box.width >= mw
    values = _naive_float_values(
        s, lambda t, bh, bw: t / (bh * bw) if bh >= mh and bw >= mw else None
    )
    best = max(values.values())
    assert values[box] >= best - 1e-9 * max(abs(best), np.abs(s).max())


def test_mean_requires_a_size_limit() -> None:
    with pytest.raises(ValueError, match="min_size"):
        best_box(np.ones((4, 4)), "mean")
    with pytest.raises(ValueError, match="exactly one"):
        best_box(np.ones((4, 4)), "mean", min_size=2, min_area=0.5)


def test_mean_min_size_larger_than_map() -> None:
    with pytest.raises(ValueError, match=r"min_size .* larger than the map"):
        best_box(np.ones((4, 4)), "mean", min_size=(5, 2))


# ----------------------------------------------------------------------------------------
# fixed and threshold
# ----------------------------------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_fixed_matches_brute_force_all_backends(data: st.DataObject) -> None:
    s = data.draw(saliency_maps())
    h, w = s.shape
    size = (data.draw(st.integers(1, h)), data.draw(st.integers(1, w)))
    ref = brute_force_best_box(s, "fixed", size=size)
    assert ref.height == size[0] and ref.width == size[1]
    for got in _all_backends(s, objective="fixed", size=size):
        assert got == ref


@SETTINGS
@given(saliency_maps(), st.sampled_from(["otsu", 0.5]))
def test_threshold_matches_scipy_labelling(s: np.ndarray, t: object) -> None:
    # the reference labels with scipy.ndimage, the library with OpenCV
    ref = brute_force_best_box(s, "threshold", threshold=t)
    for got in _all_backends(s, objective="threshold", threshold=t):
        assert got == ref


def test_threshold_hand_case_largest_component_and_8_connectivity() -> None:
    s = np.zeros((8, 8))
    s[1, 1] = s[2, 2] = s[3, 3] = 1.0  # a diagonal: one 8-connected component of 3 pixels
    s[6, 5:8] = 1.0  # a row of 3 pixels
    s[0, 6] = 1.0  # a single pixel
    # equal areas (3); the diagonal's box covers 9 pixels, the row's 3: the smaller box wins
    assert best_box(s, "threshold", threshold=0.5) == Box(5, 6, 8, 7)
    s[4, 4] = 1.0  # the diagonal grows to 4 pixels and wins
    assert best_box(s, "threshold", threshold=0.5) == Box(1, 1, 5, 5)


# ----------------------------------------------------------------------------------------
# Real detector maps
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_maps() -> list[np.ndarray]:
    import cv2
    import skimage.data

    from saliencyaug.saliency import fine_grained, spectral_residual

    maps = []
    for img in (skimage.data.chelsea(), skimage.data.astronaut(), skimage.data.coffee()):
        small = cv2.resize(img, (40, 32), interpolation=cv2.INTER_AREA)
        maps += [spectral_residual(small), fine_grained(small)]
    return maps


@pytest.mark.parametrize(
    "kw",
    [
        {"objective": "excess"},
        {"objective": "excess", "tau": "otsu"},
        {"objective": "mean", "min_size": (8, 10)},
        {"objective": "mean", "min_area": 0.1},
        {"objective": "fixed", "size": (12, 15)},
        {"objective": "threshold"},
    ],
)
def test_real_detector_maps_match_brute_force(real_maps: list[np.ndarray], kw: dict) -> None:
    refs = [brute_force_best_box(m, **kw) for m in real_maps]
    assert [best_box(m, **kw) for m in real_maps] == refs
    assert [Box(*r) for r in best_boxes(np.stack(real_maps), **kw).tolist()] == refs


def test_noise_map_uses_the_budgeted_fallback_and_stays_exact() -> None:
    # uniform noise defeats the bounds, so the search switches to per-band solving
    from saliencyaug.boxes import Excess, _kernels
    from saliencyaug.boxes.search import excess_plan

    s = np.random.default_rng(3).random((48, 48))
    prepared = excess_plan(Excess(), s, "s")
    *_, evals = _kernels.excess_box(*prepared, 0.05)
    assert evals > 0.05 * 48 * 49 / 2  # the budget was exhausted
    assert best_box(s) == brute_force_best_box(s)


# ----------------------------------------------------------------------------------------
# Inputs and errors
# ----------------------------------------------------------------------------------------


def test_accepts_integer_bool_and_tensor_inputs() -> None:
    s = np.zeros((6, 6), np.uint8)
    s[2:4, 1:5] = 200
    expect = Box(1, 2, 5, 4)
    assert best_box(s) == expect
    assert best_box(s.astype(bool)) == expect
    assert best_box(torch.from_numpy(s)) == expect
    assert best_box(torch.from_numpy(s).to(torch.bfloat16)) == expect
    assert best_box(torch.from_numpy(s).float().requires_grad_()) == expect


def test_batch_returns_tensor_on_input_device_and_numpy_for_numpy() -> None:
    maps = np.random.default_rng(0).random((3, 10, 12)).astype(np.float32)
    out_np = best_boxes(maps)
    out_t = best_boxes(torch.from_numpy(maps))
    assert isinstance(out_np, np.ndarray) and out_np.dtype == np.int64 and out_np.shape == (3, 4)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.int64
    assert out_t.tolist() == out_np.tolist()


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        (np.array([[0.1, np.nan]]), ValueError, "NaN or inf"),
        (np.array([[0.1, np.inf]]), ValueError, "NaN or inf"),
        (np.zeros((2, 2, 2)), ValueError, r"shape \(H, W\)"),
        (np.zeros(5), ValueError, r"shape \(H, W\)"),
        (np.zeros((0, 4)), ValueError, "empty"),
        (np.zeros((2, 2), dtype=complex), TypeError, "real"),
        (np.array([["a"]]), TypeError, "real"),
        ([[0.1, 0.2]], TypeError, "numpy array or torch tensor"),
        (np.array([[-1e308, 1e308]]), ValueError, "overflows"),
    ],
)
def test_bad_maps_raise_clear_errors(value: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        best_box(value)  # type: ignore[arg-type]


def test_bad_batch_names_the_map() -> None:
    maps = np.zeros((3, 4, 4))
    maps[2, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"saliency\[2\]"):
        best_boxes(maps)
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        best_boxes(np.zeros((4, 4)))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"objective": "largest"}, "objective must be one of"),
        ({"objective": "mean", "min_size": 0}, "positive"),
        ({"objective": "mean", "min_size": (2, 2.5)}, "ints"),
        ({"objective": "mean", "min_area": 0.0}, r"\(0, 1\]"),
        ({"objective": "mean", "min_area": 1.5}, r"\(0, 1\]"),
        ({"objective": "fixed"}, "needs size"),
        ({"objective": "fixed", "size": (5, 1)}, "does not fit"),
        ({"objective": "excess", "tau": "median"}, "tau must be"),
        ({"objective": "excess", "tau": float("nan")}, "tau must be"),
        ({"objective": "excess", "size": 2}, "applies to objective='fixed'"),
        ({"objective": "fixed", "size": 2, "tau": 0.5}, "tau applies"),
        ({"objective": "threshold", "threshold": "max"}, "threshold must be"),
    ],
)
def test_bad_parameters_raise_clear_errors(kw: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        best_box(np.ones((4, 4)), **kw)


# ----------------------------------------------------------------------------------------
# CUDA (skipped without a GPU)
# ----------------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kw", [{"objective": "excess"}, {"objective": "fixed", "size": (5, 7)}])
def test_cuda_batch_matches_cpu(kw: dict) -> None:
    maps = torch.rand(16, 30, 41, generator=torch.Generator().manual_seed(0))
    cpu = best_boxes(maps, **kw)
    gpu = best_boxes(maps.cuda(), **kw)
    assert gpu.device.type == "cuda"
    assert gpu.cpu().tolist() == cpu.tolist()


# ----------------------------------------------------------------------------------------
# Processes, threads, global state
# ----------------------------------------------------------------------------------------


def _real_batch(n: int = 24, side: int = 48) -> np.ndarray:
    rng = np.random.default_rng(7)
    maps = rng.random((n, side, side), dtype=np.float32) * 0.2
    for i in range(n):
        y, x = rng.integers(0, side // 2, 2)
        maps[i, y : y + side // 3, x : x + side // 4] += 0.8
    return maps


@pytest.mark.parametrize("context", ["fork", "spawn", "forkserver"])
def test_worker_processes_use_best_boxes_after_the_parent_did(context: str) -> None:
    # the parent uses the multi-threaded path first; a GNU OpenMP runtime would now abort
    # forked children ("fork() called from a process already using GNU OpenMP")
    import multiprocessing as mp

    maps = _real_batch()
    expected = best_boxes(maps, threads=2)
    with mp.get_context(context).Pool(2) as pool:
        results = pool.map_async(best_boxes, [maps, maps, maps]).get(timeout=180)
    assert all(np.array_equal(r, expected) for r in results)


def test_calls_from_several_threads_at_once_agree() -> None:
    from concurrent.futures import ThreadPoolExecutor

    maps = _real_batch()
    expected = np.stack([np.array(best_box(m)) for m in maps])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: best_boxes(maps, threads=t), [1, 2, 3, 2, 1, 4]))
    assert all(np.array_equal(r, expected) for r in results)


def test_global_thread_counts_are_left_as_they_were() -> None:
    import cv2

    from saliencyaug.saliency import fine_grained, rbd, spectral_residual

    torch_before, cv_before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        torch.set_num_threads(1)
        maps = _real_batch()
        for objective in ("excess", "mean", "fixed", "threshold"):
            kw = {"mean": {"min_area": 0.1}, "fixed": {"size": 8}}.get(objective, {})
            best_boxes(maps, objective, threads=2, **kw)
        image = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)
        for detect in (spectral_residual, fine_grained, rbd):
            detect(image)
        assert torch.get_num_threads() == 1
        assert cv2.getNumThreads() == cv_before
    finally:
        torch.set_num_threads(torch_before)


def test_threads_argument_is_checked() -> None:
    with pytest.raises(ValueError, match="threads must be positive"):
        best_boxes(_real_batch(2), threads=0)
    with pytest.raises(TypeError, match="threads must be an int"):
        best_boxes(_real_batch(2), threads=True)
