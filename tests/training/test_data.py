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
    reads_boxes,
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


def test_recipe_blur_reaches_the_views(tmp_path: Path) -> None:
    from torchvision.transforms import v2

    recipe = apply_overrides(
        load_recipe("smoke-byol"),
        ["data.size=32", "views.blur_p=1.0", "views.blur_sigma=[0.2, 0.4]", "views.blur_kernel=5"],
    )
    pipeline = training_dataset(recipe, tmp_path).transform.views.transform
    blurs = [t for t in pipeline.transforms if isinstance(t, v2.RandomApply)]
    (blur,) = [t for t in blurs if isinstance(t.transforms[0], v2.GaussianBlur)]
    assert blur.p == 1.0 and blur.transforms[0].kernel_size == (5, 5)
    assert blur.transforms[0].sigma == [0.2, 0.4]


def test_queue_longer_than_the_data_set_warns() -> None:
    with pytest.warns(UserWarning, match=r"own image.*at most 5866"):
        assert not check_queue_length(65536, 5994, 128)
    assert check_queue_length(4096, 5994, 128)


def _photo_folder(root: Path) -> Path:
    from PIL import Image
    from skimage import data

    for i, name in enumerate(("chelsea", "coffee", "astronaut", "rocket")):
        target = root / ("a" if i % 2 else "b") / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(getattr(data, name)()).save(target)
    return root


@pytest.mark.filterwarnings("ignore:moco.queue")  # 4 images: the smoke queue is long for them
@pytest.mark.parametrize(
    ("recipe", "script", "builds"),
    [
        ("smoke-byol", "train_byol", False),  # RandomResizedCrop views: nothing reads boxes
        ("smoke-moco-pairs", "train_moco", False),
        ("smoke-cvsa", "train_byol", True),  # the alignment loss reads the box masks
    ],
)
def test_a_recipe_builds_boxes_only_when_it_reads_them(
    recipe: str, script: str, builds: bool, tmp_path: Path
) -> None:
    import importlib.util

    from saliencyaug.training import run_trainer

    images = _photo_folder(tmp_path / "images")
    path = Path(__file__).resolve().parents[2] / "examples" / f"{script}.py"
    spec = importlib.util.spec_from_file_location(script, path)
    assert spec is not None and spec.loader is not None
    trainer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trainer)
    out, cache = tmp_path / "run", tmp_path / "box-cache"
    overrides = ["data.dataset=folder", f"data.root={images}", f"data.box_cache={cache}"]
    overrides += ["optim.max_steps=1", "eval.train_root=", "eval.test_root="]
    argv = ["--recipe", recipe, "--out", str(out), "--set", *overrides]
    assert run_trainer(trainer.train, "boxes", argv) == 0
    assert reads_boxes(load_recipe(recipe)) is builds
    box_files = [
        p for p in [*cache.rglob("*.jsonl"), *out.rglob("*.jsonl")] if p.name != "log.jsonl"
    ]
    assert len(box_files) == (1 if builds else 0), box_files


def test_reads_boxes_follows_views_and_losses() -> None:
    byol = load_recipe("smoke-byol")
    assert not reads_boxes(byol)
    assert reads_boxes(apply_overrides(byol, ["views.first=saliencyswap"]))
    assert reads_boxes(apply_overrides(byol, ["cvsa.enabled=true"]))
