"""The package's architecture, checked from the source: layers from low to high, no import
cycles, in-package imports at module top (never hidden inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "saliencyaug"

# Low to high. A module may import modules of its own layer or of lower layers only.
LAYERS: list[list[str]] = [
    ["_checks", "_opencv", "_version", "io", "distributed"],  # primitives without a domain
    ["image", "boxes", "memory"],  # image and box primitives
    ["saliency", "losses", "models"],  # detectors, losses, networks
    ["synthesized"],  # the second paper's parts (perturbers, decoder, objective)
    ["data"],  # box files and datasets
    ["transforms"],  # SaliencySwap and its helpers
    ["evaluation"],  # probes, retrieval, MaxBoxAcc, reports
    ["visualize", "demo"],  # pictures
    ["training"],  # recipes, run folders, loaders and optimisers of the reference trainers
    ["bench", "study"],  # benchmarks and the study
    ["cli"],  # the command line
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def layer_of(module: str) -> int:
    """The layer of a module (by its first component below the package); the package root,
    a facade that re-exports, sits above every layer."""
    if module == PACKAGE:
        return len(LAYERS)
    first = module.split(".")[1]
    for i, names in enumerate(LAYERS):
        if first in names:
            return i
    raise AssertionError(f"{module} is in no declared layer; add it to LAYERS in {__file__}")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The in-package modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == PACKAGE]
    if node.level or not node.module or node.module.split(".")[0] != PACKAGE:
        return []
    out = []
    for alias in node.names:
        sub = f"{node.module}.{alias.name}"
        out.append(sub if sub in MODULES else node.module)
    return out


def imports_of(path: Path) -> tuple[list[str], list[str], list[tuple[int, str]]]:
    """``(runtime, type_checking, nested)``: in-package imports at module top, those under
    ``if TYPE_CHECKING:``, and ``(line, module)`` of those inside functions or classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    runtime: list[str] = []
    typing_only: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            runtime += _targets(node)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    typing_only += _targets(sub)
    top = {id(n) for n in tree.body}
    tc = {
        id(sub)
        for n in tree.body
        if isinstance(n, ast.If) and _is_type_checking(n)
        for sub in ast.walk(n)
    }
    nested = [
        (node.lineno, t)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top | tc
        for t in _targets(node)
    ]
    return runtime, typing_only, nested


def test_every_module_is_in_a_layer() -> None:
    assert len(MODULES) > 40
    for module in MODULES:
        layer_of(module)


def test_no_module_imports_a_higher_layer() -> None:
    bad = []
    for module, path in MODULES.items():
        runtime, typing_only, nested = imports_of(path)
        for target in runtime + typing_only + [t for _, t in nested]:
            if layer_of(target) > layer_of(module):
                bad.append(
                    f"{module} (layer {layer_of(module)}) imports {target} "
                    f"(layer {layer_of(target)})"
                )
    assert not bad, "\n".join(bad)


def test_in_package_imports_are_at_module_top() -> None:
    bad = [
        f"{path.relative_to(SRC)}:{line} imports {target} inside a function or class"
        for module, path in MODULES.items()
        for line, target in imports_of(path)[2]
    ]
    assert not bad, "\n".join(bad)


def test_no_module_imports_the_package_root() -> None:
    # the root re-exports; a module that imports it for a name would depend on everything
    bad = [m for m, p in MODULES.items() if m != PACKAGE and PACKAGE in imports_of(p)[0]]
    assert not bad, bad


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first search meets, as paths ``a -> ... -> a``."""
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_import_cycles() -> None:
    # a submodule that imports a name from its own package's __init__ shows up as an edge to
    # the package, which (re-exporting) imports the submodule back: a cycle
    graph = {m: set(imports_of(p)[0]) - {m} for m, p in MODULES.items()}
    cycles = find_cycles(graph)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_what_it_should(tmp_path: Path) -> None:
    # the parser finds top-level, TYPE_CHECKING-only and nested in-package imports
    code = (
        "from typing import TYPE_CHECKING\n"
        "from saliencyaug.boxes import Box\n"
        "if TYPE_CHECKING:\n    from saliencyaug.transforms import SaliencySwap\n"
        "def f():\n    from saliencyaug.cli import main\n"
    )
    path = tmp_path / "m.py"
    path.write_text(code)
    runtime, typing_only, nested = imports_of(path)
    assert runtime == ["saliencyaug.boxes"]
    assert typing_only == ["saliencyaug.transforms"]
    assert nested == [(6, "saliencyaug.cli")]
    assert layer_of("saliencyaug.cli") > layer_of("saliencyaug.boxes.search")
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
