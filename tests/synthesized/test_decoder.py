"""FeatureDecoder and its pre-training."""

from __future__ import annotations

import pytest
import torch

from saliencyaug.models import ResNetBackbone
from saliencyaug.synthesized import FeatureDecoder, pretrain_decoder


@pytest.mark.parametrize(("dim", "size"), [(512, 64), (512, 128), (2048, 224), (512, 224)])
def test_output_shape_and_range(dim: int, size: int) -> None:
    dec = FeatureDecoder(dim, size)
    out = dec(torch.randn(2, dim) * 10)
    assert out.shape == (2, 3, size, size) and out.min() >= 0 and out.max() <= 1


def test_bad_sizes() -> None:
    with pytest.raises(ValueError, match="output_size"):
        FeatureDecoder(512, 100)
    with pytest.raises(ValueError, match="output_size"):
        FeatureDecoder(512, 3)
    with pytest.raises(ValueError, match=r"\(B, 512\)"):
        FeatureDecoder(512, 64)(torch.randn(2, 256))


def test_pretraining_lowers_the_reconstruction_loss_on_bundled_photos() -> None:
    import cv2
    import skimage.data

    photos = [
        skimage.data.astronaut(),
        skimage.data.chelsea(),
        skimage.data.coffee(),
        skimage.data.rocket(),
    ]
    x = (
        torch.stack(
            [
                torch.from_numpy(cv2.resize(p, (64, 64), interpolation=cv2.INTER_AREA)).permute(
                    2, 0, 1
                )
                for p in photos
            ]
        ).float()
        / 255
    )
    torch.manual_seed(0)
    backbone = ResNetBackbone("resnet18")
    frozen = {k: v.clone() for k, v in backbone.state_dict().items()}
    decoder = FeatureDecoder(512, 64)
    history = pretrain_decoder(
        lambda b: backbone(b).pooled, decoder, [x], epochs=30, lr=3e-3, encoder_modules=[backbone]
    )
    assert history[-1] < 0.5 * history[0]
    assert all(
        torch.equal(v, backbone.state_dict()[k]) for k, v in frozen.items()
    )  # encoder untouched
    assert backbone.training  # its mode restored
