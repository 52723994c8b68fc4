"""The distributions users install: the wheel and sdist build, pass ``twine check``, install
into a clean target, import from there, run a doctest, and hold what they should."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_and_sdist_build_check_install_and_import(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    names = zipfile.ZipFile(wheel).namelist()
    assert "saliencyaug/py.typed" in names
    assert "saliencyaug/training/recipes/cvsa-table1-cub.toml" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    top = {n.split("/")[0] for n in names}
    assert top == {"saliencyaug", wheel.name.split("-py3")[0] + ".dist-info"}, top
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    for unwanted in ("tests/", "benchmarks/", "examples/"):
        assert not [m for m in members if f"/{unwanted}" in m], unwanted
    assert any(m.endswith("/LICENSE") for m in members)
    assert any(m.endswith("/CITATION.cff") for m in members)

    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    code = (
        "import doctest, saliencyaug, saliencyaug.boxes.geometry as g;"
        "print(saliencyaug.__file__);"
        "print(saliencyaug.__version__);"
        "print(doctest.testmod(g).failed)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    where, version, failed = ran.stdout.split()
    assert where.startswith(str(target)) and failed == "0"
    assert version == wheel.name.split("-")[1]
