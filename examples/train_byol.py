"""BYOL, BYOL + SaliencySwap, and BYOL + SaliencySwap + CVSA alignment (dual-stage).

    python examples/train_byol.py --config examples/configs/cvsa_cub.toml --out runs/cvsa_cub
    torchrun --nproc_per_node 8 examples/train_byol.py --config ... --out ...
    python examples/train_byol.py --config ... --out ... --resume

The recipe chooses the variant: ``views.first = "rrc"`` is plain BYOL, ``"saliencyswap"``
adds SaliencySwap views, ``cvsa.enabled = true`` adds the conv heads and the cross-view
saliency alignment (CVSA paper, Eq. 3-7); ``model.init`` loads first-stage weights and
``model.freeze_stages = 2`` freezes stages 1-2 (the paper's second stage).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from saliencyaug.losses import byol_loss, saliency_alignment_loss
from saliencyaug.models import (
    ConvPredictor,
    ConvProjector,
    MLPHead,
    cosine_momentum,
    ema_copy,
    ema_update,
)


class BYOLNet(nn.Module):
    """Backbone, MLP projector and predictor, and (CVSA) conv projector and predictor.

    ``forward`` is the online branch; :meth:`target_forward` uses only the backbone and the
    projectors (never a predictor), as the EMA target must.
    """

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        m, c = cfg["model"], cfg["cvsa"]
        self.stage = c["stage"]
        self.cvsa = c["enabled"]
        self.backbone = common.make_backbone(cfg, stages=(self.stage,))
        if m["freeze_stages"]:
            self.backbone.freeze_stages(m["freeze_stages"])
        h, out = m["hidden_dim"], m["output_dim"]
        self.projector = MLPHead(self.backbone.output_dim, h, out)
        self.predictor = MLPHead(out, h, out)
        if self.cvsa:
            self.conv_projector = ConvProjector(self.backbone.channels[self.stage - 1], h, out)
            self.conv_predictor = ConvPredictor(out, h, out)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.backbone(x)
        out = {"p": self.predictor(self.projector(f.pooled))}
        if self.cvsa:
            out["pc"] = self.conv_predictor(self.conv_projector(f.maps[self.stage]))
        return out

    def target_forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.backbone(x)
        out = {"h": self.projector(f.pooled)}
        if self.cvsa:
            out["hc"] = self.conv_projector(f.maps[self.stage])
        return out


def build(cfg: dict[str, Any], d: common.Dist) -> tuple[nn.Module, nn.Module]:
    """Online network (DDP-wrapped when distributed) and its EMA target."""
    online = BYOLNet(cfg).to(d.device)
    target = common.sync_target(ema_copy(online), d, cfg["model"]["sync_bn"])
    return common.wrap_ddp(online, d, cfg["model"]["sync_bn"]), target


def loss_fn(
    online: nn.Module, target: nn.Module, batch: tuple[torch.Tensor, ...], cfg: dict[str, Any]
) -> tuple[torch.Tensor, dict[str, float]]:
    """BYOL loss (+ alignment) of one batch of two views. Both views go through the online
    network in one batch, so BatchNorm statistics cover both views."""
    x1, m1, x2, m2 = batch
    b = x1.shape[0]
    o = online(torch.cat([x1, x2]))
    with torch.no_grad():
        t = common.unwrap(target).target_forward(torch.cat([x1, x2]))
    p1, p2, h1, h2 = o["p"][:b], o["p"][b:], t["h"][:b], t["h"][b:]
    loss = byol_loss((p1.float(), p2.float()), (h1.float(), h2.float()))
    parts = {"byol": float(loss.detach())}
    c = cfg["cvsa"]
    if c["enabled"]:
        pc, hc = o["pc"].float(), t["hc"].float()
        align = saliency_alignment_loss(
            (pc[:b], pc[b:]),
            (hc[:b], hc[b:]),
            (m1, m2),
            normalize=c["normalize"],
            temperature=c["temperature"],
        )
        loss = loss + c["weight"] * align
        parts["align"] = float(align.detach())
    parts["loss"] = float(loss.detach())
    return loss, parts


def train(cfg: dict[str, Any], out: Path, resume: bool) -> dict[str, Any]:
    """Run a recipe; returns the final log entry and the evaluation report."""
    d = common.setup_distributed()
    common.seed_everything(cfg["train"]["seed"], d.rank, cfg["train"]["deterministic"])
    out.mkdir(parents=True, exist_ok=True)
    ds = common.two_view_dataset(cfg, out)
    online, target = build(cfg, d)
    net = common.unwrap(online)

    def load(state: dict[str, Any]) -> None:
        net.load_state_dict(state["online"])
        target.load_state_dict(state["target"])

    method = common.Method(
        loss=lambda batch: loss_fn(online, target, batch, cfg),
        after_step=lambda step, total: ema_update(
            target, net, cosine_momentum(step, total, cfg["byol"]["base_momentum"])
        ),
        state=lambda: {"online": net.state_dict(), "target": target.state_dict()},
        load=load,
        encoder=lambda: net.backbone,
    )
    params = [p for p in online.parameters() if p.requires_grad]  # frozen stages excluded
    last = common.fit(
        cfg, d, out, ds, params, method, common.checkpoint_to_resume(out, d, resume), "byol"
    )
    return {"last": last, "report": common.final_evaluation(cfg, net.backbone, out, out, d)}


if __name__ == "__main__":
    common.cli_main(train, __doc__.splitlines()[0])
