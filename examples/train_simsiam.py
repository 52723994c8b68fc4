"""SimSiam, and SimSiam + learning from synthesized pairs (the second paper's other baseline).

    python examples/train_simsiam.py --recipe smoke-simsiam-pairs --out runs/smoke-simsiam
    torchrun --nproc_per_node 4 examples/train_simsiam.py --recipe simsiam-pairs-table3-cub \\
        --out runs/simsiam-pairs-cub --set data.root=/data/CUB_200_2011 model.init=r50_in1k.pt

SimSiam (Chen & He, CVPR 2021): one network, a 3-layer projector and a bottleneck predictor,
the negative cosine between each view's prediction and the other's stopped-gradient projection
(``byol_loss`` detaches the projections), and the predictor's learning rate fixed. No momentum
encoder. ``pairs.enabled`` adds the decoder-pair objective. This file uses saliencyaug's public
API only: copy it into your project and change what you like.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NamedTuple

import torch
from torch import nn
from tqdm.auto import tqdm

from saliencyaug import DeferredChecks
from saliencyaug.distributed import unwrap, wrap_ddp
from saliencyaug.losses import byol_loss
from saliencyaug.models import MLPHead
from saliencyaug.training import (
    Recipe,
    Schedule,
    build_backbone,
    decoder_pairs,
    epoch_loaders,
    finish_run,
    initialise,
    pretrain_pair_decoder,
    recipe_optimizer,
    run_trainer,
    seed_process,
    set_learning_rate,
    start_run,
    training_dataset,
)


class Encoded(NamedTuple):
    pooled: torch.Tensor  # (B, n) backbone features: what the decoder-pair objective reads
    projection: torch.Tensor  # (B, dim) z
    prediction: torch.Tensor  # (B, dim) p


class SimSiamNetwork(nn.Module):
    """Backbone, SimSiam's projector (3 x Linear + BN, the last BN without affine) and its
    bottleneck predictor (dim -> pred_dim -> dim)."""

    def __init__(self, recipe: Recipe) -> None:
        super().__init__()
        dim, pred_dim = recipe["simsiam"]["dim"], recipe["simsiam"]["pred_dim"]
        self.backbone = build_backbone(recipe)
        n = self.backbone.output_dim
        self.projector = nn.Sequential(
            nn.Linear(n, dim, bias=False),
            nn.BatchNorm1d(dim),
            nn.ReLU(inplace=True),
            nn.Linear(dim, dim, bias=False),
            nn.BatchNorm1d(dim),
            nn.ReLU(inplace=True),
            nn.Linear(dim, dim, bias=False),
            nn.BatchNorm1d(dim, affine=False),
        )
        self.predictor = MLPHead(dim, pred_dim, dim)

    def forward(self, x: torch.Tensor) -> Encoded:
        v = self.backbone(x).pooled
        z = self.projector(v)
        return Encoded(v, z, self.predictor(z))


def train(recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    run = start_run(recipe, args.out, resume=args.resume, overwrite=args.overwrite)
    proc, device, cfg = run.processes, run.processes.device, recipe["train"]

    network = SimSiamNetwork(recipe)
    loaded = initialise(network, recipe)
    if recipe["model"]["freeze_stages"]:
        network.backbone.freeze_stages(recipe["model"]["freeze_stages"])
    online = wrap_ddp(network.to(device), proc, sync_bn=recipe["model"]["sync_bn"])
    state: dict[str, nn.Module] = {"online": network}
    trained: dict[str, nn.Module] = {
        "backbone": network.backbone,
        "projector": network.projector,
        "predictor": network.predictor,
    }
    if recipe["pairs"]["enabled"]:
        decoder, pairs = decoder_pairs(recipe, network.backbone.output_dim, proc)
        state.update(decoder=unwrap(decoder), pairs=pairs)
        trained["decoder"] = unwrap(decoder)
    seed_process(cfg["seed"], proc.rank)

    dataset = training_dataset(recipe, run.path)
    schedule = Schedule.from_recipe(recipe, len(dataset))
    fixed = ["predictor"] if recipe["simsiam"]["fix_predictor_lr"] else []
    optimizer = recipe_optimizer(recipe, trained, fixed_lr=fixed)
    amp = cfg["amp"] and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    step = run.resume_state(state, optimizer, scaler)
    if step is None and loaded and proc.main:
        print(f"initialised {', '.join(loaded)} from {recipe['model']['init']}", file=sys.stderr)
    if step is None and recipe["pairs"]["enabled"]:
        history = pretrain_pair_decoder(
            recipe, str(run.path), lambda x: online(x).pooled, online, decoder, proc
        )
        run.log({"step": 0, "decoder_pretraining": history})
        run.save_state(0, state, optimizer, scaler)
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
                x = torch.cat([views["view1"], views["view2"]]).to(device, non_blocking=True)
                set_learning_rate(optimizer, schedule.lr(step), schedule.peak_lr)
                with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                    out = online(x)  # both views as one batch
                p, z = out.prediction.float(), out.projection.float()
                loss = byol_loss((p[:b], p[b:]), (z[:b], z[b:]))  # projections detached inside
                # parts stay tensors: .item() waits for the GPU, so it runs on logging steps only
                parts = {"simsiam": loss.detach()}
                if recipe["pairs"]["enabled"]:
                    extra = pairs(
                        encoder=online,
                        projector=network.projector,
                        decoder=decoder,
                        images=views["clean"].to(device, non_blocking=True),
                        augmented_features=out.pooled[:b].detach().float(),
                    )
                    loss = loss + extra.loss
                    parts.update(
                        reconstruction=extra.reconstruction.detach(), pair=extra.pair.detach()
                    )

                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
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
    sys.exit(run_trainer(train, "SimSiam / SimSiam + synthesized pairs"))
