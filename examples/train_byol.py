"""BYOL, BYOL + SaliencySwap, and BYOL + SaliencySwap + CVSA alignment (the CVSA paper).

    python examples/train_byol.py --recipe smoke-cvsa --out runs/smoke-cvsa
    torchrun --nproc_per_node 8 examples/train_byol.py --recipe cvsa-table1-cub \\
        --out runs/cvsa-table1-cub --set data.root=/data/CUB_200_2011
    python examples/train_byol.py --recipe cvsa-table1-cub --out runs/cvsa-table1-cub --resume

The recipe picks the variant: ``views.first = "rrc"`` is BYOL, ``"saliencyswap"`` adds
SaliencySwap views, ``cvsa.enabled`` adds the conv heads and the cross-view saliency alignment
(CVSA Eqs. 3-7); ``model.init`` and ``model.freeze_stages = 2`` make the dual-stage second
stage. ``saliencyaug recipes`` lists the recipes. This file uses saliencyaug's public API only:
copy it into your project and change what you like.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from saliencyaug import DeferredChecks
from saliencyaug.distributed import wrap_ddp
from saliencyaug.losses import byol_loss, saliency_alignment_loss
from saliencyaug.models import (
    ConvPredictor,
    ConvProjector,
    MLPHead,
    cosine_momentum,
    ema_copy,
    ema_update,
)
from saliencyaug.training import (
    Recipe,
    Schedule,
    build_backbone,
    epoch_loaders,
    finish_run,
    initialise,
    recipe_optimizer,
    run_trainer,
    seed_process,
    set_learning_rate,
    start_run,
    training_dataset,
)


class BYOLNetwork(nn.Module):
    """Backbone, MLP projector and predictor; with CVSA also the conv projector and predictor
    on the stage-``cvsa.stage`` map. ``forward(x)`` is the online branch (predictions);
    ``forward(x, predict=False)`` the target branch (projections: a target never runs a
    predictor). Each returns ``(vector, map or None)``."""

    def __init__(self, recipe: Recipe) -> None:
        super().__init__()
        model, cvsa = recipe["model"], recipe["cvsa"]
        self.stage = cvsa["stage"]
        self.backbone = build_backbone(recipe, stages=(self.stage,))
        hidden, out = model["hidden_dim"], model["output_dim"]
        self.projector = MLPHead(self.backbone.output_dim, hidden, out)
        self.predictor = MLPHead(out, hidden, out)
        self.conv_projector = self.conv_predictor = None
        if cvsa["enabled"]:
            channels = self.backbone.channels[self.stage - 1]
            self.conv_projector = ConvProjector(channels, hidden, out)
            self.conv_predictor = ConvPredictor(out, hidden, out)

    def forward(
        self, x: torch.Tensor, predict: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = self.backbone(x)
        z = self.projector(features.pooled)
        z_map = None
        if self.conv_projector is not None:
            z_map = self.conv_projector(features.maps[self.stage])
        if not predict:
            return z, z_map
        p_map = self.conv_predictor(z_map) if self.conv_predictor is not None else None
        return self.predictor(z), p_map


def train(recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    run = start_run(recipe, args.out, resume=args.resume, overwrite=args.overwrite)
    proc, device, cfg = run.processes, run.processes.device, recipe["train"]

    # Networks: built under the same seed everywhere, first-stage weights loaded, then DDP
    # (which broadcasts rank 0's weights); the momentum target is copied after that, so it
    # equals the online network on every rank.
    network = BYOLNetwork(recipe)
    loaded = initialise(network, recipe)
    if recipe["model"]["freeze_stages"]:
        network.backbone.freeze_stages(recipe["model"]["freeze_stages"])
    online = wrap_ddp(network.to(device), proc, sync_bn=recipe["model"]["sync_bn"])
    target = ema_copy(online)
    seed_process(cfg["seed"], proc.rank)

    dataset = training_dataset(recipe, run.path)
    schedule = Schedule.from_recipe(recipe, len(dataset))
    optimizer = recipe_optimizer(recipe, {"online": network})
    amp = cfg["amp"] and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    state = {"online": network, "target": target}
    step = run.resume_state(state, optimizer, scaler)
    if step is None and loaded and proc.main:
        print(f"initialised {', '.join(loaded)} from {recipe['model']['init']}", file=sys.stderr)
    step = step or 0

    # a progress bar on rank 0 when stderr is a terminal (tqdm's disable=None)
    show = cfg["progress"] and proc.main
    bar = tqdm(total=schedule.total, initial=step, disable=None if show else True)
    # the losses' value checks keep device flags, read on logging and saving steps: a check
    # per call would wait for the GPU several times a step
    with DeferredChecks() as checks:
        for epoch, loader in epoch_loaders(dataset, recipe, proc, step, schedule.per_epoch):
            if step >= schedule.total:
                break
            for views, _ in loader:
                b = views["view1"].shape[0]
                # both views as one batch: BatchNorm sees both, and DDP one forward per backward
                x = torch.cat([views["view1"], views["view2"]]).to(device, non_blocking=True)
                set_learning_rate(optimizer, schedule.lr(step), schedule.peak_lr)
                with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                    p, p_map = online(x)
                    with torch.no_grad():
                        z, z_map = target(x, predict=False)
                loss = byol_loss((p[:b].float(), p[b:].float()), (z[:b].float(), z[b:].float()))
                # parts stay tensors: .item() waits for the GPU, so it runs on logging steps only
                parts = {"byol": loss.detach()}
                if p_map is not None and z_map is not None:
                    masks = (views["mask1"].to(device), views["mask2"].to(device))
                    align = saliency_alignment_loss(
                        (p_map[:b].float(), p_map[b:].float()),
                        (z_map[:b].float(), z_map[b:].float()),
                        masks,
                        normalize=recipe["cvsa"]["normalize"],
                        temperature=recipe["cvsa"]["temperature"],
                    )
                    loss = loss + recipe["cvsa"]["weight"] * align
                    parts["align"] = align.detach()

                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                momentum = cosine_momentum(step, schedule.total, recipe["byol"]["base_momentum"])
                ema_update(target, online, momentum)
                step += 1
                bar.update()

                if step % cfg["log_every"] == 0 or schedule.ends_epoch(step):
                    checks.raise_if_failed()  # NaN or bad masks since the last log
                    lr = optimizer.param_groups[0]["lr"]
                    values = {k: v.item() for k, v in parts.items()}
                    run.log({"step": step, "epoch": epoch, "lr": lr, "loss": loss.item(), **values})
                if run.saves_at(step, schedule.total):
                    checks.raise_if_failed()  # never save a state built on bad values
                    run.save_state(step, state, optimizer, scaler)
                if step >= schedule.total:
                    break
    bar.close()
    return {"step": step, "report": finish_run(run, network.backbone)}


if __name__ == "__main__":
    sys.exit(run_trainer(train, "BYOL / BYOL + SaliencySwap / BYOL + CVSA"))
