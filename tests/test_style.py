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
