"""DeferredChecks: the losses' value checks without a host read per call.

On a GPU, ``bool(t)``, ``t.item()``, ``int(t)``, ``float(t)`` and ``t.tolist()`` wait for every
queued kernel; a training step that makes them stalls the device. The test counts those
conversions (on any device, so it runs on CPU CI) in the calls the reference trainers make in
a step, and checks that with DeferredChecks the same bad values still raise the same errors,
at ``raise_if_failed``."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import nn

from saliencyaug import DeferredChecks
from saliencyaug.losses import MoCoLoss, byol_loss, saliency_alignment_loss
from saliencyaug.memory import MemoryQueue
from saliencyaug.models import ConvPredictor, ConvProjector
from saliencyaug.models.ema import ema_copy, ema_update
from saliencyaug.synthesized import DecoderPairObjective, FeatureDecoder

READS = ("__bool__", "item", "__int__", "__float__", "tolist", "__index__")


@contextmanager
def host_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record every tensor-to-Python conversion made inside the block."""
    seen: list[str] = []
    with monkeypatch.context() as m:
        for name in READS:
            original = getattr(torch.Tensor, name)

            def spy(self: torch.Tensor, *args: object, _name: str = name, _f: Callable = original):
                seen.append(_name)
                return _f(self, *args)

            m.setattr(torch.Tensor, name, spy)
        yield seen


def _byol_cvsa_step() -> None:
    """The losses of one BYOL + CVSA step, as examples/train_byol.py calls them."""
    torch.manual_seed(0)
    b = 4
    p, z = torch.randn(2 * b, 16, requires_grad=True), torch.randn(2 * b, 16)
    projector, predictor = ConvProjector(32, 24, 16), ConvPredictor(16, 24, 16)
    maps = torch.randn(2 * b, 32, 4, 4, requires_grad=True)
    z_map = projector(maps)
    p_map = predictor(z_map)
    masks = (torch.randint(0, 2, (b, 1, 32, 32), dtype=torch.uint8),) * 2
    loss = byol_loss((p[:b], p[b:]), (z[:b], z[b:]))
    align = saliency_alignment_loss(
        (p_map[:b], p_map[b:]), (z_map[:b].detach(), z_map[b:].detach()), masks
    )
    (loss + align).backward()


def _moco_pairs_step(contrastive: MoCoLoss, pairs: DecoderPairObjective) -> None:
    """The losses of one MoCo v2 + decoder-pair step, as examples/train_moco.py calls them."""
    torch.manual_seed(1)
    encoder = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    projector = nn.Linear(8, 16)
    key_encoder = ema_copy(encoder)
    x1, x2 = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    query = projector(encoder(x1))
    with torch.no_grad():
        keys = projector(key_encoder(x2))
    loss = contrastive(query, keys)
    extra = pairs(
        encoder=encoder,
        projector=projector,
        decoder=FeatureDecoder(8, 16, base_channels=8),
        images=torch.rand(4, 3, 16, 16),
        augmented_features=encoder(x2).detach(),
    )
    (loss + extra.loss).backward()
    ema_update(key_encoder, encoder, 0.99)


def test_a_training_step_reads_nothing_back_under_deferred_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    contrastive = MoCoLoss(16, 64)
    pairs = DecoderPairObjective(feature_dim=8, bank_size=32)
    for _ in range(2):  # the queue and the bank hold vectors from the second step on
        with host_reads(monkeypatch) as eager:
            _byol_cvsa_step()
            _moco_pairs_step(contrastive, pairs)
        assert eager, "the spy must see the checks' reads without DeferredChecks"
        with DeferredChecks() as checks, host_reads(monkeypatch) as deferred:
            _byol_cvsa_step()
            _moco_pairs_step(contrastive, pairs)
        assert deferred == []
        assert not checks._flags  # leaving the block read them (and found nothing wrong)


