"""Building blocks of the reference trainers in ``examples/``: recipes, run folders, data
loading with per-sample seeds, the papers' optimisers and schedules, and a command line.

A trainer script keeps the method and its loop in sight and takes the plumbing from here::

    run = start_run(recipe, out, resume=..., overwrite=...)        # processes, seed, folder
    dataset = training_dataset(recipe, run.path)                     # views, masks, boxes
    for epoch ...:
        for views, _ in epoch_loader(dataset, batch, seed=..., epoch=epoch, rank=..., world=...):
            loss = ...; optimizer.step(); ema_update(...)
            run.log({...}); run.save_checkpoint({...})
"""

from __future__ import annotations

from saliencyaug.data.loader import (
    Epochs,
    EpochShardSampler,
    SeededSamples,
    epoch_loader,
    sample_seed,
)
from saliencyaug.training.data import (
    CleanImage,
    TrainingViews,
    check_queue_length,
    clean_images,
    reads_boxes,
    training_dataset,
    training_images,
)
from saliencyaug.training.optim import (
    LARS,
    Schedule,
    cosine_lr,
    make_optimizer,
    parameter_groups,
    recipe_optimizer,
    set_learning_rate,
)
from saliencyaug.training.pairs import decoder_pairs, pretrain_pair_decoder
from saliencyaug.training.recipe import (
    DEFAULTS,
    RESUMABLE_CHANGES,
    Recipe,
    RecipeError,
    apply_overrides,
    backbone_options,
    list_recipes,
    load_recipe,
    recipe_differences,
)
from saliencyaug.training.run import (
    RUN_FILES,
    RunError,
    RunFolder,
    capture_rng_state,
    restore_rng_state,
)
from saliencyaug.training.session import (
    build_backbone,
    epoch_loaders,
    final_report,
    finish_run,
    initialise,
    key_sub_batches,
    run_trainer,
    seed_process,
    start_run,
    trainer_arguments,
)

__all__ = [
    "DEFAULTS",
    "LARS",
    "RESUMABLE_CHANGES",
    "RUN_FILES",
    "CleanImage",
    "EpochShardSampler",
    "Epochs",
    "Recipe",
    "RecipeError",
    "RunError",
    "RunFolder",
    "Schedule",
    "SeededSamples",
    "TrainingViews",
    "apply_overrides",
    "backbone_options",
    "build_backbone",
    "capture_rng_state",
    "check_queue_length",
    "clean_images",
    "cosine_lr",
    "decoder_pairs",
    "epoch_loader",
    "epoch_loaders",
    "final_report",
    "finish_run",
    "initialise",
    "key_sub_batches",
    "list_recipes",
    "load_recipe",
    "make_optimizer",
    "parameter_groups",
    "pretrain_pair_decoder",
    "reads_boxes",
    "recipe_differences",
    "recipe_optimizer",
    "restore_rng_state",
    "run_trainer",
    "sample_seed",
    "seed_process",
    "set_learning_rate",
    "start_run",
    "trainer_arguments",
    "training_dataset",
    "training_images",
]
