"""Style: the code base is ruff-clean (run as part of the test suite so CI enforces it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the [test] extra")
def test_ruff_clean() -> None:
    paths = [p for p in ("src", "tests", "benchmarks", "examples") if (ROOT / p).exists()]
    for command in (["ruff", "check"], ["ruff", "format", "--check"]):
        res = subprocess.run(
            [*command, *paths], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert res.returncode == 0, res.stdout + res.stderr


def test_package_is_typed() -> None:
    import saliencyaug

    assert (Path(saliencyaug.__file__).parent / "py.typed").exists()


def _docstrings() -> list[tuple[str, int, str]]:
    import ast

    found = []
    for path in sorted((ROOT / "src" / "saliencyaug").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node, clean=False)
                if doc:
                    line = node.body[0].lineno if node.body else 0
                    found.append((str(path.relative_to(ROOT)), line, doc))
    return found


def test_docstrings_parse_as_google_sections() -> None:
    # griffe (the docs build, strict) warns on both: an "Args" entry naming two parameters
    # ("mean, std: ...") matches no parameter, and "Example:" is not a section, so its ">>>"
    # lines render as block quotes whose "x[0]" become broken cross-references.
    import re

    joined = re.compile(r"^\s+[A-Za-z_]\w*(, [A-Za-z_]\w*)+( \([^)]*\))?: ")
    problems = []
    for path, line, doc in _docstrings():
        in_args = False
        for text in doc.splitlines():
            stripped = text.strip()
            if stripped == "Example:":
                problems.append(f"{path}:{line}: 'Example:' (use 'Examples:')")
            if stripped in {"Args:", "Arguments:", "Parameters:"}:
                in_args = True
            elif stripped.endswith(":") and not text.startswith(" " * 8) and in_args:
                in_args = stripped in {"Args:", "Arguments:", "Parameters:"}
            if in_args and joined.match(text):
                problems.append(f"{path}:{line}: several parameters on one line: {stripped}")
    assert not problems, "\n".join(problems)


def test_docs_extras_are_pinned() -> None:
    # what builds strictly today must build the same way on a fresh install
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["docs"]
    assert extras and all("==" in spec for spec in extras), extras


def test_files_included_in_the_docs_have_no_relative_links() -> None:
    # a file pulled into a docs page with "--8<--" keeps its links, which then resolve against
    # docs/ and fail the strict build; such files name repository paths in code instead
    import re

    link = re.compile(r"\]\((?!https?://|#)[^)]+\)")
    for page in sorted((ROOT / "docs").glob("*.md")):
        for included in re.findall(r'^--8<-- "([^"]+)"', page.read_text(), flags=re.M):
            text = (ROOT / included).read_text()
            assert not link.findall(text), (page.name, included, link.findall(text))
