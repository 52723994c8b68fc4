"""Supervised reference: the same backbone, data, views and steps as the self-supervised
trainers, trained with the labels (cross-entropy of a linear classifier on the pooled
features). It is the ceiling that the study shows beside the untrained floor: what this
backbone can learn from this data in this many steps.

    python examples/train_supervised.py --recipe smoke-supervised --out runs/smoke-supervised

The views are the recipe's first view (``views.first``: RandomResizedCrop or SaliencySwap, then
MoCo v2's augmentations), so a supervised run sees exactly the images a BYOL run sees. This
file uses saliencyaug's public API only: copy it into your project and change what you like.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from saliencyaug.distributed import wrap_ddp
from saliencyaug.training import (
    Recipe,
    RecipeError,
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


class SupervisedNetwork(nn.Module):
    """Backbone and a linear classifier on its pooled features."""

    def __init__(self, recipe: Recipe, num_classes: int) -> None:
        super().__init__()
        self.backbone = build_backbone(recipe)
        self.classifier = nn.Linear(self.backbone.output_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.backbone(x).pooled)


def train(recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    run = start_run(recipe, args.out, resume=args.resume, overwrite=args.overwrite)
    proc, device, cfg = run.processes, run.processes.device, recipe["train"]

    dataset = training_dataset(recipe, run.path)
    classes = getattr(dataset, "classes", None)
    if not classes or len(classes) < 2:
        raise RecipeError("data: supervised training needs a labelled data set of 2+ classes")
    network = SupervisedNetwork(recipe, len(classes))
    loaded = initialise(network, recipe)
    if recipe["model"]["freeze_stages"]:
        network.backbone.freeze_stages(recipe["model"]["freeze_stages"])
    online = wrap_ddp(network.to(device), proc, sync_bn=recipe["model"]["sync_bn"])
    seed_process(cfg["seed"], proc.rank)

    schedule = Schedule.from_recipe(recipe, len(dataset))
    optimizer = recipe_optimizer(recipe, {"online": network})
    amp = cfg["amp"] and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    state = {"online": network}
    step = run.resume_state(state, optimizer, scaler)
    if step is None and loaded and proc.main:
        print(f"initialised {', '.join(loaded)} from {recipe['model']['init']}", file=sys.stderr)
    step = step or 0

    # a progress bar on rank 0 when stderr is a terminal (tqdm's disable=None)
    show = cfg["progress"] and proc.main
    bar = tqdm(total=schedule.total, initial=step, disable=None if show else True)
    for epoch, loader in epoch_loaders(dataset, recipe, proc, step, schedule.per_epoch):
        if step >= schedule.total:
            break
        for views, labels in loader:
            x = views["view1"].to(device, non_blocking=True)
            y = torch.as_tensor(labels).to(device, non_blocking=True)
            set_learning_rate(optimizer, schedule.lr(step), schedule.peak_lr)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                logits = online(x)
            loss = F.cross_entropy(logits.float(), y)

            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            step += 1
            bar.update()

            if step % cfg["log_every"] == 0 or schedule.ends_epoch(step):
                # .item() waits for the GPU, so only on logging steps
                accuracy = (logits.argmax(1) == y).float().mean().item()
                lr = optimizer.param_groups[0]["lr"]
                run.log(
                    {
                        "step": step,
                        "epoch": epoch,
                        "lr": lr,
                        "loss": loss.item(),
                        "train_top1": 100.0 * accuracy,
                    }
                )
            if run.saves_at(step, schedule.total):
                run.save_state(step, state, optimizer, scaler)
            if step >= schedule.total:
                break
    bar.close()
    return {"step": step, "report": finish_run(run, network.backbone)}


if __name__ == "__main__":
    sys.exit(run_trainer(train, "Supervised reference (labels, the same views)"))
