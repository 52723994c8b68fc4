"""``benchmarks/gpu.sh``: the GPU benchmark's script, checked on the CPU by its dry run (CI has
no GPU; on a GPU the same code runs at full size)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_the_dry_run_prints_every_part_of_the_table(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--dry-run", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu.json").read_text())
    rows = report["box_search"]
    assert rows[0]["objective"] == "excess" and len(rows) == 4
    assert all(r["maps_per_s"] > 0 for r in rows)
    assert report["swap"]["images_per_s"] > 0
    variants = [r["variant"] for r in report["steps"]]
    assert variants == [
        "BYOL",
        "BYOL + CVSA alignment (stage 4)",
        "MoCo v2",
        "MoCo v2 + decoder-pair objective",
    ]
    assert set(report["ratios"]) == {"BYOL + CVSA / BYOL", "MoCo v2 + pairs / MoCo v2"}
    table = (tmp_path / "gpu.md").read_text()
    assert "| MoCo v2 + decoder-pair objective |" in table and "cpu (dry run)" in table


def test_without_a_gpu_the_full_run_says_so() -> None:
    from saliencyaug.bench import gpu

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the full run would start")
    with pytest.raises(RuntimeError, match=r"no CUDA device.*--dry-run"):
        gpu.run()
