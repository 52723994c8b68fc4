"""SimSiam, and SimSiam + the decoder-pair objective of learning from synthesized pairs.

    python examples/train_simsiam.py --config examples/configs/smoke_simsiam_pairs.toml --out ss

SimSiam (Chen & He, CVPR 2021): no momentum encoder; the loss is the symmetric negative cosine
``1/2 D(p1, z2) + 1/2 D(p2, z1)`` with a stop-gradient on ``z`` -- saliencyaug's ``byol_loss``.
The projector is three Linear-BN layers (ReLU between, the last without), the predictor a
Linear-BN-ReLU-Linear bottleneck. ``pairs.enabled = true`` adds ``alpha L_R + nu L_Cp`` (the
second paper evaluates its method on MoCo v2 and SimSiam).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from saliencyaug.losses import DecoderPairLoss, byol_loss
from saliencyaug.models import FeatureDecoder, MLPHead, ResNetBackbone, pretrain_decoder
from train_moco import _clean_batches


class SimSiamNet(nn.Module):
    """Encoder, projector ``g`` and predictor ``h`` (dims from ``moco.dim`` / ``hidden_dim``)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        m, mc = cfg["model"], cfg["moco"]
        self.backbone = ResNetBackbone(m["arch"])
        if m["init"]:
            from saliencyaug.evaluation.report import load_encoder

            self.backbone.load_state_dict(
                load_encoder(m["init"], m["arch"]).state_dict(), strict=False
            )
        n, d, hid = self.backbone.output_dim, mc["dim"], mc["hidden_dim"]
        self.projector = nn.Sequential(
            nn.Linear(n, hid, bias=False),
            nn.BatchNorm1d(hid),
            nn.ReLU(inplace=True),
            nn.Linear(hid, hid, bias=False),
            nn.BatchNorm1d(hid),
            nn.ReLU(inplace=True),
            nn.Linear(hid, d, bias=False),
            nn.BatchNorm1d(d, affine=False),
        )
        self.predictor = MLPHead(d, max(1, d // 4), d)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x).pooled

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        v = self.features(x)
        z = self.projector(v)
        return v, z, self.predictor(z)


def simsiam_loss(
    net: nn.Module, x1: torch.Tensor, x2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """SimSiam's loss of two views (one batch of 2B through the network); returns the loss and
    the features of view 1."""
    b = x1.shape[0]
    v, z, p = net(torch.cat([x1, x2]))
    return byol_loss(p[:b].float(), z[b:].float(), p[b:].float(), z[:b].float()), v[:b]


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
    online = common.wrap_ddp(SimSiamNet(cfg).to(d.device), d, cfg["model"]["sync_bn"])
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
        total, v1 = simsiam_loss(online, x1, x2)
        parts = {"simsiam": float(total.detach())}
        if extra:
            res = extra["pairs"](
                net.features, net.projector, extra["decoder"], clean[0], v1.detach(), total
            )
            total = res.total
            parts.update(
                reconstruction=float(res.reconstruction.detach()), pair=float(res.pair.detach())
            )
        return total, parts

    def load(saved: dict[str, Any]) -> None:
        net.load_state_dict(saved["online"])
        for k, m in extra.items():
            m.load_state_dict(saved[k])

    resume_state = common.checkpoint_to_resume(out, d, resume)
    if extra and resume_state is None and pc["pretrain_epochs"] > 0:
        mean = torch.tensor(common.IMAGENET_MEAN, device=d.device).view(1, 3, 1, 1)
        std = torch.tensor(common.IMAGENET_STD, device=d.device).view(1, 3, 1, 1)
        pretrain_decoder(
            lambda x01: net.features((x01 - mean) / std),
            extra["decoder"],
            _clean_batches(cfg, d),
            epochs=pc["pretrain_epochs"],
            device=d.device,
            encoder_modules=[net],
        )
    method = common.Method(
        loss=loss,
        after_step=lambda step, total: None,  # no momentum encoder
        state=lambda: {"online": net.state_dict(), **{k: m.state_dict() for k, m in extra.items()}},
        load=load,
        encoder=lambda: net.backbone,
    )
    params = list(online.parameters()) + (list(extra["decoder"].parameters()) if extra else [])
    last = common.fit(cfg, d, out, ds, params, method, resume_state, "simsiam")
    return {"last": last, "report": common.final_evaluation(cfg, net.backbone, out, out, d)}


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    cfg = common.load_config(args.config, args.set)
    result = train(cfg, Path(args.out), args.resume)
    print(result["last"])


if __name__ == "__main__":
    main()
