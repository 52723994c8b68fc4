"""saliencyaug beside any single OpenCV wheel: without cv2 at all, and with a cv2 that has no
contrib ``saliency`` module (opencv-python / opencv-python-headless)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(prelude: str, body: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(prelude) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


NO_CV2 = """
import sys
sys.modules["cv2"] = None  # import cv2 now raises ImportError, as without any OpenCV wheel
"""

NO_CONTRIB = """
import cv2
del cv2.saliency  # what opencv-python and opencv-python-headless look like
"""


def test_without_opencv_the_core_works_and_the_rest_says_how_to_install() -> None:
    done = _run(
        NO_CV2,
        """
        import numpy as np, torch
        import saliencyaug
        from saliencyaug.boxes import BoxSearch
        from saliencyaug.losses import byol_loss, saliency_alignment_loss
        from saliencyaug.transforms import SaliencySwap
        from torchvision import tv_tensors
        m = np.zeros((20, 30), np.float32); m[5:10, 8:20] = 1
        assert tuple(BoxSearch("excess")(m)) == (8, 5, 20, 10)
        p = torch.randn(4, 8)
        assert torch.isfinite(byol_loss((p, p.flip(0)), (p, p)))
        img = tv_tensors.Image(torch.randint(0, 255, (3, 40, 40), dtype=torch.uint8))
        box = tv_tensors.BoundingBoxes([[5, 5, 30, 30]], format="XYXY", canvas_size=(40, 40))
        pool = [(img, box, 0), (img, box, 1)]
        out = SaliencySwap(pool, size=32)(img, box)
        from saliencyaug.saliency import get_detector
        try:
            get_detector("rbd")(np.zeros((32, 32, 3), np.uint8))
        except ImportError as err:
            assert "saliencyaug[opencv]" in str(err), err
            print("RBD:", err)
        else:
            raise SystemExit("rbd ran without OpenCV")
        """,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pip install 'saliencyaug[opencv]'" in done.stdout


def test_without_contrib_everything_but_two_detectors_works() -> None:
    done = _run(
        NO_CONTRIB,
        """
        import numpy as np
        from saliencyaug.evaluation import max_box_acc
        from saliencyaug.saliency import get_detector
        from saliencyaug.demo import bundled_photos
        photo = bundled_photos(("coffee",))[0][1]
        for name in ("rbd", "geodesic"):
            assert get_detector(name)(photo).shape == photo.shape[:2]
        cam = np.zeros((7, 7)); cam[2:5, 2:5] = 1
        assert max_box_acc([cam], [[[10, 10, 40, 40]]], [(56, 56)]).v1 == 100.0
        for name in ("spectral_residual", "fine_grained"):
            try:
                get_detector(name)(photo)
            except ImportError as err:
                print(err)
            else:
                raise SystemExit(f"{name} ran without contrib")
        """,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and "'spectral_residual'" in lines[0] and "'fine_grained'" in lines[1]
    for line in lines:
        assert "pip install opencv-contrib-python-headless" in line
        assert "pip uninstall -y opencv-python opencv-python-headless" in line
        assert "rbd or geodesic" in line