def test_a_bad_value_raises_at_raise_if_failed_with_the_eager_message() -> None:
    p = torch.randn(4, 8)
    bad = torch.full((4, 8), float("nan"))
    with pytest.raises(ValueError, match=r"projections\[0\] contains NaN or inf") as eager:
        byol_loss((p, p), (bad, p))
    with DeferredChecks() as checks:
        byol_loss((p, p), (bad, p))  # no error here
        with pytest.raises(ValueError, match="deferred check") as later:
            checks.raise_if_failed()
        assert str(eager.value) in str(later.value)
        checks.raise_if_failed()  # the flags start afresh
        byol_loss((p, p), (p, p))
    with pytest.raises(ValueError, match=r"projections\[1\]"), DeferredChecks():
        byol_loss((p, p), (p, bad))  # leaving the block raises what is pending


@pytest.mark.parametrize(
    ("mask", "valid"),
    [
        (torch.tensor([[0, 1], [1, 0]], dtype=torch.uint8), True),
        (torch.tensor([[0, 255], [255, 0]], dtype=torch.uint8), True),
        (torch.tensor([[0.0, 0.25], [1.0, 0.5]]), True),  # soft targets
        (torch.tensor([[0.0, 255.0], [255.0, 0.0]]), True),
        (torch.tensor([[0, 3], [1, 0]], dtype=torch.uint8), False),
        (torch.tensor([[0.0, 2.0], [1.0, 0.0]]), False),
        (torch.tensor([[0.0, float("nan")], [1.0, 0.0]]), False),
    ],
)
def test_masks_follow_the_same_rule_with_deferred_checks(mask: torch.Tensor, valid: bool) -> None:
    from saliencyaug.losses.alignment import downsample_mask

    masks = mask.expand(2, 1, 2, 2)
    if valid:
        eager = downsample_mask(masks, (1, 1))
        with DeferredChecks():
            torch.testing.assert_close(downsample_mask(masks, (1, 1)), eager)
    else:
        with pytest.raises(ValueError, match=r"binary mask|NaN"):
            downsample_mask(masks, (1, 1))
        with pytest.raises(ValueError, match="mask must be a binary mask"), DeferredChecks():
            downsample_mask(masks, (1, 1))


def test_memory_queue_stores_zeros_for_bad_rows_and_fails_the_check() -> None:
    rows = torch.tensor([[1.0, 0.0], [float("nan"), 1.0], [0.0, 1.0]])
    eager = MemoryQueue(2, 4)
    with pytest.warns(RuntimeWarning, match="1 of 3 vectors"):
        eager.add(rows)
    assert eager.features().tolist() == [[1.0, 0.0], [0.0, 1.0]]
    deferred = MemoryQueue(2, 4)
    with pytest.raises(ValueError, match=r"MemoryQueue\.add vectors contain NaN"), DeferredChecks():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            deferred.add(rows)
        assert deferred.features().tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]


def test_memory_queue_position_follows_loads_and_moves() -> None:
    """The host copy of the write position is dropped when the buffers change outside add()."""
    a, b = MemoryQueue(1, 3), MemoryQueue(1, 3)
    for v in range(5):
        a.add(torch.tensor([[float(v)]]))
    b.add(torch.tensor([[9.0]]))
    b.load_state_dict(a.state_dict())
    assert len(b) == 3 and b.features().flatten().tolist() == [2.0, 3.0, 4.0]
    b.add(torch.tensor([[5.0]]))
    assert b.features().flatten().tolist() == [3.0, 4.0, 5.0]
    c = MemoryQueue(1, 3).to(torch.float64)
    c.load_state_dict(b.state_dict())
    c.add(torch.tensor([[6.0]]))
    assert c.features().flatten().tolist() == [4.0, 5.0, 6.0]
    b.ptr.fill_(0)  # an outside in-place change
    b.add(torch.tensor([[7.0]]))
    assert b.memory.flatten().tolist() == [7.0, 4.0, 5.0]


class _BadMasks(torch.utils.data.Dataset[torch.Tensor]):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> torch.Tensor:
        from saliencyaug import _checks

        return _checks.binary_mask("the sample's Mask", torch.tensor([[0, 3]], dtype=torch.uint8))


def test_dataloader_workers_forked_inside_the_block_check_at_once() -> None:
    """Workers inherit the context variable but nobody reads their flags: they must raise."""
    loader = torch.utils.data.DataLoader(_BadMasks(), batch_size=1, num_workers=1)
    with DeferredChecks(), pytest.raises(ValueError, match="must be a binary mask"):
        next(iter(loader))
