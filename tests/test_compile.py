"""torch.compile(fullgraph=True) on every loss, head, the MoCo queue and the batched swap's
kernel: no graph breaks (the ``eager`` backend finds them without a compiler), and the same
values and gradients as eager mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from saliencyaug import losses as L
from saliencyaug.models import ConvPredictor, ConvProjector, MLPHead
from saliencyaug.transforms import BatchSaliencySwap


def _inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    v = {k: torch.randn(4, 16, generator=g) for k in ("p1", "p2", "z1", "z2")}
    v.update({k: torch.randn(4, 8, 4, 4, generator=g) for k in ("pm1", "pm2", "zm1", "zm2")})
    v["m1"] = (torch.rand(4, 16, 16, generator=g) > 0.5).float()
    v["m2"] = (torch.rand(4, 16, 16, generator=g) > 0.5).float()
    return v


CASES: dict[str, Callable[[dict[str, torch.Tensor]], Any]] = {
    "negative_cosine": lambda v: L.negative_cosine(v["p1"], v["z1"]),
    "byol_loss": lambda v: L.byol_loss((v["p1"], v["p2"]), (v["z1"], v["z2"])),
    "info_nce": lambda v: L.info_nce(v["p1"], v["z1"], negatives=v["z2"]),
    "nt_xent": lambda v: L.nt_xent(v["p1"], v["z1"]),
    "nt_xent decoupled": lambda v: L.nt_xent(v["p1"], v["z1"], decoupled=True),
    "saliency_alignment_loss": lambda v: L.saliency_alignment_loss(
        (v["pm1"], v["pm2"]), (v["zm1"], v["zm2"]), (v["m1"], v["m2"])
    ),
    "cvsa_loss": lambda v: (
        L.cvsa_loss(
            (v["p1"], v["p2"]),
            (v["z1"], v["z2"]),
            (v["pm1"], v["pm2"]),
            (v["zm1"], v["zm2"]),
            (v["m1"], v["m2"]),
        ).total
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_losses_compile_without_graph_breaks(name: str) -> None:
    fn = CASES[name]
    eager_inputs = {
        k: t.clone().requires_grad_(t.is_floating_point()) for k, t in _inputs().items()
    }
    compiled_inputs = {
        k: t.clone().requires_grad_(t.is_floating_point()) for k, t in _inputs().items()
    }
    torch._dynamo.reset()
    expected = fn(eager_inputs)
    got = torch.compile(fn, fullgraph=True, backend="eager")(compiled_inputs)
    torch.testing.assert_close(got, expected)
    expected.backward()
    got.backward()
    for key in ("p1", "z1"):
        if eager_inputs[key].grad is not None:
            torch.testing.assert_close(compiled_inputs[key].grad, eager_inputs[key].grad)


@pytest.mark.parametrize(
    ("head", "shape"),
    [
        (MLPHead(16, 32, 8), (4, 16)),
        (ConvProjector(8, 16, 8), (4, 8, 4, 4)),
        (ConvPredictor(8, 16, 8), (4, 8, 4, 4)),
    ],
)
def test_heads_compile(head: torch.nn.Module, shape: tuple[int, ...]) -> None:
    x = torch.randn(*shape)
    head.eval()
    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(head, fullgraph=True, backend="eager")(x), head(x))


def test_moco_queue_compiles_and_matches_eager() -> None:
    torch.manual_seed(0)
    eager, compiled = L.MoCoLoss(16, 32), L.MoCoLoss(16, 32)
    compiled.load_state_dict(eager.state_dict())
    step = torch.compile(compiled, fullgraph=True, backend="eager")
    torch._dynamo.reset()
    for _ in range(3):
        q, k = torch.randn(4, 16), torch.randn(4, 16)
        torch.testing.assert_close(step(q, k), eager(q, k))
    assert torch.equal(compiled.queue.memory, eager.queue.memory)
    assert int(compiled.queue.ptr) == int(eager.queue.ptr) == 12


def test_batched_swap_kernel_compiles() -> None:
    swap = BatchSaliencySwap()
    images = torch.rand(4, 3, 32, 32)
    boxes = torch.tensor(
        [[4, 4, 20, 20], [2, 6, 30, 28], [0, 0, 16, 16], [8, 8, 31, 31]], dtype=torch.float32
    )
    params = swap.make_params(boxes, (32, 32))  # random draws stay eager, as in torchvision
    torch._dynamo.reset()
    out, masks = torch.compile(lambda x: swap.replay(x, params), fullgraph=True, backend="eager")(
        images
    )
    ref_out, ref_masks = swap.replay(images, params)
    assert torch.equal(out, ref_out) and torch.equal(masks, ref_masks)
