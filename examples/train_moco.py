"""MoCo v2, and MoCo v2 + learning from synthesized pairs (the second paper).

    python examples/train_moco.py --recipe smoke-moco-pairs --out runs/smoke-moco-pairs
    torchrun --nproc_per_node 4 examples/train_moco.py --recipe moco-pairs-table1-cub \\
        --out runs/moco-pairs-cub --set data.root=/data/CUB_200_2011 model.init=r50_in1k.pt

MoCo v2 (Chen et al., 2020): a query encoder and its momentum key encoder, an MLP head, InfoNCE
against a queue of keys, shuffled BatchNorm for the keys across processes (in one process,
the key encoder's BatchNorm over ``moco.bn_splits`` sub-batches of the shuffled batch).
``pairs.enabled`` adds the decoder-pair objective: ``L = L_moco + alpha L_R + nu L_Cp`` (second
paper, Eq. 8), after pre-training the decoder with the encoder frozen. This file uses
saliencyaug's public API only: copy it into your project and change what you like.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NamedTuple

import torch
from torch import nn
from tqdm.auto import tqdm

from saliencyaug import DeferredChecks
from saliencyaug.distributed import (
    forward_in_sub_batches,
    shuffle_batch,
    unshuffle_batch,
    unwrap,
    wrap_ddp,
)
from saliencyaug.losses import MoCoLoss
from saliencyaug.models import ema_copy, ema_update
from saliencyaug.training import (
    Recipe,
    Schedule,
    build_backbone,
    check_queue_length,
    decoder_pairs,
    epoch_loaders,
    finish_run,
    initialise,
    key_sub_batches,
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
    projection: torch.Tensor  # (B, dim) head output: MoCo's query or key


class MoCoNetwork(nn.Module):
    """Backbone and MoCo v2's MLP head (Linear -> ReLU -> Linear)."""

    def __init__(self, recipe: Recipe) -> None:
        super().__init__()
        moco = recipe["moco"]
        self.backbone = build_backbone(recipe)
        self.head = nn.Sequential(
            nn.Linear(self.backbone.output_dim, moco["hidden_dim"]),
            nn.ReLU(inplace=True),
            nn.Linear(moco["hidden_dim"], moco["dim"]),
        )

    def forward(self, x: torch.Tensor) -> Encoded:
        v = self.backbone(x).pooled
        return Encoded(v, self.head(v))


def train(recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    run = start_run(recipe, args.out, resume=args.resume, overwrite=args.overwrite)
    proc, device, cfg, moco = run.processes, run.processes.device, recipe["train"], recipe["moco"]

    # Query encoder (DDP broadcasts rank 0's weights), then the key encoder copied from it.
    network = MoCoNetwork(recipe)
    loaded = initialise(network, recipe)
    if recipe["model"]["freeze_stages"]:
        network.backbone.freeze_stages(recipe["model"]["freeze_stages"])
    online = wrap_ddp(network.to(device), proc, sync_bn=recipe["model"]["sync_bn"])
    key_encoder = ema_copy(online)
    contrastive = MoCoLoss(moco["dim"], moco["queue"], temperature=moco["temperature"])
    state: dict[str, nn.Module] = {
        "online": network,
        "key_encoder": key_encoder,
        "moco": contrastive.to(device),
    }
    trained: dict[str, nn.Module] = {"online": network}
    if recipe["pairs"]["enabled"]:
        decoder, pairs = decoder_pairs(recipe, network.backbone.output_dim, proc)
        state.update(decoder=unwrap(decoder), pairs=pairs)
        trained["decoder"] = unwrap(decoder)
    seed_process(cfg["seed"], proc.rank)

    dataset = training_dataset(recipe, run.path)
    check_queue_length(moco["queue"], len(dataset), recipe["optim"]["batch_size"])
    # shuffle-BN across processes; in one process its stand-in: BatchNorm per sub-batch
    key_splits = key_sub_batches(recipe, proc)
    schedule = Schedule.from_recipe(recipe, len(dataset))
    optimizer = recipe_optimizer(recipe, trained)
    amp = cfg["amp"] and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    step = run.resume_state(state, optimizer, scaler)
    if step is None and loaded and proc.main:
        print(f"initialised {', '.join(loaded)} from {recipe['model']['init']}", file=sys.stderr)
    if step is None and recipe["pairs"]["enabled"]:
        # the decoder learns to reconstruct first, the encoder frozen (second paper, 4.1)
        history = pretrain_pair_decoder(
            recipe, str(run.path), lambda x: online(x).pooled, online, decoder, proc
        )
        run.log({"step": 0, "decoder_pretraining": history})
        run.save_state(0, state, optimizer, scaler)  # a resumed run does not pre-train again
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
                x1 = views["view1"].to(device, non_blocking=True)
                x2 = views["view2"].to(device, non_blocking=True)
                set_learning_rate(optimizer, schedule.lr(step), schedule.peak_lr)
                with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                    query = online(x1)
                    with torch.no_grad():  # keys: shuffled BatchNorm (see key_sub_batches)
                        shuffled, restore = shuffle_batch(x2) if moco["shuffle_bn"] else (x2, None)
                        keys = forward_in_sub_batches(
                            lambda x: key_encoder(x).projection, shuffled, key_splits
                        )
                        keys = unshuffle_batch(keys, restore) if restore is not None else keys
                loss = contrastive(query.projection.float(), keys.float())
                # parts stay tensors: .item() waits for the GPU, so it runs on logging steps only
                parts = {"moco": loss.detach()}
                if recipe["pairs"]["enabled"]:
                    extra = pairs(
                        encoder=online,
                        projector=network.head,
                        decoder=decoder,
                        images=views["clean"].to(device, non_blocking=True),
                        augmented_features=query.pooled.detach().float(),
                    )
                    loss = loss + extra.loss
                    parts.update(
                        reconstruction=extra.reconstruction.detach(), pair=extra.pair.detach()
                    )

                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                ema_update(key_encoder, online, moco["momentum"])
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
    sys.exit(run_trainer(train, "MoCo v2 / MoCo v2 + synthesized pairs"))
