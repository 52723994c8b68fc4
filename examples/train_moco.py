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
from saliencyaug.losses import MoCoLoss
from saliencyaug.models import ema_copy, ema_update


class MoCoNet(nn.Module):
    """Encoder and MoCo v2's MLP head (Linear -> ReLU -> Linear)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        mc = cfg["moco"]
        self.backbone = common.make_backbone(cfg)
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
    target = common.sync_target(ema_copy(online), d, cfg["model"]["sync_bn"])
    mc = cfg["moco"]
    moco = MoCoLoss(mc["dim"], mc["queue"], temperature=mc["temperature"]).to(d.device)
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
    d = common.setup_distributed()
    common.seed_everything(cfg["train"]["seed"], d.rank, cfg["train"]["deterministic"])
    out.mkdir(parents=True, exist_ok=True)
    ds = common.two_view_dataset(cfg, out)
    online, target, moco = build(cfg, d)
    net = common.unwrap(online)
    pairs = common.decoder_pairs(cfg, d, net.backbone.output_dim)
    extra = pairs.modules if pairs else {}

    def loss(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        x1, _, x2, _, *clean = batch
        total, v1 = moco_loss(online, target, moco, x1, x2)
        parts = {"moco": float(total.detach())}
        if pairs is not None:
            total = pairs.add(net.features, net.head, clean[0], v1, total, parts)
        return total, parts

    def state() -> dict[str, Any]:
        modules = {"online": net, "target": target, "moco": moco, **extra}
        return {k: m.state_dict() for k, m in modules.items()}

    def load(saved: dict[str, Any]) -> None:
        for k, m in {"online": net, "target": target, "moco": moco, **extra}.items():
            m.load_state_dict(saved[k])

    resume_state = common.checkpoint_to_resume(out, d, resume)
    if pairs is not None and resume_state is None:
        pairs.pretrain(net.features, net, out)  # the encoder frozen, as the paper does first
    method = common.Method(
        loss=loss,
        after_step=lambda step, total: ema_update(target, net, cfg["moco"]["momentum"]),
        state=state,
        load=load,
        encoder=lambda: net.backbone,
    )
    params = list(online.parameters()) + (list(pairs.decoder.parameters()) if pairs else [])
    last = common.fit(cfg, d, out, ds, params, method, resume_state, "moco")
    return {"last": last, "report": common.final_evaluation(cfg, net.backbone, out, out, d)}


if __name__ == "__main__":
    common.cli_main(train, __doc__.splitlines()[0])
