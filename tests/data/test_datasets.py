"""Dataset loaders on small fake trees in each dataset's on-disk layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat
from torch.utils.data import DataLoader
from torchvision import tv_tensors
from torchvision.transforms import v2

from saliencyaug.data import BoxCache, build_box_cache
from saliencyaug.data.datasets import (
    CUB200,
    FGVCAircraft,
    ImageFolderWithBoxes,
    NABirds,
    StanfordCars,
)
from saliencyaug.transforms import MultiView, SaliencySwap


def _img(path: Path, h: int = 40, w: int = 60, value: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def cub(tmp_path: Path) -> Path:
    root = tmp_path / "CUB_200_2011"
    files = [
        "001.Albatross/a_1.jpg",
        "001.Albatross/a_2.jpg",
        "002.Auklet/b_1.jpg",
        "002.Auklet/b_2.jpg",
    ]
    for f in files:
        _img(root / "images" / f)
    _write(root / "images.txt", [f"{i + 1} {f}" for i, f in enumerate(files)])
    _write(root / "image_class_labels.txt", ["1 1", "2 1", "3 2", "4 2"])
    _write(root / "train_test_split.txt", ["1 1", "2 0", "3 1", "4 0"])
    _write(
        root / "bounding_boxes.txt",
        [
            "1 10.0 5.0 20.0 15.0",
            "2 0.0 0.0 60.0 40.0",
            "3 55.4 30.0 30.0 30.0",
            "4 1.0 2.0 3.0 4.0",
        ],
    )
    _write(root / "classes.txt", ["1 001.Albatross", "2 002.Auklet"])
    return tmp_path


def test_cub_split_labels_boxes(cub: Path) -> None:
    train = CUB200(cub, "train")
    test = CUB200(cub / "CUB_200_2011", "test")
    assert len(train) == 2 and len(test) == 2 and train.classes == ["001.Albatross", "002.Auklet"]
    image, boxes, label = train[0]
    assert isinstance(image, tv_tensors.Image) and image.shape == (3, 40, 60) and label == 0
    assert boxes.tolist() == [[10, 5, 30, 20]]  # x y w h -> x0 y0 x0+w y0+h
    _, boxes, label = train[1]
    assert boxes.tolist() == [[55, 30, 60, 40]] and label == 1  # rounded, clipped to the image
    assert test[1][1].tolist() == [[1, 2, 4, 6]]
    with pytest.raises(ValueError, match="split"):
        CUB200(cub, "val")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"images\.txt"):
        CUB200(cub / "nowhere")


def test_cub_with_saliency_swap_views_collate(cub: Path) -> None:
    swap = SaliencySwap(CUB200(cub, "train"), size=32, mode="replace")
    pipeline = v2.Compose([swap, v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True)])
    ds = CUB200(cub, "train", transform=MultiView(pipeline))
    (views, labels) = next(iter(DataLoader(ds, batch_size=2)))
    assert len(views) == 2
    images, masks = views[0]
    assert (
        images.shape == (2, 3, 32, 32)
        and masks.shape == (2, 1, 32, 32)
        and labels.tolist() == [0, 1]
    )


def test_nabirds_sparse_class_ids(tmp_path: Path) -> None:
    root = tmp_path / "nabirds"
    ids = ["u1", "u2", "u3"]
    for i, u in enumerate(ids):
        _img(root / "images" / f"0{i}" / f"{u}.jpg", 30, 30)
    _write(root / "images.txt", [f"{u} 0{i}/{u}.jpg" for i, u in enumerate(ids)])
    _write(root / "image_class_labels.txt", ["u1 817", "u2 295", "u3 817"])
    _write(root / "train_test_split.txt", ["u1 1", "u2 1", "u3 0"])
    _write(root / "bounding_boxes.txt", ["u1 3 4 10 12", "u2 0 0 30 30", "u3 5 5 5 5"])
    _write(root / "classes.txt", ["0 Birds", "295 Heron", "817 Warbler (Adult)"])
    train = NABirds(tmp_path, "train")
    assert train.classes == ["Heron", "Warbler (Adult)"]
    assert [s.label for s in train.samples] == [1, 0]
    assert train[0][1].tolist() == [[3, 4, 13, 16]]
    assert len(NABirds(root, "test")) == 1


def _mat_struct(records: list[dict]) -> np.ndarray:
    keys = list(records[0])
    arr = np.zeros((1, len(records)), dtype=[(k, "O") for k in keys])
    for i, r in enumerate(records):
        for k in keys:
            arr[0, i][k] = np.array([[r[k]]]) if not isinstance(r[k], str) else np.array([r[k]])
    return arr


def test_stanford_cars_devkit_layout(tmp_path: Path) -> None:
    root = tmp_path / "cars"
    _img(root / "cars_train" / "00001.jpg", 50, 80)
    _img(root / "cars_train" / "00002.jpg", 50, 80)
    _img(root / "cars_test" / "00001.jpg", 50, 80)
    (root / "devkit").mkdir(parents=True)
    names = np.empty((1, 2), dtype=object)
    names[0, 0], names[0, 1] = "AM General Hummer SUV 2000", "Acura RL Sedan 2012"
    savemat(root / "devkit" / "cars_meta.mat", {"class_names": names})
    train = [
        {
            "bbox_x1": 1,
            "bbox_y1": 1,
            "bbox_x2": 80,
            "bbox_y2": 50,
            "class": 2,
            "fname": "00001.jpg",
        },
        {
            "bbox_x1": 11,
            "bbox_y1": 6,
            "bbox_x2": 30,
            "bbox_y2": 25,
            "class": 1,
            "fname": "00002.jpg",
        },
    ]
    savemat(root / "devkit" / "cars_train_annos.mat", {"annotations": _mat_struct(train)})
    test = [
        {"bbox_x1": 5, "bbox_y1": 5, "bbox_x2": 9, "bbox_y2": 9, "class": 1, "fname": "00001.jpg"}
    ]
    savemat(root / "cars_test_annos_withlabels.mat", {"annotations": _mat_struct(test)})
    ds = StanfordCars(root, "train")
    assert ds.classes == ["AM General Hummer SUV 2000", "Acura RL Sedan 2012"]
    assert [(s.label, s.path.name) for s in ds.samples] == [(1, "00001.jpg"), (0, "00002.jpg")]
    assert ds[0][1].tolist() == [[0, 0, 80, 50]]  # 1-based inclusive -> 0-based half-open
    assert ds[1][1].tolist() == [[10, 5, 30, 25]]
    t = StanfordCars(root, "test")
    assert len(t) == 1 and t[0][1].tolist() == [[4, 4, 9, 9]] and t[0][2] == 0


def test_fgvc_aircraft_levels(tmp_path: Path) -> None:
    data = tmp_path / "fgvc-aircraft-2013b" / "data"
    for i in ("1025794", "1340192", "0056978"):
        _img(data / "images" / f"{i}.jpg", 40, 50)
    _write(data / "variants.txt", ["707-320", "A320"])
    _write(data / "families.txt", ["Boeing 707", "A320"])
    _write(data / "manufacturers.txt", ["Boeing", "Airbus"])
    _write(
        data / "images_box.txt", ["1025794 3 4 30 20", "1340192 1 1 50 40", "0056978 10 10 12 12"]
    )
    _write(data / "images_variant_trainval.txt", ["1025794 707-320", "1340192 A320"])
    _write(data / "images_variant_test.txt", ["0056978 A320"])
    _write(data / "images_manufacturer_trainval.txt", ["1025794 Boeing", "1340192 Airbus"])
    ds = FGVCAircraft(tmp_path, "trainval")
    assert ds.classes == ["707-320", "A320"] and [s.label for s in ds.samples] == [0, 1]
    assert ds[0][1].tolist() == [[2, 3, 30, 20]] and ds[1][1].tolist() == [[0, 0, 50, 40]]
    assert FGVCAircraft(tmp_path, "test")[0][2] == 1
    assert [s.label for s in FGVCAircraft(tmp_path, "trainval", level="manufacturer").samples] == [
        0,
        1,
    ]
    with pytest.raises(ValueError, match="level"):
        FGVCAircraft(tmp_path, level="model")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"images_variant_val\.txt"):
        FGVCAircraft(tmp_path, "val")


def test_image_folder_with_box_cache(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    for cls in ("cat", "dog"):
        for i in range(2):
            arr = np.full((30, 40, 3), 20, np.uint8)
            arr[5:20, 10:30] = 220
            _img(root / cls / f"{i}.png", 30, 40)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    (root / "dog" / "bad.jpg").write_bytes(b"garbage")
    out = tmp_path / "boxes.jsonl"
    build_box_cache(root, out, workers=0, progress=False)
    ds = ImageFolderWithBoxes(root, out)
    assert ds.classes == ["cat", "dog"] and len(ds) == 4 and ds.skipped == ["dog/bad.jpg"]
    cache = BoxCache.load(out)
    _, boxes, label = ds[2]
    assert label == 1 and boxes.tolist() == [list(cache.get("dog/0.png"))]
    detect = ImageFolderWithBoxes(root, cache, missing="detect")
    assert len(detect) == 5
    swap = SaliencySwap(str(root / "cat"), size=16, mode="paste")
    views = ImageFolderWithBoxes(root, out, transform=MultiView(swap))[0][0]
    assert len(views) == 2 and views[0][1].shape == (1, 16, 16)
