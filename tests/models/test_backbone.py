"""Backbones beyond torchvision: timm CNNs and transformers, your own module, a small ResNet,
and encoder files that name their architecture."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from saliencyaug.losses import saliency_alignment_loss
from saliencyaug.models import (
    ConvPredictor,
    ConvProjector,
    ModuleBackbone,
    ResNetBackbone,
    TimmBackbone,
    load_encoder,
    make_backbone,
    save_encoder,
    small_resnet,
)
from saliencyaug.synthesized import gradcam_scores

timm = pytest.importorskip("timm")


def test_timm_resnet_maps_are_timms_own_stage_outputs() -> None:
    torch.manual_seed(0)
    backbone = TimmBackbone("resnet18", stages=(1, 2, 3, 4)).eval()
    reference = timm.create_model("resnet18", pretrained=False, num_classes=0).eval()
    reference.load_state_dict(backbone.net.state_dict(), strict=False)
    x = torch.randn(2, 3, 64, 64)
    out = backbone(x)
    with torch.no_grad():
        stem = reference.maxpool(reference.act1(reference.bn1(reference.conv1(x))))
        expected = []
        for layer in (reference.layer1, reference.layer2, reference.layer3, reference.layer4):
            stem = layer(stem)
            expected.append(stem)
        for s in (1, 2, 3, 4):
            torch.testing.assert_close(out.maps[s], expected[s - 1])
        torch.testing.assert_close(out.pooled, reference(x))  # timm's own pooled features
    assert backbone.channels == (64, 128, 256, 512) and backbone.output_dim == 512


def test_tiny_vit_patch_tokens_become_a_spatial_map_for_alignment_and_gradcam() -> None:
    torch.manual_seed(0)
    vit = make_backbone("timm:vit_tiny_patch16_224", stages=(2, 4), img_size=64)
    x = torch.randn(3, 3, 64, 64)
    out = vit(x)
    assert out.maps[4].shape == (3, 192, 4, 4) and out.maps[2].shape == (3, 192, 4, 4)
    # the last map is the final block's patch tokens, class token dropped, in patch order
    tokens = vit.net.model.forward_features(x)
    prefix = vit.net.model.num_prefix_tokens
    grid = tokens[:, prefix:].reshape(3, 4, 4, 192).permute(0, 3, 1, 2)
    torch.testing.assert_close(out.maps[4], grid)
    projector, predictor = ConvProjector(192, 32, 16), ConvPredictor(16, 32, 16)
    masks = torch.zeros(3, 64, 64)
    masks[:, 16:48, 16:48] = 1
    other = vit(x.flip(-1)).maps[4]
    z1, z2 = projector(out.maps[4]), projector(other)
    loss = saliency_alignment_loss((predictor(z1), predictor(z2)), (z1, z2), (masks, masks))
    loss.backward()
    assert vit.net.model.patch_embed.proj.weight.grad is not None
    head = nn.Sequential(nn.Linear(192, 16))
    scores = gradcam_scores(out.pooled.detach(), vit(x.flip(-1)).pooled.detach(), head)
    assert scores.shape == (3, 192) and bool((scores >= 0).all())


def test_swin_nhwc_outputs_are_permuted_and_stages_freeze() -> None:
    swin = TimmBackbone("swin_tiny_patch4_window7_224", stages=(1, 4), img_size=64, window_size=2)
    out = swin(torch.randn(2, 3, 64, 64))
    assert out.maps[1].shape == (2, 96, 16, 16) and out.maps[4].shape == (2, 768, 2, 2)
    cnn = TimmBackbone("resnet18")
    cnn.freeze_stages(2)
    trainable = {n.split(".")[0] for n, p in cnn.net.named_parameters() if p.requires_grad}
    assert trainable == {"layer3", "layer4"}
    cnn.train()
    assert not cnn.net.layer2.training and cnn.net.layer3.training
    with pytest.raises(ValueError, match="freeze_stages supports timm CNNs"):
        make_backbone("timm:vit_tiny_patch16_224", img_size=64).freeze_stages(1)


def test_your_own_module_and_small_resnet() -> None:
    class FourStages(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = nn.ModuleList(
                nn.Conv2d(c, w, 3, 2, 1) for c, w in ((3, 4), (4, 6), (6, 8), (8, 10))
            )

        def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
            maps = {}
            for i, conv in enumerate(self.convs, start=1):
                x = conv(x)
                maps[i] = x
            return maps

    own = make_backbone(FourStages(), stages=(3, 4))
    assert isinstance(own, ModuleBackbone) and own.channels == (4, 6, 8, 10)
    out = own(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(out.pooled, out.maps[4].mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="freeze_stages does not know the stages"):
        own.freeze_stages(2)  # a user's module: which of its parts is a stage is unknown
    with pytest.raises(ValueError, match="4 stage maps"):
        ModuleBackbone(nn.Conv2d(3, 4, 3))
    small = make_backbone("small_resnet", widths=(8, 16, 32, 64), blocks=(1, 2, 1, 1))
    assert isinstance(small, ResNetBackbone) and small.channels == (8, 16, 32, 64)
    assert len(small.layers[1]) == 2
    # widths equal to ResNet-18's give ResNet-18's parameter count
    import torchvision

    r18 = torchvision.models.resnet18()
    same = small_resnet((64, 128, 256, 512), (2, 2, 2, 2))
    assert {n: p.shape for n, p in same.named_parameters()} == {
        n: p.shape for n, p in r18.named_parameters() if not n.startswith("fc.")
    }
    with pytest.raises(ValueError, match="widths"):
        small_resnet((8, 16))
    with pytest.raises(ValueError, match="takes only the option stem"):
        make_backbone("resnet18", widths=(1, 2, 3, 4))


@pytest.mark.parametrize(
    ("arch", "options"),
    [("small_resnet", {"widths": [8, 16, 32, 64]}), ("timm:resnet18", {})],
)
def test_encoder_files_name_their_architecture(
    tmp_path: Path, arch: str, options: dict[str, object]
) -> None:
    torch.manual_seed(0)
    net = make_backbone(arch, **options).eval()
    path = tmp_path / "encoder.pt"
    save_encoder(path, net, arch, options)
    loaded = load_encoder(path).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).pooled, net(x).pooled, rtol=0, atol=0)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a file of tensors that can be loaded safely"):
        load_encoder(path)


def test_a_file_of_python_objects_is_refused_without_torchs_unsafe_advice(
    tmp_path: Path,
) -> None:
    import pickle
    import warnings

    path = tmp_path / "objects.pt"
    path.write_bytes(pickle.dumps({"model": Path("x")}, protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's pickle-protocol warning is not shown either
        with pytest.raises(ValueError) as err:
            load_encoder(path)
    message = str(err.value)
    assert message.startswith(f"{path}: not a file of tensors that can be loaded safely")
    assert "weights_only=False" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("arch", "options"), [("resnet18", {}), ("small_resnet", {"widths": (8, 16, 32, 64)})]
)
def test_the_small_stem_keeps_maps_for_small_images(arch: str, options: dict) -> None:
    x = torch.randn(2, 3, 48, 48)
    imagenet = make_backbone(arch, stages=(1, 4), **options)(x).maps
    small = make_backbone(arch, stages=(1, 4), stem="small", **options)(x).maps
    # the ImageNet stem divides by 4 before stage 1 (7x7/2 conv, 3x3/2 max-pool): 48 px ends
    # in a 2x2 map; the small stem (3x3/1 conv, no max-pool) keeps 48 -> 48 -> 6
    assert imagenet[1].shape[-2:] == (12, 12) and imagenet[4].shape[-2:] == (2, 2)
    assert small[1].shape[-2:] == (48, 48) and small[4].shape[-2:] == (6, 6)
    stem = make_backbone(arch, stem="small", **options).stem
    conv = stem[0]
    assert conv.kernel_size == (3, 3) and conv.stride == (1, 1)
    assert isinstance(stem[3], torch.nn.Identity)


def test_the_stem_is_stored_with_the_encoder_and_rebuilt(tmp_path: Path) -> None:
    torch.manual_seed(0)
    options = {"widths": [8, 16, 32, 64], "stem": "small"}
    net = make_backbone("small_resnet", **options).eval()
    save_encoder(tmp_path / "encoder.pt", net, "small_resnet", options)
    loaded = load_encoder(tmp_path / "encoder.pt").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).pooled, net(x).pooled, rtol=0, atol=0)
    with pytest.raises(ValueError, match="does not rebuild"):  # the stem is part of the arch
        save_encoder(tmp_path / "e2.pt", net, "small_resnet", {"widths": [8, 16, 32, 64]})
    with pytest.raises(ValueError, match="stem must be one of"):
        make_backbone("resnet18", stem="tiny")
    with pytest.raises(ValueError, match="stem is an option of the ResNets"):
        make_backbone("timm:resnet18", stem="small")
