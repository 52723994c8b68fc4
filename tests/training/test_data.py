"""The training data of a recipe: box files tied to the detector and objective that made them,
the views a trainer reads, and the MoCo queue-length check."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from saliencyaug.training import (
    apply_overrides,
    check_queue_length,
    load_recipe,
    training_dataset,
    training_images,
)


def test_changing_the_detector_builds_new_boxes_instead_of_reusing_old(tmp_path: Path) -> None:
    recipe = load_recipe("smoke-cvsa")
    first = training_images(recipe, tmp_path)
    other = apply_overrides(recipe, ["views.detector=fine_grained"])
    second = training_images(other, tmp_path)
    files = sorted(p.name for p in (tmp_path / "boxes").glob("*.jsonl"))
    assert len(files) == 2 and files[0].startswith("fine_grained-excess-")
    assert [s.box for s in first.samples] != [s.box for s in second.samples]
    again = training_images(recipe, tmp_path)  # the first file is reused, not rebuilt
    assert [s.box for s in again.samples] == [s.box for s in first.samples]
    third = training_images(
        apply_overrides(recipe, ["views.objective=mean", "views.box_options={min_area = 0.1}"]),
        tmp_path,
    )
    assert len(list((tmp_path / "boxes").glob("*.jsonl"))) == 3 and len(third) == 6


def test_views_a_trainer_reads(tmp_path: Path) -> None:
    recipe = apply_overrides(load_recipe("smoke-moco-pairs"), ["data.size=32"])
    views, label = training_dataset(recipe, tmp_path)[0]
    assert set(views) == {"view1", "mask1", "view2", "mask2", "clean"}
    assert views["view1"].shape == views["clean"].shape == (3, 32, 32)
    assert views["mask1"].shape[-2:] == (32, 32) and isinstance(label, int)
    assert views["view1"].dtype == torch.float32


def test_queue_longer_than_the_data_set_warns() -> None:
    with pytest.warns(UserWarning, match=r"own image.*at most 5866"):
        assert not check_queue_length(65536, 5994, 128)
    assert check_queue_length(4096, 5994, 128)
