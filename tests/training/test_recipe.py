"""Recipes: packaged and user files, extends, overrides as users type them, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliencyaug.training import (
    DEFAULTS,
    RecipeError,
    apply_overrides,
    list_recipes,
    load_recipe,
    recipe_differences,
)


@pytest.mark.parametrize("name", list_recipes())
def test_every_packaged_recipe_loads_and_states_what_it_reproduces(name: str) -> None:
    recipe = load_recipe(name)
    assert set(recipe) == set(DEFAULTS)
    assert recipe["paper"]["reproduces"]
    if not name.startswith(("smoke", "first-stage", "short")):  # no paper number to target
        assert recipe["paper"]["table"] and recipe["paper"]["target"]
        assert recipe["paper"]["evaluation"]
        assert recipe["data"]["root"] and recipe["data"]["dataset"] != "bundled"


def test_paper_settings_of_the_main_recipes() -> None:
    table1 = load_recipe("cvsa-table1-cub")
    assert table1["model"]["init"] == "" and table1["model"]["freeze_stages"] == 0
    assert table1["optim"]["optimizer"] == "lars" and table1["optim"]["batch_size"] == 1024
    assert load_recipe("cvsa-table1-cars")["optim"]["base_lr"] == 0.3
    dual = load_recipe("cvsa-dual-stage-nabirds")
    assert dual["model"]["freeze_stages"] == 2 and dual["model"]["init"]
    assert (
        dual["data"]["dataset"] == "nabirds" and dual["paper"]["target"]["fine-tune top-1"] == 79.64
    )
    moco = load_recipe("moco-pairs-table1-aircraft")
    assert moco["moco"]["queue"] <= 6667 - 128 and moco["optim"]["base_lr"] == 0.03
    assert moco["optim"]["optimizer"] == "sgd" and moco["pairs"]["enabled"]
    assert load_recipe("simsiam-table3-cub")["simsiam"]["fix_predictor_lr"]


def test_overrides_as_typed_on_a_shell() -> None:
    recipe = apply_overrides(
        load_recipe("smoke-byol"),
        [
            'data.root="/data/CUB_200_2011"',  # quotes that reached us
            "data.split=test",
            "optim.base_lr=1e-3",
            "optim.epochs=5",
            "train.amp=no",
            "views.scale=0.3,1",
            "views.rrc_scale=[0.2, 1.0]",
            "model.init=",
            "model.backbone={widths = [4, 8, 16, 32]}",
        ],
    )
    assert recipe["data"]["root"] == "/data/CUB_200_2011" and recipe["data"]["split"] == "test"
    assert recipe["optim"]["base_lr"] == 1e-3 and recipe["optim"]["epochs"] == 5
    assert recipe["train"]["amp"] is False and recipe["views"]["scale"] == [0.3, 1.0]
    assert recipe["views"]["rrc_scale"] == [0.2, 1.0] and recipe["model"]["init"] == ""
    assert recipe["model"]["backbone"] == {"widths": [4, 8, 16, 32]}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.epochs=two", "whole number"),
        ("optim.epochs=2.5", "whole number"),
        ("optim.lr=0.1", "did you mean optim.base_lr"),
        ("train.amp=maybe", "true or false"),
        ("views.scale=a,b", "list of float"),
        ("nothing", "section.key=value"),
    ],
)
def test_bad_overrides_name_the_key(override: str, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        apply_overrides(load_recipe("smoke-byol"), [override])


def test_user_files_extend_and_typos_are_errors(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "cvsa-table1-cub"\n[optim]\nepochs = 10\n')
    recipe = load_recipe(mine)
    assert recipe["optim"]["epochs"] == 10 and recipe["optim"]["batch_size"] == 1024
    child = tmp_path / "child.toml"
    child.write_text('extends = "mine.toml"\n[data]\nsize = 128\n')
    assert load_recipe(child)["optim"]["epochs"] == 10  # relative to the extending file
    for text, message in [
        ("[optim]\nbatchsize = 4\n", "did you mean optim.batch_size"),
        ("[optimiser]\nbatch_size = 4\n", r"did you mean \[optim\]"),
        ("[optim]\nbatch_size = 'four'\n", "must be a int"),
        ("[optim\n", "not valid TOML"),
    ]:
        mine.write_text(text)
        with pytest.raises(RecipeError, match=message):
            load_recipe(mine)
    with pytest.raises(RecipeError, match="did you mean smoke-byol"):
        load_recipe("smoke-byl")
    with pytest.raises(RecipeError, match="cannot read"):
        load_recipe(tmp_path / "missing.toml")


def test_differences_ignore_what_a_resumed_run_may_change() -> None:
    a = load_recipe("smoke-cvsa")
    b = apply_overrides(a, ["data.root=/elsewhere", "train.log_every=5", "data.num_workers=4"])
    assert recipe_differences(a, b) == []
    c = apply_overrides(a, ["optim.base_lr=30", "cvsa.weight=2", "train.seed=1"])
    assert recipe_differences(a, c) == [
        "cvsa.weight: 1.0 -> 2.0",
        "optim.base_lr: 0.3 -> 30.0",
        "train.seed: 0 -> 1",
    ]
