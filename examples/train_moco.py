"""MoCo v2, and MoCo v2 + the decoder-pair objective of learning from synthesized pairs.

    python examples/train_moco.py --config examples/configs/moco_pairs_cub.toml --out runs/pairs_cub
    torchrun --nproc_per_node 4 examples/train_moco.py --config ... --out ...

``pairs.enabled = true`` adds the objective ``L = L_C + alpha L_R + nu L_Cp`` (second paper,
Eq. 8): the decoder is first pre-trained with the encoder frozen (``pairs.pretrain_epochs``),
then trained jointly. Keys of the queue and features of the bank are gathered from every rank.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from saliencyaug.losses import DecoderPairLoss, MoCoLoss
from saliencyaug.models import (
    FeatureDecoder,
    ResNetBackbone,
    ema_copy,
    ema_update,
    pretrain_decoder,
)


class MoCoNet(nn.Module):
    """Encoder and MoCo v2's MLP head (Linear -> ReLU -> Linear)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        m, mc = cfg["model"], cfg["moco"]
        self.backbone = ResNetBackbone(m["arch"])
        if m["init"]:
            from saliencyaug.evaluation.report import load_encoder

            self.backbone.load_state_dict(
                load_encoder(m["init"], m["arch"]).state_dict(), strict=False
            )
        n = self.backbone.output_dim
        self.head = nn.Sequential(
            nn.Linear(n, mc["hidden_dim"]),
            nn.ReLU(inplace=True),
            nn.Linear(mc["hidden_dim"], mc["dim"]),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x).pooled

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.features(x)
        return v, self.head(v)


def build(cfg: dict[str, Any], d: common.Dist) -> tuple[nn.Module, nn.Module, MoCoLoss]:
    online = MoCoNet(cfg).to(d.device)
    target = ema_copy(online)
    target = common.sync_target(target, d, cfg["model"]["sync_bn"])
    mc = cfg["moco"]
    moco = MoCoLoss(mc["dim"], mc["queue"], mc["temperature"]).to(d.device)
    return common.wrap_ddp(online, d, cfg["model"]["sync_bn"]), target, moco


def moco_loss(
    online: nn.Module,
    target: nn.Module,
    moco: MoCoLoss,
    x1: torch.Tensor,
    x2: torch.Tensor,
    update: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE of queries (view 1, online) against keys (view 2, momentum encoder) and the
    queue; returns the loss and the online features of view 1."""
    v1, q = online(x1)
    with torch.no_grad():
        _, k = common.unwrap(target)(x2)
    return moco(q.float(), k.float(), update=update), v1


def train(cfg: dict[str, Any], out: Path, resume: bool) -> dict[str, Any]:
    """Run a recipe; returns the final log entry and the evaluation report."""
    from saliencyaug.transforms import MultiView

    d = common.setup_distributed()
    common.seed_everything(cfg["train"]["seed"], d.rank, cfg["train"]["deterministic"])
    out.mkdir(parents=True, exist_ok=True)
    cfg["_work"] = str(out)
    pool = common.dataset_from_config(cfg, None, out)
    views = MultiView(common.view_pipeline(cfg, pool))
    pc = cfg["pairs"]
    if pc["enabled"]:
        views = common.ViewsAndClean(views, cfg["data"]["size"])
    ds = common.dataset_from_config(cfg, views, out)
    online, target, moco = build(cfg, d)
    net = common.unwrap(online)
    extra: dict[str, nn.Module] = {}
    if pc["enabled"]:
        extra["decoder"] = FeatureDecoder(net.backbone.output_dim, pc["decoder_size"]).to(d.device)
        extra["pairs"] = DecoderPairLoss(
            net.backbone.output_dim,
            pc["bank"],
            pc["alpha"],
            pc["nu"],
            pc["eps_g"],
            pc["eps_var"],
            pc["kappa"],
            mean=common.IMAGENET_MEAN,
            std=common.IMAGENET_STD,
        ).to(d.device)

    def loss(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        x1, _, x2, _, *clean = batch
        total, v1 = moco_loss(online, target, moco, x1, x2)
        parts = {"moco": float(total.detach())}
        if extra:  # L_R on the clean image; Grad-CAM against view 1
            res = extra["pairs"](
                net.features, net.head, extra["decoder"], clean[0], v1.detach(), total
            )
            total = res.total
            parts.update(
                reconstruction=float(res.reconstruction.detach()), pair=float(res.pair.detach())
            )
        return total, parts

    def state() -> dict[str, Any]:
        return {
            "online": net.state_dict(),
            "target": target.state_dict(),
            "moco": moco.state_dict(),
            **{k: m.state_dict() for k, m in extra.items()},
        }

    def load(saved: dict[str, Any]) -> None:
        net.load_state_dict(saved["online"])
        target.load_state_dict(saved["target"])
        moco.load_state_dict(saved["moco"])
        for k, m in extra.items():
            m.load_state_dict(saved[k])

    resume_state = common.checkpoint_to_resume(out, d, resume)
    if extra and resume_state is None and pc["pretrain_epochs"] > 0:
        mean = torch.tensor(common.IMAGENET_MEAN, device=d.device).view(1, 3, 1, 1)
        std = torch.tensor(common.IMAGENET_STD, device=d.device).view(1, 3, 1, 1)
        pretrain_decoder(  # the encoder frozen, as the paper does before joint training
            lambda x01: net.features((x01 - mean) / std),
            extra["decoder"],
            _clean_batches(cfg, d),
            epochs=pc["pretrain_epochs"],
            device=d.device,
            encoder_modules=[net],
        )
    method = common.Method(
        loss=loss,
        after_step=lambda step, total: ema_update(target, net, cfg["moco"]["momentum"]),
        state=state,
        load=load,
        encoder=lambda: net.backbone,
    )
    params = list(online.parameters()) + (list(extra["decoder"].parameters()) if extra else [])
    last = common.fit(cfg, d, out, ds, params, method, resume_state, "moco")
    return {"last": last, "report": common.final_evaluation(cfg, net.backbone, out, out, d)}


class _Clean:
    """Non-augmented image in [0, 1], resized and centre-cropped (decoder pre-training)."""

    def __init__(self, size: int) -> None:
        from torchvision.transforms import v2

        self.tf = v2.Compose(
            [v2.Resize(size), v2.CenterCrop(size), v2.ToDtype(torch.float32, scale=True)]
        )

    def __call__(self, image: Any, boxes: Any = None) -> torch.Tensor:
        from saliencyaug.transforms.backgrounds import to_image_tensor

        return self.tf(to_image_tensor(image))


def _clean_batches(cfg: dict[str, Any], d: common.Dist) -> Any:
    """A re-iterable loader of clean image batches (this rank's share) for pre-training."""
    from torch.utils.data import DataLoader, DistributedSampler

    ds = common.dataset_from_config(cfg, _Clean(cfg["data"]["size"]), Path(cfg["_work"]))
    sampler = DistributedSampler(ds, d.world, d.rank, shuffle=False) if d.world > 1 else None
    loader = DataLoader(
        ds,
        batch_size=cfg["optim"]["batch_size"] // d.world,
        sampler=sampler,
        num_workers=cfg["data"]["num_workers"],
    )

    class _Images:
        def __iter__(self) -> Any:
            return (images for images, _ in loader)

    return _Images()


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    cfg = common.load_config(args.config, args.set)
    result = train(cfg, Path(args.out), args.resume)
    print(result["last"])


if __name__ == "__main__":
    main()
