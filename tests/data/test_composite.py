"""The composite benchmark: exact boxes, deterministic images in any worker, disjoint probe
backgrounds, shared backgrounds, and a manifest that lists every picture used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from saliencyaug.data import DISTINCT_FACES, CompositeEmoji, Manifest, open_dataset
from saliencyaug.data.assets import FACES


def test_boxes_are_the_alpha_bounding_boxes(composite_assets: Path) -> None:
    ds = CompositeEmoji(composite_assets, "train", length=40, size=64, distractors=1)
    for i in range(len(ds)):
        image, boxes, label = ds[i]
        mask = ds.mask(i)
        ys, xs = np.nonzero(mask)
        assert boxes.tolist() == [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]
        assert image.shape == (3, 64, 64) and image.dtype == torch.uint8
        assert label == ds.label_of(i) == ds.samples[i].label
        assert 0 <= label < len(ds.classes)


def test_the_same_seed_and_index_give_the_same_image_in_any_worker(composite_assets: Path) -> None:
    ds = CompositeEmoji(composite_assets, "pretrain", length=12, size=48, seed=3, share=2)
    direct = torch.stack([ds[i][0] for i in range(12)])

    def collate(items: list) -> torch.Tensor:
        return torch.stack([image for image, _, _ in items])

    loaded = torch.cat(list(DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate)))
    assert torch.equal(direct, loaded)
    again = CompositeEmoji(composite_assets, "pretrain", length=12, size=48, seed=3, share=2)
    assert torch.equal(again[5][0], direct[5])
    other = CompositeEmoji(composite_assets, "pretrain", length=12, size=48, seed=4, share=2)
    assert not torch.equal(other[5][0], direct[5])


def test_probe_backgrounds_never_overlap(composite_assets: Path) -> None:
    train = CompositeEmoji(composite_assets, "train", length=400, size=32)
    test = CompositeEmoji(composite_assets, "test", length=400, size=32)
    pretrain = CompositeEmoji(composite_assets, "pretrain", length=400, size=32)
    test_photos = {test.background_of(i) for i in range(400)}
    train_photos = {train.background_of(i) for i in range(400)}
    assert not test_photos & train_photos
    assert not test_photos & {pretrain.background_of(i) for i in range(400)}
    assert len(train_photos) >= 8 and len(test_photos) >= 3


def test_images_sharing_a_background_share_it_exactly(composite_assets: Path) -> None:
    ds = CompositeEmoji(composite_assets, "pretrain", length=16, size=48, share=4)
    a, mask_a, _ = ds.render(4)
    b, mask_b, _ = ds.render(5)  # same group of 4
    c, _, _ = ds.render(8)  # next group
    outside = ~(mask_a | mask_b)
    # outside both objects (and their antialiased rims) the pixels are the same crop
    rim = np.zeros_like(outside)
    for m in (mask_a, mask_b):
        ys, xs = np.nonzero(m)
        rim[max(0, ys.min() - 2) : ys.max() + 3, max(0, xs.min() - 2) : xs.max() + 3] = True
    keep = outside & ~rim
    assert keep.sum() > 100 and np.array_equal(a[keep], b[keep])
    assert not np.array_equal(a[keep], c[keep])
    assert ds.background_of(4) == ds.background_of(7)


def test_knobs_and_errors(composite_assets: Path) -> None:
    held = CompositeEmoji(composite_assets, "test", length=50, size=32, held_out_style="twemoji")
    assert held.styles == ["openmoji"] and {held.style_of(i) for i in range(50)} == {"openmoji"}
    few = CompositeEmoji(composite_assets, "train", length=200, size=32, classes=5)
    assert len(few.classes) == 5 and {s.label for s in few.samples} == set(range(5))
    chosen = CompositeEmoji(composite_assets, "train", length=40, size=32, classes=DISTINCT_FACES)
    assert chosen.classes == list(DISTINCT_FACES)
    assert {s.label for s in chosen.samples} == set(range(len(DISTINCT_FACES)))
    # class index k is the k-th named emoji: the same name at index 0 pastes the same sprite
    a, same, swapped = (
        CompositeEmoji(composite_assets, "train", length=12, size=32, classes=names)
        for names in (["1f60e", "1f608"], ["1f60e", "1f600"], ["1f608", "1f60e"])
    )
    zeros = [i for i in range(12) if a.label_of(i) == 0]
    assert zeros
    for i in zeros:
        assert torch.equal(a[i][0], same[i][0]) and not torch.equal(a[i][0], swapped[i][0])
    with pytest.raises(ValueError, match="not in every style"):
        CompositeEmoji(composite_assets, classes=["1f608", "nope"])
    with pytest.raises(ValueError, match="at least 2 distinct"):
        CompositeEmoji(composite_assets, classes=["1f608", "1f608"])
    with pytest.raises(TypeError, match="classes must be"):
        CompositeEmoji(composite_assets, classes="1f608")
    small = CompositeEmoji(composite_assets, "train", length=20, size=64, scale=(0.2, 0.25))
    for i in range(20):
        x0, y0, x1, y1 = small[i][1][0].tolist()
        assert max(x1 - x0, y1 - y0) <= 0.25 * 64 * 1.42 + 2  # rotation grows the box
    assert len(open_dataset("composite", composite_assets, "test", length=7, size=32)) == 7
    with pytest.raises(ValueError, match="split"):
        CompositeEmoji(composite_assets, "val")
    with pytest.raises(ValueError, match="held_out_style"):
        CompositeEmoji(composite_assets, held_out_style="comic")
    with pytest.raises(FileNotFoundError, match="saliencyaug assets"):
        CompositeEmoji(composite_assets / "nowhere")


def test_the_manifest_lists_every_picture_used(composite_assets: Path) -> None:
    manifest = json.loads((composite_assets / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {p.relative_to(composite_assets).as_posix() for p in composite_assets.rglob("*.png")}
    assert on_disk == listed
    for f in manifest["files"]:
        assert f["package"] and f["licence"] and f["sha256"]
    ds = CompositeEmoji(composite_assets, "train", length=10, size=32)
    for label in ds.classes:
        for style in ds.styles:
            assert f"emoji/{style}/{label}.png" in listed
    assert len(ds.classes) >= 90 and len(FACES) == 101
    assert Manifest.load(composite_assets).styles() == sorted(ds.styles)
