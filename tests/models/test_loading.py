"""Loading encoders from checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from saliencyaug.cli import main
from saliencyaug.models import load_encoder


def test_load_encoder_layouts_and_errors(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tv = torchvision.models.resnet18()
    torch.save({"state_dict": tv.state_dict()}, tmp_path / "tv.pt")
    enc = load_encoder(tmp_path / "tv.pt").eval()
    x = torch.randn(1, 3, 64, 64)
    tv.fc = torch.nn.Identity()
    with torch.no_grad():
        torch.testing.assert_close(enc(x).pooled, tv.eval()(x))
    torch.save({"weights": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="neither"):
        load_encoder(tmp_path / "bad.pt")
    assert (
        main(
            [
                "eval",
                "--checkpoint",
                str(tmp_path / "bad.pt"),
                "--train",
                "a",
                "--test",
                "b",
                "--out",
                str(tmp_path / "r.json"),
            ]
        )
        == 2
    )
