"""Each subpackage imports on its own in a fresh interpreter (no cycle hidden by import order)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import saliencyaug


def test_every_subpackage_imports_alone() -> None:
    # a cycle enters through a package's __init__ (importing a leaf runs its package's
    # __init__ first), so one fresh interpreter per top-level subpackage or module suffices
    names = [m.name for m in pkgutil.iter_modules(saliencyaug.__path__, "saliencyaug.")]
    assert len(names) > 10
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    failures = []
    for name in names:
        res = subprocess.run(
            [sys.executable, "-c", code, name], capture_output=True, text=True, check=False
        )
        if res.returncode != 0:
            failures.append(f"{name}: {res.stderr.strip().splitlines()[-1]}")
    assert not failures, "\n".join(failures)
