"""``saliencyaug recipes``: the packaged training recipes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from saliencyaug.cli._common import fail
from saliencyaug.training.recipe import RecipeError, list_recipes, load_recipe


def add_parser(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """Add the ``recipes`` command to ``sub``."""
    recipes = sub.add_parser(
        name,
        help=summary,
        description="Without NAME: every packaged recipe with what it reproduces. With NAME: "
        "the recipe resolved (its 'extends' chain and --set values applied), as JSON.",
    )
    recipes.add_argument("name", nargs="?", help="a recipe name or .toml file to show")
    recipes.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override values, as the trainers take them (default: none)",
    )
    recipes.set_defaults(run=run_recipes)
    return recipes


def run_recipes(args: argparse.Namespace) -> int:
    """``saliencyaug recipes``."""
    try:
        if args.name:
            print(json.dumps(load_recipe(args.name, args.set), indent=2))
            return 0
        for name in list_recipes():
            paper = load_recipe(name)["paper"]
            target = ", ".join(f"{k} {v}" for k, v in paper["target"].items())
            where = f" [{paper['table']}]" if paper["table"] else ""
            print(f"{name:30s} {paper['reproduces']}{where}{f': {target}' if target else ''}")
    except RecipeError as err:
        return fail(str(err))
    return 0


__all__ = ["add_parser", "run_recipes"]
