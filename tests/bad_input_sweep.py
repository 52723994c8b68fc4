"""The bad-input sweep: every public entry, driven with wrong types, dtypes, shapes, ranges,
NaN/inf, empty inputs and huge labels.

Each entry declares its arguments, a valid value for each and the argument's *kind*; each kind
has mutations that turn a valid value into a bad one, marked ``must_refuse`` when no correct
answer exists for it (NaN, a wrong type, an empty batch...). A call with one mutated argument
must end in a ``ValueError`` or ``TypeError`` whose message names that argument, or return a
valid result (checked by the entry's validator and by a scan for NaN/inf) when the mutation is
one a correct implementation may accept (huge finite values, sparse labels...).

Run ``python tests/bad_input_sweep.py`` for the counts; ``tests/test_bad_inputs.py`` drives
it in the suite (all cases, and random ones with hypothesis).
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import tv_tensors

from saliencyaug import boxes as B
from saliencyaug import evaluation as E
from saliencyaug import losses as L
from saliencyaug import models as M
from saliencyaug import saliency as S
from saliencyaug import synthesized as Y
from saliencyaug import training as R
from saliencyaug import transforms as T
from saliencyaug.data import BoxCache, ImageFolderWithBoxes, build_box_cache
from saliencyaug.data.box_builder import parse_shard
from saliencyaug.image import to_image_tensor, to_rgb_uint8
from saliencyaug.memory import MemoryQueue

Value = Callable[[], Any]


@dataclass(frozen=True)
class Mutation:
    name: str
    apply: Callable[[Any, np.random.Generator], Any]
    must_refuse: bool


@dataclass
class Entry:
    """A public callable: ``call(**kwargs)`` with a valid value per argument."""

    name: str
    call: Callable[..., Any]
    args: dict[str, tuple[str, Value]]  # argument -> (kind, valid value factory)
    validate: Callable[[Any, dict[str, Any]], None] = lambda result, kwargs: None
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # other names accepted
    optional: frozenset[str] = frozenset()  # arguments for which None is a valid value
    accept: frozenset[tuple[str, str]] = frozenset()  # (argument, mutation) valid here
    refuse: frozenset[tuple[str, str]] = frozenset()  # (argument, mutation) never valid here


# ----------------------------------------------------------------------------------------
# Mutations by kind
# ----------------------------------------------------------------------------------------


def _nan(v: Any, r: np.random.Generator) -> Any:
    out = v.clone().float() if isinstance(v, torch.Tensor) else np.array(v, dtype=np.float64)
    out.reshape(-1)[int(r.integers(out.size if isinstance(out, np.ndarray) else out.numel()))] = (
        math.nan
    )
    return out


def _inf(v: Any, r: np.random.Generator) -> Any:
    out = v.clone().float() if isinstance(v, torch.Tensor) else np.array(v, dtype=np.float64)
    n = out.size if isinstance(out, np.ndarray) else out.numel()
    out.reshape(-1)[int(r.integers(n))] = math.inf if r.random() < 0.5 else -math.inf
    return out


def _dtype(dtype: torch.dtype) -> Callable[[Any, np.random.Generator], Any]:
    def apply(v: Any, r: np.random.Generator) -> Any:
        t = torch.as_tensor(v)
        return t.to(dtype) if dtype != torch.complex64 else t.to(torch.complex64)

    return apply


GENERIC = [
    Mutation("None", lambda v, r: None, True),
    Mutation("str", lambda v, r: "bad", True),
    Mutation("object", lambda v, r: object(), True),
]
NUMBER = [Mutation("bool", lambda v, r: True, True), *GENERIC]

KINDS: dict[str, list[Mutation]] = {
    "pos": [
        Mutation("zero", lambda v, r: 0.0, True),
        Mutation("negative", lambda v, r: -1.5, True),
        Mutation("nan", lambda v, r: math.nan, True),
        Mutation("inf", lambda v, r: math.inf, True),
        *NUMBER,
    ],
    "count": [  # a non-negative int (0 is valid)
        Mutation("negative", lambda v, r: -3, True),
        Mutation("float", lambda v, r: 2.5, True),
        Mutation("nan", lambda v, r: math.nan, True),
        *NUMBER,
    ],
    "nonneg": [
        Mutation("negative", lambda v, r: -0.5, True),
        Mutation("nan", lambda v, r: math.nan, True),
        Mutation("inf", lambda v, r: math.inf, True),
        *NUMBER,
    ],
    "real": [
        Mutation("nan", lambda v, r: math.nan, True),
        Mutation("inf", lambda v, r: math.inf, True),
        *NUMBER,
    ],
    "prob": [
        Mutation("below", lambda v, r: -0.1, True),
        Mutation("above", lambda v, r: 1.5, True),
        Mutation("nan", lambda v, r: math.nan, True),
        *NUMBER,
    ],
    "posint": [
        Mutation("zero", lambda v, r: 0, True),
        Mutation("negative", lambda v, r: -3, True),
        Mutation("float", lambda v, r: 2.5, True),
        Mutation("nan", lambda v, r: math.nan, True),
        *NUMBER,
    ],
    "bool": [
        Mutation("int", lambda v, r: 1, True),
        Mutation("str", lambda v, r: "yes", True),
        Mutation("None", lambda v, r: None, True),
    ],
    "choice": [
        Mutation("unknown", lambda v, r: "nope", True),
        Mutation("int", lambda v, r: 3, True),
        Mutation("bool", lambda v, r: True, True),
        Mutation("None", lambda v, r: None, True),
    ],
    "range": [
        Mutation("reversed", lambda v, r: (v[1], v[0] * 0.5) if v[0] < v[1] else (1.0, 0.1), True),
        Mutation("nan", lambda v, r: (math.nan, v[1]), True),
        Mutation("short", lambda v, r: (v[0],), True),
        Mutation("scalar", lambda v, r: 0.5, True),
        Mutation("strings", lambda v, r: ("a", "b"), True),
        Mutation("bools", lambda v, r: (True, True), True),
        Mutation("None", lambda v, r: None, True),
    ],
    "size": [
        Mutation("zero", lambda v, r: 0, True),
        Mutation("negative", lambda v, r: -3, True),
        Mutation("zero pair", lambda v, r: (0, 4), True),
        Mutation("float pair", lambda v, r: (2.5, 3), True),
        Mutation("bool", lambda v, r: True, True),
        Mutation("triple", lambda v, r: (1, 2, 3), True),
        *GENERIC,
    ],
    # a real map (H, W) or batch (B, H, W): any finite real values are valid
    "map": [
        Mutation("nan", _nan, True),
        Mutation("inf", _inf, True),
        Mutation("empty", lambda v, r: v[:0], True),
        Mutation("drop dim", lambda v, r: v[0], True),
        Mutation("add dim", lambda v, r: v[None], True),
        Mutation("complex", _dtype(torch.complex64), True),
        Mutation(
            "huge",
            lambda v, r: v * 1e300 if isinstance(v, np.ndarray) else v.double() * 1e300,
            False,
        ),
        Mutation(
            "int",
            lambda v, r: (
                (v * 100).astype(np.int64) if isinstance(v, np.ndarray) else (v * 100).long()
            ),
            False,
        ),
        Mutation("bool", lambda v, r: v > 0.5, False),
        Mutation("list", lambda v, r: np.asarray(v).tolist(), True),
        *GENERIC,
    ],
    # float feature tensors: vectors (B, d), maps (B, d, h, w)
    "floats": [
        Mutation("nan", _nan, True),
        Mutation("inf", _inf, True),
        Mutation("empty", lambda v, r: v[:0], True),
        Mutation("drop dim", lambda v, r: v[0], True),
        Mutation("add dim", lambda v, r: v[None], True),
        Mutation("int", _dtype(torch.int64), True),
        Mutation("complex", _dtype(torch.complex64), True),
        Mutation("numpy", lambda v, r: v.numpy(), True),
        Mutation("huge", lambda v, r: v * 1e20, False),
        Mutation("half", lambda v, r: v.half(), False),
        Mutation("other batch", lambda v, r: v[:-1], True),
        *GENERIC,
    ],
    # a pair (view_1, view_2) of float tensors
    "pair": [
        Mutation("nan", lambda v, r: (_nan(v[0], r), v[1]), True),
        Mutation("inf", lambda v, r: (v[0], _inf(v[1], r)), True),
        Mutation("one", lambda v, r: (v[0],), True),
        Mutation("tensor", lambda v, r: v[0], True),
        Mutation("empty", lambda v, r: (v[0][:0], v[1][:0]), True),
        Mutation("int", lambda v, r: (v[0].long(), v[1].long()), True),
        Mutation("other batch", lambda v, r: (v[0][:-1], v[1][:-1]), True),
        Mutation("mismatched", lambda v, r: (v[0], v[1][:-1]), True),
        Mutation("huge", lambda v, r: (v[0] * 1e20, v[1] * 1e20), False),
        *GENERIC,
    ],
    "masks": [
        Mutation("nan", lambda v, r: (_nan(v[0], r), v[1]), True),
        Mutation("one", lambda v, r: (v[0],), True),
        Mutation("channels", lambda v, r: (v[0].expand(-1, 3, -1, -1), v[1]), True),
        Mutation("5d", lambda v, r: (v[0][None], v[1]), True),
        Mutation("other batch", lambda v, r: (v[0][:-1], v[1][:-1]), True),
        Mutation("bool", lambda v, r: (v[0].bool(), v[1].bool()), False),
        Mutation("2d", lambda v, r: (v[0][:, 0, 0], v[1][:, 0, 0]), True),
        *GENERIC,
    ],
    # images as the library takes them at its boundary
    "image": [
        Mutation("float 0..255", lambda v, r: v.float(), True),
        Mutation("nan", lambda v, r: _nan(v.float() / 255, r), True),
        Mutation("negative", lambda v, r: v.float() / 255 - 0.5, True),
        Mutation("int64", _dtype(torch.int64), True),
        Mutation("two channels", lambda v, r: v[:2], True),
        Mutation("empty", lambda v, r: v[:, :0], True),
        Mutation("4d", lambda v, r: v[None], True),
        Mutation("1d", lambda v, r: v.reshape(-1), True),
        Mutation("complex", _dtype(torch.complex64), True),
        Mutation("numpy chw", lambda v, r: v.numpy(), True),
        Mutation("float unit", lambda v, r: v.float() / 255, False),
        Mutation(
            "uint16", lambda v, r: v.numpy().transpose(1, 2, 0).astype(np.uint16) * 257, False
        ),
        Mutation("pil", lambda v, r: Image.fromarray(v.numpy().transpose(1, 2, 0)), False),
        *GENERIC,
    ],
    "images": [  # (B, C, H, W) batches
        Mutation("nan", _nan, True),
        Mutation("empty", lambda v, r: v[:0], True),
        Mutation("3d", lambda v, r: v[0], True),
        Mutation("int64", _dtype(torch.int64), True),
        Mutation("complex", _dtype(torch.complex64), True),
        Mutation("numpy", lambda v, r: v.numpy(), True),
        *GENERIC,
    ],
    "labels": [
        Mutation("huge", lambda v, r: v * 10**12 + 7, False),
        Mutation("negative", lambda v, r: -v - 1, False),
        Mutation("float", lambda v, r: v.float(), True),
        Mutation("bool", lambda v, r: v > 0, True),
        Mutation("short", lambda v, r: v[:-1], True),
        Mutation("2d", lambda v, r: v[None], True),
        Mutation("list", lambda v, r: v.tolist(), True),
        *GENERIC,
    ],
    "boxes": [  # (B, 4) XYXY or one box
        Mutation("nan", _nan, True),
        Mutation("outside", lambda v, r: torch.as_tensor(v) + 1000, True),
        Mutation("empty box", lambda v, r: torch.zeros_like(torch.as_tensor(v)), True),
        Mutation("wrong width", lambda v, r: torch.as_tensor(v)[..., :3], True),
        Mutation("no boxes", lambda v, r: torch.zeros(0, 4), True),
        *GENERIC,
    ],
    "callable": [
        Mutation("str", lambda v, r: 17, True),
        Mutation("None", lambda v, r: None, True),
    ],
    "module": [
        Mutation("str", lambda v, r: "resnet", True),
        Mutation("function", lambda v, r: lambda x: x, True),
        Mutation("None", lambda v, r: None, True),
    ],
    # a transform's ViewParams, replayed: drawn for another image, or edited
    "view_params": [
        Mutation("other image", lambda v, r: _view_params(_image(16, 16)), True),
        Mutation("crop outside", lambda v, r: _edit(v, crop=B.Box(-4, 0, 200, 300)), True),
        Mutation("empty crop", lambda v, r: _edit(v, crop=B.Box(9, 9, 4, 4)), True),
        Mutation("target outside", lambda v, r: _edit(v, target=B.Box(0, 0, 99, 99)), True),
        Mutation("no background", lambda v, r: _edit(v, background=None), True),
        Mutation("small background", lambda v, r: _edit(v, background=v.background[:, :2]), True),
        *GENERIC,
    ],
    # a box file, rewritten with one bad record
    "box_file": [
        Mutation("float box", lambda v, r: _box_file_with('"box": [1.7, 2, 5, 7]'), True),
        Mutation("bool box", lambda v, r: _box_file_with('"box": [true, 2, 5, 7]'), True),
        Mutation("float size", lambda v, r: _box_file_with('"size": [10.5, 12]'), True),
        Mutation("short box", lambda v, r: _box_file_with('"box": [1, 2, 5]'), True),
        Mutation("string box", lambda v, r: _box_file_with('"box": "1 2 5 7"'), True),
        Mutation("box outside", lambda v, r: _box_file_with('"box": [1, 2, 50, 7]'), True),
        Mutation("no header", lambda v, r: _text_file('{"path": "a.png"}\n'), True),
        Mutation("empty file", lambda v, r: _text_file(""), True),
        *GENERIC,
    ],
    # the box file of an image folder: records of another folder leave nothing to train on
    "folder_boxes": [
        Mutation("other folder", lambda v, r: _box_file_with('"path": "elsewhere/x.png"'), True),
        *GENERIC,
    ],
    # a make_backbone name and its options, which must rebuild a given network
    "arch": [
        Mutation("unknown", lambda v, r: "resnet9000", True),
        Mutation("other arch", lambda v, r: "resnet18", True),
        *NUMBER,
    ],
    "backbone_options": [
        Mutation("other options", lambda v, r: {"widths": [4, 8, 16, 32]}, True),
        Mutation("unknown option", lambda v, r: {**v, "depth": 3}, True),
        Mutation("list", lambda v, r: [4, 8, 8, 8], True),
        Mutation("str", lambda v, r: "widths", True),
    ],
    "sequence": [  # a list of per-image items (CAMs, box lists, sizes)
        Mutation("empty", lambda v, r: [], True),
        Mutation("short", lambda v, r: v[:-1], True),
        *GENERIC,
    ],
}


# ----------------------------------------------------------------------------------------
# Valid values
# ----------------------------------------------------------------------------------------


def _map(h: int = 12, w: int = 16) -> np.ndarray:
    m = np.random.default_rng(0).random((h, w)).astype(np.float32) * 0.2
    m[3:8, 4:11] += 0.8
    return m


def _image(h: int = 24, w: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    img = torch.randint(0, 90, (3, h, w), generator=g, dtype=torch.uint8)
    img[:, 6:18, 8:24] = 220
    return img


def _vectors(b: int = 4, d: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, d, generator=torch.Generator().manual_seed(seed))


def _maps4(b: int = 4, d: int = 8, h: int = 3, w: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, d, h, w, generator=torch.Generator().manual_seed(seed))


def _masks(b: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    m = torch.zeros(b, 1, 12, 12, dtype=torch.uint8)
    m[:, :, 2:8, 3:9] = 1
    return m, m.flip(-1)


def _labels(n: int = 12, k: int = 3) -> torch.Tensor:
    return torch.arange(n) % k


def _features(n: int = 12, d: int = 6, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) + (torch.arange(n) % 3).float().view(-1, 1)


_SWAP = T.SaliencySwap([_image(20, 30)], size=12)


def _view_params(image: torch.Tensor | None = None) -> Any:
    image = _image() if image is None else image
    boxes = tv_tensors.BoundingBoxes(
        [[2, 2, image.shape[-1] - 2, image.shape[-2] - 2]],
        format="XYXY",
        canvas_size=tuple(image.shape[-2:]),
    )
    torch.manual_seed(0)
    return _SWAP.sample_params(image, boxes)


def _edit(params: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(params, **changes)


_FILES = iter(range(10**9))


def _text_file(text: str) -> Path:
    path = Path(tempfile.gettempdir()) / f"saliencyaug-sweep-{next(_FILES)}.jsonl"
    path.write_text(text)
    return path


def _box_file_with(change: str) -> Path:
    """A box file whose one record has ``change`` in place of the matching valid field."""
    record = '{"path": "c/0.png", "size": [24, 32], "box": [1, 2, 5, 7]}'
    key = change.split(":", 1)[0]
    start = record.index(key)
    value = start + len(key) + 2
    end = record.index("]", value) + 1 if record[value] == "[" else record.index(", ", value)
    bad = record[:start] + change + record[end:]
    return _text_file('{"format": "saliencyaug-boxes", "version": 1}\n' + bad + "\n")


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ----------------------------------------------------------------------------------------
# Validators of accepted results
# ----------------------------------------------------------------------------------------


def _box_inside(result: Any, kwargs: dict[str, Any]) -> None:
    m = np.asarray(kwargs["saliency"]) if not isinstance(kwargs["saliency"], list) else None
    assert isinstance(result, B.Box) and result.area > 0
    if m is not None:
        h, w = m.shape[-2:]
        assert 0 <= result.x0 < result.x1 <= w and 0 <= result.y0 < result.y1 <= h


def _boxes_inside(result: Any, kwargs: dict[str, Any]) -> None:
    arr = np.asarray(result)
    h, w = np.asarray(kwargs["saliency"]).shape[-2:]
    assert (arr[:, 0] < arr[:, 2]).all() and (arr[:, 1] < arr[:, 3]).all()
    assert (arr >= 0).all() and (arr[:, 2] <= w).all() and (arr[:, 3] <= h).all()


def _unit_map(result: Any, kwargs: dict[str, Any]) -> None:
    arr = np.asarray(result)
    assert arr.dtype == np.float32 and arr.min() >= 0 and arr.max() <= 1


def _scalar(result: Any, kwargs: dict[str, Any]) -> None:
    assert isinstance(result, torch.Tensor) and result.numel() >= 1


def _accuracy(result: Any, kwargs: dict[str, Any]) -> None:
    acc = result if isinstance(result, float) else result.accuracy
    assert 0.0 <= acc <= 1.0


def _view(result: Any, kwargs: dict[str, Any]) -> None:
    image, mask = result
    assert isinstance(mask, tv_tensors.Mask) and mask.dtype == torch.uint8
    if image.is_floating_point():
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0


# ----------------------------------------------------------------------------------------
# The entries
# ----------------------------------------------------------------------------------------


def _boxes_file(tmp: Path) -> Path:
    path = tmp / "boxes.jsonl"
    path.write_text(
        '{"format": "saliencyaug-boxes", "version": 1}\n'
        '{"path": "a.png", "size": [10, 12], "box": [1, 2, 5, 7]}\n'
    )
    return path


def _image_folder(tmp: Path) -> Path:
    root = tmp / "imgs"
    if not root.exists():
        (root / "c").mkdir(parents=True)
        for i in range(2):
            Image.fromarray(_image().numpy().transpose(1, 2, 0)).save(root / "c" / f"{i}.png")
    return root


_OUTPUTS = iter(range(10**9))


def _fresh(tmp: Path) -> Path:
    return tmp / f"out{next(_OUTPUTS)}.jsonl"


def entries(tmp: Path) -> list[Entry]:
    pool = [_image(20, 30), _image(30, 20)]
    head = nn.Linear(8, 4)
    return [
        # -- boxes ---------------------------------------------------------------------
        Entry("best_box", B.best_box, {"saliency": ("map", _map)}, _box_inside),
        Entry(
            "best_box(excess, tau)",
            lambda saliency, tau: B.best_box(saliency, "excess", tau=tau),
            {"saliency": ("map", _map), "tau": ("real", lambda: 0.3)},
            _box_inside,
        ),
        Entry(
            "best_box(mean, min_area)",
            lambda saliency, min_area: B.best_box(saliency, "mean", min_area=min_area),
            {"saliency": ("map", _map), "min_area": ("prob", lambda: 0.2)},
            _box_inside,
        ),
        Entry(
            "best_box(mean, min_size)",
            lambda saliency, min_size: B.best_box(saliency, "mean", min_size=min_size),
            {"saliency": ("map", _map), "min_size": ("size", lambda: (3, 4))},
            _box_inside,
        ),
        Entry(
            "best_box(threshold)",
            lambda saliency, threshold: B.best_box(saliency, "threshold", threshold=threshold),
            {"saliency": ("map", _map), "threshold": ("real", lambda: 0.5)},
            _box_inside,
        ),
        Entry(
            "best_box(fixed)",
            lambda saliency, size: B.best_box(saliency, "fixed", size=size),
            {"saliency": ("map", _map), "size": ("size", lambda: (4, 5))},
            _box_inside,
        ),
        Entry(
            "best_boxes",
            B.best_boxes,
            {
                "saliency": ("map", lambda: np.stack([_map(), _map()[::-1]])),
                "threads": ("posint", lambda: 2),
            },
            _boxes_inside,
            optional=frozenset({"threads"}),
        ),
        Entry(
            "best_boxes(tensor)",
            lambda saliency: B.best_boxes(saliency),
            {"saliency": ("map", lambda: torch.from_numpy(np.stack([_map(), _map()])))},
            _boxes_inside,
        ),
        Entry(
            "brute_force_best_box", B.brute_force_best_box, {"saliency": ("map", _map)}, _box_inside
        ),
        Entry("BoxSearch(objective)", B.BoxSearch, {"objective": ("choice", lambda: "excess")}),
        Entry(
            "box_saliency",
            S.box_saliency,
            {"boxes": ("boxes", lambda: [1, 2, 6, 5]), "canvas_size": ("size", lambda: (8, 9))},
            _unit_map,
        ),
        # -- detectors -------------------------------------------------------------------
        Entry("spectral_residual", S.spectral_residual, {"image": ("image", _image)}, _unit_map),
        Entry("fine_grained", S.fine_grained, {"image": ("image", _image)}, _unit_map),
        Entry(
            "rbd",
            S.rbd,
            {
                "image": ("image", _image),
                "n_segments": ("posint", lambda: 40),
                "compactness": ("pos", lambda: 10.0),
                "sigma_clr": ("pos", lambda: 10.0),
                "mu": ("nonneg", lambda: 0.1),
                "max_side": ("posint", lambda: 64),
            },
            _unit_map,
            optional=frozenset({"max_side"}),
        ),
        Entry(
            "geodesic",
            S.geodesic,
            {
                "image": ("image", _image),
                "n_segments": ("posint", lambda: 40),
                "clip_weights": ("bool", lambda: True),
                "max_side": ("posint", lambda: 64),
            },
            _unit_map,
            optional=frozenset({"max_side"}),
        ),
        Entry("get_detector", S.get_detector, {"detector": ("choice", lambda: "rbd")}),
        Entry(
            "ModuleSaliency",
            lambda module, input_size: S.ModuleSaliency(module, input_size=input_size)(_image()),
            {
                "module": ("module", lambda: nn.Conv2d(3, 1, 1)),
                "input_size": ("size", lambda: (16, 16)),
            },
            _unit_map,
            optional=frozenset({"input_size"}),
        ),
        Entry(
            "ModuleSaliency(mean, std)",
            lambda mean, std: S.ModuleSaliency(nn.Conv2d(3, 1, 1), mean=mean, std=std)(_image()),
            {
                "mean": ("range", lambda: (0.5, 0.5, 0.5)),
                "std": ("range", lambda: (0.2, 0.2, 0.2)),
            },
            _unit_map,
        ),
        # -- images ----------------------------------------------------------------------
        Entry("to_rgb_uint8", to_rgb_uint8, {"image": ("image", _image)}),
        Entry("to_image_tensor", to_image_tensor, {"image": ("image", _image)}),
        # -- transforms ------------------------------------------------------------------
        Entry(
            "SaliencySwap()",
            lambda backgrounds, size, mode, scale, paste_scale, p, ratio: T.SaliencySwap(
                backgrounds,
                size=size,
                mode=mode,
                scale=scale,
                paste_scale=paste_scale,
                p=p,
                ratio=ratio,
            ),
            {
                "backgrounds": ("sequence", lambda: pool),
                "size": ("size", lambda: 16),
                "mode": ("choice", lambda: "paste"),
                "scale": ("range", lambda: (0.5, 1.0)),
                "paste_scale": ("range", lambda: (0.3, 1.0)),
                "p": ("prob", lambda: 1.0),
                "ratio": ("range", lambda: (0.75, 1.33)),
            },
            accept=frozenset({("backgrounds", "short")}),  # one background is a pool
        ),
        Entry(
            "SaliencySwap(image)",
            lambda image: T.SaliencySwap(pool, size=16, mode="paste")(image),
            {"image": ("image", _image)},
            _view,
        ),
        Entry(
            "SaliencySwap(single background)",
            lambda backgrounds: T.SaliencySwap(backgrounds, size=16),
            {"backgrounds": ("image", _image)},  # one image is not a pool
            aliases={"backgrounds": ("backgrounds", "image")},
            accept=frozenset({("backgrounds", "4d")}),  # (1, C, H, W): a batch of one
            refuse=frozenset(
                {("backgrounds", "float unit"), ("backgrounds", "uint16"), ("backgrounds", "pil")}
            ),
        ),
        Entry(
            "RandomResizedCropWithMask",
            lambda size, scale, image: T.RandomResizedCropWithMask(size, scale=scale)(image),
            {
                "size": ("size", lambda: 12),
                "scale": ("range", lambda: (0.2, 1.0)),
                "image": ("image", _image),
            },
            _view,
        ),
        Entry(
            "MultiView",
            lambda transform, n: T.MultiView(transform, n),
            {
                "transform": ("callable", lambda: T.RandomResizedCropWithMask(8)),
                "n": ("posint", lambda: 2),
            },
        ),
        Entry(
            "BatchSaliencySwap",
            lambda mode, scale, p, images, boxes: T.BatchSaliencySwap(mode=mode, scale=scale, p=p)(
                images, boxes
            ),
            {
                "mode": ("choice", lambda: "replace"),
                "scale": ("range", lambda: (0.5, 1.0)),
                "p": ("prob", lambda: 1.0),
                "images": ("images", lambda: torch.rand(3, 3, 16, 16)),
                "boxes": ("boxes", lambda: torch.tensor([[2, 2, 12, 12]] * 3)),
            },
        ),
        Entry(
            "moco_v2_view",
            lambda size, blur_p: T.moco_v2_view(size=size, blur_p=blur_p),
            {"size": ("posint", lambda: 16), "blur_p": ("prob", lambda: 0.5)},
        ),
        Entry(
            "eval_view",
            lambda size, resize: T.eval_view(size, resize=resize),
            {"size": ("posint", lambda: 16), "resize": ("posint", lambda: 18)},
            optional=frozenset({"resize"}),
        ),
        # -- losses ----------------------------------------------------------------------
        Entry(
            "negative_cosine",
            L.negative_cosine,
            {"prediction": ("floats", _vectors), "target": ("floats", lambda: _vectors(seed=1))},
            _scalar,
        ),
        Entry(
            "byol_loss",
            L.byol_loss,
            {
                "predictions": ("pair", lambda: (_vectors(), _vectors(seed=1))),
                "projections": ("pair", lambda: (_vectors(seed=2), _vectors(seed=3))),
                "reduction": ("choice", lambda: "mean"),
            },
            _scalar,
        ),
        Entry(
            "correspondence_intensity",
            L.correspondence_intensity,
            {
                "prediction": ("floats", _maps4),
                "projection": ("floats", lambda: _maps4(seed=1)),
                "temperature": ("pos", lambda: 0.1),
                "normalize": ("bool", lambda: True),
            },
            _scalar,
        ),
        Entry(
            "downsample_mask",
            L.downsample_mask,
            {"mask": ("floats", lambda: _masks()[0].float()), "size": ("size", lambda: (3, 3))},
            _scalar,
            # (B, H, W) masks, integer {0, 1} masks and any batch size are valid
            accept=frozenset({("mask", "drop dim"), ("mask", "int"), ("mask", "other batch")}),
        ),
        Entry(
            "saliency_alignment_loss",
            L.saliency_alignment_loss,
            {
                "predictions": ("pair", lambda: (_maps4(), _maps4(seed=1))),
                "projections": ("pair", lambda: (_maps4(seed=2), _maps4(seed=3))),
                "masks": ("masks", _masks),
                "temperature": ("pos", lambda: 0.1),
            },
            _scalar,
        ),
        Entry(
            "cvsa_loss",
            lambda predictions, map_predictions, masks, weight: L.cvsa_loss(
                predictions,
                (_vectors(seed=5), _vectors(seed=6)),
                map_predictions,
                (_maps4(seed=7), _maps4(seed=8)),
                masks,
                weight=weight,
            ),
            {
                "predictions": ("pair", lambda: (_vectors(), _vectors(seed=1))),
                "map_predictions": ("pair", lambda: (_maps4(), _maps4(seed=1))),
                "masks": ("masks", _masks),
                "weight": ("nonneg", lambda: 1.0),
            },
            lambda r, kw: _scalar(r.total, kw),
        ),
        Entry(
            "info_nce",
            L.info_nce,
            {
                "query": ("floats", _vectors),
                "key": ("floats", lambda: _vectors(seed=1)),
                "negatives": ("floats", lambda: _vectors(10, seed=2)),
                "temperature": ("pos", lambda: 0.2),
            },
            _scalar,
            optional=frozenset({"negatives"}),
            accept=frozenset({("negatives", "other batch")}),  # any number of negatives
        ),
        Entry(
            "info_nce(in-batch)",
            lambda query, key: L.info_nce(query, key),
            {"query": ("floats", _vectors), "key": ("floats", lambda: _vectors(seed=1))},
            _scalar,
        ),
        Entry(
            "nt_xent",
            L.nt_xent,
            {
                "z1": ("floats", _vectors),
                "z2": ("floats", lambda: _vectors(seed=1)),
                "temperature": ("pos", lambda: 0.2),
                "decoupled": ("bool", lambda: True),
            },
            _scalar,
        ),
        Entry(
            "MoCoLoss",
            lambda dim, queue_size, temperature, query, key: L.MoCoLoss(
                dim, queue_size, temperature=temperature
            )(query, key),
            {
                "dim": ("posint", lambda: 8),
                "queue_size": ("posint", lambda: 16),
                "temperature": ("pos", lambda: 0.2),
                "query": ("floats", _vectors),
                "key": ("floats", lambda: _vectors(seed=1)),
            },
            _scalar,
            aliases={"dim": ("dim", "negatives", "query", "key")},
        ),
        Entry(
            "MemoryQueue",
            lambda dim, size, vectors: MemoryQueue(dim, size).add(vectors),
            {
                "dim": ("posint", lambda: 8),
                "size": ("posint", lambda: 5),
                "vectors": ("floats", _vectors),
            },
            aliases={"vectors": ("vectors",), "dim": ("dim", "vectors")},
            # non-finite rows are dropped with a warning, never stored; an empty or smaller
            # batch just adds fewer vectors
            accept=frozenset(
                {
                    ("vectors", "nan"),
                    ("vectors", "inf"),
                    ("vectors", "empty"),
                    ("vectors", "other batch"),
                }
            ),
        ),
        # -- models ----------------------------------------------------------------------
        Entry(
            "MLPHead",
            M.MLPHead,
            {
                "input_dim": ("posint", lambda: 8),
                "hidden_dim": ("posint", lambda: 16),
                "output_dim": ("posint", lambda: 4),
            },
        ),
        Entry(
            "ConvHead",
            M.ConvHead,
            {"input_dim": ("posint", lambda: 8), "hidden_dim": ("posint", lambda: 16)},
        ),
        Entry(
            "ema_update",
            lambda momentum: M.ema_update(M.ema_copy(nn.Linear(2, 2)), nn.Linear(2, 2), momentum),
            {"momentum": ("prob", lambda: 0.99)},
        ),
        Entry(
            "cosine_momentum",
            M.cosine_momentum,
            {"step": ("count", lambda: 3), "total_steps": ("posint", lambda: 10)},
        ),
        Entry(
            "ResNetBackbone",
            lambda arch, stages: M.ResNetBackbone(arch, stages=stages),
            {"arch": ("choice", lambda: "resnet18"), "stages": ("range", lambda: (3, 4))},
            accept=frozenset({("stages", "short"), ("stages", "reversed")}),  # (3,), (4, 1.5)?
            refuse=frozenset({("stages", "reversed")}),
        ),
        # -- synthesized pairs -------------------------------------------------------------
        Entry(
            "gradcam_scores",
            lambda v, v_aug, sign: Y.gradcam_scores(v, v_aug, head, sign=sign),
            {
                "v": ("floats", _vectors),
                "v_aug": ("floats", lambda: _vectors(seed=1)),
                "sign": ("choice", lambda: "score"),
            },
            _scalar,
        ),
        Entry(
            "variance_scores",
            lambda memory, axis: Y.variance_scores(memory, axis=axis),
            {"memory": ("floats", lambda: _vectors(10)), "axis": ("choice", lambda: "column")},
            _scalar,
            accept=frozenset({("memory", "other batch")}),  # any bank of 2 or more vectors
        ),
        Entry(
            "GradCAMPerturber",
            lambda eps_g, sign: Y.GradCAMPerturber(eps_g, sign=sign),
            {"eps_g": ("nonneg", lambda: 0.1), "sign": ("choice", lambda: "score")},
        ),
        Entry(
            "VariancePerturber",
            lambda eps_var, kappa, axis: Y.VariancePerturber(eps_var, kappa, axis=axis),
            {
                "eps_var": ("nonneg", lambda: 0.05),
                "kappa": ("real", lambda: 0.02),
                "axis": ("choice", lambda: "column"),
            },
        ),
        Entry(
            "FeatureDecoder",
            lambda input_dim, output_size, v: Y.FeatureDecoder(input_dim, output_size)(v),
            {
                "input_dim": ("posint", lambda: 8),
                "output_size": ("posint", lambda: 16),
                "v": ("floats", _vectors),
            },
            _scalar,
            aliases={"input_dim": ("input_dim", "v"), "output_size": ("output_size",)},
            accept=frozenset({("v", "empty"), ("v", "other batch")}),  # any batch, even 0
            refuse=frozenset({("v", "half")}),  # float32 weights
        ),
        Entry(
            "DecoderPairObjective",
            lambda feature_dim, alpha, nu, images, augmented_features: Y.DecoderPairObjective(
                feature_dim, bank_size=16, alpha=alpha, nu=nu
            )(
                encoder=_Encoder(),
                projector=head,
                decoder=Y.FeatureDecoder(8, 16),
                images=images,
                augmented_features=augmented_features,
            ),
            {
                "feature_dim": ("posint", lambda: 8),
                "alpha": ("nonneg", lambda: 1.0),
                "nu": ("nonneg", lambda: 0.5),
                "images": ("floats", lambda: torch.rand(4, 3, 16, 16)),
                "augmented_features": ("floats", _vectors),
            },
            lambda r, kw: _scalar(r.loss, kw),
            aliases={"feature_dim": ("feature_dim", "vectors", "v")},
            optional=frozenset({"augmented_features"}),
            refuse=frozenset({("images", "half")}),  # float32 networks; features are cast
        ),
        # -- evaluation ------------------------------------------------------------------
        Entry(
            "linear_probe_lbfgs",
            lambda train_x, train_y, test_x, test_y, weight_decay: E.linear_probe_lbfgs(
                train_x, train_y, test_x, test_y, weight_decay, max_iter=20
            ),
            {
                "train_x": ("floats", _features),
                "train_y": ("labels", _labels),
                "test_x": ("floats", lambda: _features(seed=1)),
                "test_y": ("labels", _labels),
                "weight_decay": ("nonneg", lambda: 1e-4),
            },
            _accuracy,
            aliases={
                "train_x": ("train features",),
                "train_y": ("train features",),
                "test_x": ("test features",),
                "test_y": ("test features",),
            },
        ),
        Entry(
            "linear_probe_sgd",
            lambda train_x, train_y, epochs, batch_size, select: E.linear_probe_sgd(
                train_x,
                train_y,
                _features(seed=1),
                _labels(),
                epochs=epochs,
                batch_size=batch_size,
                select=select,
            ),
            {
                "train_x": ("floats", _features),
                "train_y": ("labels", _labels),
                "epochs": ("posint", lambda: 2),
                "batch_size": ("posint", lambda: 4),
                "select": ("choice", lambda: "test"),
            },
            _accuracy,
            aliases={"train_x": ("train features",), "train_y": ("train features",)},
        ),
        Entry(
            "knn_accuracy",
            lambda train_x, train_y, test_y, k, temperature: E.knn_accuracy(
                train_x, train_y, _features(seed=1), test_y, k, temperature
            ),
            {
                "train_x": ("floats", _features),
                "train_y": ("labels", _labels),
                "test_y": ("labels", _labels),
                "k": ("posint", lambda: 3),
                "temperature": ("pos", lambda: 0.07),
            },
            _accuracy,
            aliases={
                "train_x": ("train features",),
                "train_y": ("train features",),
                "test_y": ("test features",),
            },
        ),
        Entry(
            "retrieval_metrics",
            lambda features, labels: E.retrieval_metrics(features, labels),
            {"features": ("floats", _features), "labels": ("labels", _labels)},
            aliases={"features": ("features", "labels")},
        ),
        Entry(
            "max_box_acc",
            lambda cams, gt_boxes, image_sizes: E.max_box_acc(
                cams, gt_boxes, image_sizes, thresholds=[0.1, 0.5]
            ),
            {
                "cams": ("sequence", lambda: [np.eye(4), np.ones((3, 3))]),
                "gt_boxes": ("sequence", lambda: [[[1, 1, 5, 5]], [[0, 0, 3, 3]]]),
                "image_sizes": ("sequence", lambda: [(8, 8), (6, 6)]),
            },
            aliases={
                "cams": ("cams", "cam"),
                "gt_boxes": ("gt_boxes", "ground-truth"),
                "image_sizes": ("image_sizes", "image_size"),
            },
        ),
        Entry(
            "max_box_acc(one CAM)",
            lambda cam, image_size: E.max_box_acc(
                [cam], [[[0, 0, 3, 3]]], [image_size], thresholds=[0.1, 0.5]
            ),
            {"cam": ("map", lambda: _map(6, 6)), "image_size": ("size", lambda: (8, 8))},
            accept=frozenset({("cam", "list")}),  # a nested list is a map
        ),
        Entry(
            "class_activation_map",
            lambda feature_map, weight: E.class_activation_map(
                feature_map, weight, torch.tensor([0, 1, 2, 0])
            ),
            {"feature_map": ("floats", _maps4), "weight": ("floats", lambda: _vectors(3))},
            _scalar,
            aliases={"feature_map": ("feature_map", "classes"), "weight": ("weight", "classes")},
        ),
        Entry(
            "extract_features",
            lambda encoder: E.extract_features(
                encoder, [(torch.rand(2, 3, 8, 8), torch.tensor([0, 1]))], progress=False
            ),
            {"encoder": ("callable", _Encoder)},
        ),
        # -- data ------------------------------------------------------------------------
        Entry(
            "parse_shard",
            parse_shard,
            {"text": ("choice", lambda: "1/4")},
            aliases={"text": ("shard",)},
        ),
        Entry("BoxCache.load", BoxCache.load, {"paths": ("choice", lambda: _boxes_file(tmp))}),
        Entry(
            "BoxCache.load(records)",
            lambda paths: BoxCache.load(paths),
            {"paths": ("box_file", lambda: _box_file_with('"path": "c/0.png"'))},
            aliases={"paths": ("paths", ".jsonl")},  # a bad record: the error names its file
            refuse=frozenset({("paths", "None"), ("paths", "str"), ("paths", "object")}),
        ),
        Entry(
            "ImageFolderWithBoxes",
            lambda cache: ImageFolderWithBoxes(_image_folder(tmp), cache),
            {"cache": ("folder_boxes", lambda: _box_file_with('"path": "c/0.png"'))},
        ),
        Entry(
            "SaliencySwap.replay",
            lambda params: _SWAP.replay(params, _image()),
            {"params": ("view_params", _view_params)},
            validate=_view,
        ),
        Entry(
            "RandomResizedCropWithMask.replay",
            lambda params: T.RandomResizedCropWithMask(12).replay(params, _image()),
            {
                "params": (
                    "view_params",
                    lambda: T.RandomResizedCropWithMask(12).sample_params(_image()),
                )
            },
            validate=_view,
            accept=frozenset({("params", "no background"), ("params", "small background")}),
        ),
        Entry(
            "save_encoder",
            lambda arch, options: M.save_encoder(
                _fresh(tmp).with_suffix(".pt"),
                M.make_backbone("small_resnet", widths=(4, 8, 8, 8)),
                arch,
                options,
            ),
            {
                "arch": ("arch", lambda: "small_resnet"),
                "options": ("backbone_options", lambda: {"widths": [4, 8, 8, 8]}),
            },
            aliases={"options": ("options", "arch")},  # "arch ... with options {...}"
        ),
        Entry(
            "minmax_normalize",
            Y.minmax_normalize,
            {"x": ("floats", _vectors)},
            accept=frozenset({("x", "other batch")}),
        ),
        Entry(
            "mask_box",
            lambda mask: B.mask_box(mask),
            {"mask": ("map", lambda: (_map() > 0.5).astype(np.uint8))},
            accept=frozenset({("mask", "empty"), ("mask", "add dim"), ("mask", "list")}),
        ),
        Entry(
            "scale_box",
            lambda from_size, to_size: B.scale_box(B.Box(1, 2, 5, 7), from_size, to_size),
            {"from_size": ("size", lambda: (24, 32)), "to_size": ("size", lambda: (12, 16))},
        ),
        # -- training ----------------------------------------------------------------------
        Entry(
            "load_recipe",
            lambda source: R.load_recipe(source),
            {"source": ("choice", lambda: "smoke-byol")},
            aliases={"source": ("recipe",)},
        ),
        Entry(
            "LARS",
            lambda lr, momentum, weight_decay, trust_coefficient: R.LARS(
                [nn.Parameter(torch.ones(2))],
                lr=lr,
                momentum=momentum,
                weight_decay=weight_decay,
                trust_coefficient=trust_coefficient,
            ),
            {
                "lr": ("nonneg", lambda: 0.1),
                "momentum": ("prob", lambda: 0.9),
                "weight_decay": ("nonneg", lambda: 1e-6),
                "trust_coefficient": ("pos", lambda: 1e-3),
            },
        ),
        Entry(
            "epoch_loader",
            lambda batch_size, world, num_workers, skip: list(
                R.epoch_loader(
                    torch.utils.data.TensorDataset(torch.arange(12)),
                    batch_size,
                    seed=0,
                    epoch=0,
                    world=world,
                    num_workers=num_workers,
                    skip=skip,
                )
            ),
            {
                "batch_size": ("posint", lambda: 4),
                "world": ("posint", lambda: 1),
                "num_workers": ("count", lambda: 0),
                "skip": ("count", lambda: 0),
            },
        ),
        Entry(
            "label_fraction_indices",
            lambda labels, fraction: E.label_fraction_indices(labels, fraction),
            {
                "labels": ("choice", lambda: [0, 0, 1, 1, 2]),
                "fraction": ("prob", lambda: 0.5),
            },
        ),
        Entry(
            "make_backbone",
            lambda arch: M.make_backbone(arch),
            {"arch": ("choice", lambda: "resnet18")},
        ),
        Entry(
            "build_box_cache",
            lambda max_side, workers: build_box_cache(
                _image_folder(tmp),
                _fresh(tmp),
                max_side=max_side,
                workers=workers,
                progress=False,
            ),
            {"max_side": ("posint", lambda: 16), "workers": ("count", lambda: 1)},
            optional=frozenset({"max_side", "workers"}),
        ),
    ]


# ----------------------------------------------------------------------------------------
# Running a case
# ----------------------------------------------------------------------------------------

ACCEPTED_ERRORS = (ValueError, TypeError)


@dataclass
class Outcome:
    entry: str
    argument: str
    mutation: str
    kind: str  # "clear error", "valid result", "deep crash", "silently wrong", "unnamed error"
    detail: str = ""


def _non_finite(result: Any) -> bool:
    if isinstance(result, torch.Tensor):
        return result.is_floating_point() and not bool(torch.isfinite(result).all())
    if isinstance(result, np.ndarray):
        return result.dtype.kind == "f" and not bool(np.isfinite(result).all())
    if isinstance(result, float):
        return not math.isfinite(result)
    if isinstance(result, (tuple, list)):
        return any(_non_finite(x) for x in result)
    if isinstance(result, dict):
        return any(_non_finite(x) for x in result.values())
    return False


def must_refuse(entry: Entry, argument: str, mutation: Mutation) -> bool:
    key = (argument, mutation.name)
    if key in entry.refuse:
        return True
    if key in entry.accept or (mutation.name == "None" and argument in entry.optional):
        return False
    return mutation.must_refuse


def run_case(entry: Entry, argument: str, mutation: Mutation, seed: int = 0) -> Outcome:
    rng = np.random.default_rng(seed)
    kwargs = {name: factory() for name, (_, factory) in entry.args.items()}
    try:
        kwargs[argument] = mutation.apply(kwargs[argument], rng)
    except Exception as err:  # the mutation does not apply to this value
        return Outcome(entry.name, argument, mutation.name, "skipped", repr(err))
    names = entry.aliases.get(argument, (argument,))
    try:
        torch.manual_seed(seed)
        result = entry.call(**kwargs)
    except ACCEPTED_ERRORS as err:
        message = str(err)
        if any(n in message for n in names):
            return Outcome(entry.name, argument, mutation.name, "clear error", message)
        return Outcome(entry.name, argument, mutation.name, "unnamed error", message)
    except (FileNotFoundError, RuntimeError) as err:
        # RuntimeError: busy outputs; anything torch raises internally is a crash
        if isinstance(err, FileNotFoundError) or "is being written by" in str(err):
            return Outcome(entry.name, argument, mutation.name, "clear error", str(err))
        return Outcome(
            entry.name, argument, mutation.name, "deep crash", f"{type(err).__name__}: {err}"
        )
    except Exception as err:
        return Outcome(
            entry.name, argument, mutation.name, "deep crash", f"{type(err).__name__}: {err}"
        )
    if must_refuse(entry, argument, mutation):
        return Outcome(entry.name, argument, mutation.name, "silently wrong", "accepted")
    try:
        if _non_finite(result):
            raise AssertionError("NaN or inf in the result")
        entry.validate(result, kwargs)
    except AssertionError as err:
        return Outcome(entry.name, argument, mutation.name, "silently wrong", str(err) or "invalid")
    return Outcome(entry.name, argument, mutation.name, "valid result")


_DTYPES = [
    torch.uint8,
    torch.int64,
    torch.bool,
    torch.float16,
    torch.float32,
    torch.float64,
    torch.complex64,
]


def random_tensor(v: Any, r: np.random.Generator) -> Any:
    """A random tensor: 0 to 5 dimensions of 0 to 6 elements, a random dtype, normal, huge,
    NaN or inf values; as a numpy array half of the time."""
    shape = tuple(int(n) for n in r.integers(0, 7, int(r.integers(0, 6))))
    values = torch.from_numpy(np.asarray(r.normal(size=shape) * 10.0 ** float(r.integers(-2, 30))))
    fill = r.random()
    if fill < 0.15 and values.numel():
        values.view(-1)[0] = math.nan
    elif fill < 0.3 and values.numel():
        values.view(-1)[-1] = math.inf
    out = values.to(_DTYPES[int(r.integers(len(_DTYPES)))])
    return out.numpy() if r.random() < 0.5 and out.dtype != torch.bfloat16 else out


RANDOM = Mutation("random tensor", random_tensor, False)  # may happen to be valid: then checked


def all_cases(tmp: Path) -> list[tuple[Entry, str, Mutation]]:
    return [
        (entry, argument, mutation)
        for entry in entries(tmp)
        for argument, (kind, _) in entry.args.items()
        for mutation in KINDS[kind]
    ]


def sweep(tmp: Path) -> list[Outcome]:
    return [run_case(e, a, m) for e, a, m in all_cases(tmp)]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = sweep(Path(tmp))
    counts = Counter(o.kind for o in outcomes)
    print(f"{len(outcomes)} bad inputs over {len(entries(Path('.')))} entries: {dict(counts)}")
    for o in outcomes:
        if o.kind not in ("clear error", "valid result", "skipped"):
            print(f"  {o.kind}: {o.entry} {o.argument}={o.mutation}: {o.detail[:160]}")


if __name__ == "__main__":
    main()
