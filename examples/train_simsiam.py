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
from saliencyaug.losses import byol_loss
from saliencyaug.models import MLPHead


class SimSiamNet(nn.Module):
    """Encoder, projector ``g`` and predictor ``h`` (dims from ``moco.dim`` / ``hidden_dim``)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        mc = cfg["moco"]
        self.backbone = common.make_backbone(cfg)
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
    return byol_loss((p[:b].float(), p[b:].float()), (z[:b].float(), z[b:].float())), v[:b]


def train(cfg: dict[str, Any], out: Path, resume: bool) -> dict[str, Any]:
    """Run a recipe; returns the final log entry and the evaluation report."""
    d = common.setup_distributed()
    common.seed_everything(cfg["train"]["seed"], d.rank, cfg["train"]["deterministic"])
    out.mkdir(parents=True, exist_ok=True)
    ds = common.two_view_dataset(cfg, out)
    online = common.wrap_ddp(SimSiamNet(cfg).to(d.device), d, cfg["model"]["sync_bn"])
    net = common.unwrap(online)
    pairs = common.decoder_pairs(cfg, d, net.backbone.output_dim)
    modules = {"online": net, **(pairs.modules if pairs else {})}

    def loss(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        x1, _, x2, _, *clean = batch
        total, v1 = simsiam_loss(online, x1, x2)
        parts = {"simsiam": float(total.detach())}
        if pairs is not None:
            total = pairs.add(net.features, net.projector, clean[0], v1, total, parts)
        return total, parts

    def load(saved: dict[str, Any]) -> None:
        for k, m in modules.items():
            m.load_state_dict(saved[k])

    resume_state = common.checkpoint_to_resume(out, d, resume)
    if pairs is not None and resume_state is None:
        pairs.pretrain(net.features, net, out)
    method = common.Method(
        loss=loss,
        after_step=lambda step, total: None,  # no momentum encoder
        state=lambda: {k: m.state_dict() for k, m in modules.items()},
        load=load,
        encoder=lambda: net.backbone,
    )
    params = list(online.parameters()) + (list(pairs.decoder.parameters()) if pairs else [])
    last = common.fit(cfg, d, out, ds, params, method, resume_state, "simsiam")
    return {"last": last, "report": common.final_evaluation(cfg, net.backbone, out, out, d)}


if __name__ == "__main__":
    common.cli_main(train, __doc__.splitlines()[0])
