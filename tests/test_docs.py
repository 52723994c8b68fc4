"""Every ``python`` code block in README.md and docs/ runs as written, on its own: each block
in a fresh namespace and an empty temporary folder, as a reader pasting just that block would
run it.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """``(line, code)`` of each fenced ``python`` block of a Markdown page."""
    text = path.read_text(encoding="utf-8")
    return [
        (text[: m.start()].count("\n") + 2, textwrap.dedent(m.group("body")))
        for m in FENCE.finditer(text)
    ]


PAGES_WITH_CODE = [p for p in PAGES if python_blocks(p)]


def test_the_extractor_finds_blocks() -> None:
    page = "text\n\n```python\nx = 1\n```\n\n!!! note\n    ```python\n    y = x + 1\n    ```\n"
    tmp = ROOT / "tests" / "_snippet_probe.md"
    try:
        tmp.write_text(page)
        assert python_blocks(tmp) == [(4, "x = 1\n"), (9, "y = x + 1\n")]
    finally:
        tmp.unlink()
    assert len(PAGES_WITH_CODE) >= 6


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: p.name)
def test_python_blocks_run_as_written(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each block on its own, as a reader pasting just that block would run it: its own
    # namespace, its own empty folder
    for k, (line, code) in enumerate(python_blocks(page)):
        folder = tmp_path / f"block{k}"
        folder.mkdir()
        monkeypatch.chdir(folder)
        torch.manual_seed(0)
        namespace: dict[str, object] = {"__name__": "__snippet__"}
        exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
