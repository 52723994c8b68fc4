"""The machine and library versions recorded with every benchmark report."""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

from saliencyaug._opencv import require_cv2
from saliencyaug._version import __version__


def machine_header(timing: str = "") -> dict[str, Any]:
    """Versions, CPU and GPU of this machine, and a note on how times were taken."""
    try:
        opencv = require_cv2().__version__
    except ImportError:
        opencv = "not installed"
    import numba
    import torch

    header = {
        "saliencyaug": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "torch": torch.__version__,
        "opencv": opencv,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    if timing:
        header["timing"] = timing
    return header


__all__ = ["machine_header"]
