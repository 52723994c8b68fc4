"""docs/trainers.md's table of paper settings against recipe settings: every recipe value it
shows is the packaged recipe's value."""

from __future__ import annotations

import json
from pathlib import Path

from saliencyaug.training import load_recipe

DOC = Path(__file__).resolve().parents[2] / "docs" / "trainers.md"


def _rows() -> list[list[str]]:
    rows = []
    in_table = False
    for line in DOC.read_text().splitlines():
        if line.startswith("| setting | paper | recipe | key | value |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_every_recipe_value_in_the_table_is_the_recipes() -> None:
    rows = _rows()
    assert len(rows) >= 40
    for setting, _paper, recipe, key, value in rows:
        section, name = key.split(".")
        actual = load_recipe(recipe)[section][name]
        assert json.loads(value.strip("`")) == actual, (setting, recipe, key, actual)
