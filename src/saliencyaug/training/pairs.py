"""The synthesized-pair objective as a trainer adds it: decoder, objective and the decoder's
pre-training with the encoder frozen (second paper, section 4.1)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from saliencyaug.data.loader import Epochs
from saliencyaug.distributed import Processes, wrap_ddp
from saliencyaug.synthesized import DecoderPairObjective, FeatureDecoder, pretrain_decoder
from saliencyaug.training.data import clean_images
from saliencyaug.training.recipe import Recipe
from saliencyaug.transforms import IMAGENET_MEAN, IMAGENET_STD


def decoder_pairs(
    recipe: Recipe, feature_dim: int, processes: Processes
) -> tuple[nn.Module, DecoderPairObjective]:
    """The decoder (DDP-wrapped when distributed, so that every process trains the same one)
    and the :class:`~saliencyaug.synthesized.DecoderPairObjective` of the recipe's ``pairs``
    section, on ``processes.device``. Build it under the same seed on every process."""
    pc = recipe["pairs"]
    decoder = FeatureDecoder(feature_dim, pc["decoder_size"]).to(processes.device)
    objective = DecoderPairObjective(
        feature_dim,
        bank_size=pc["bank"],
        alpha=pc["alpha"],
        nu=pc["nu"],
        eps_g=pc["eps_g"],
        eps_var=pc["eps_var"],
        kappa=pc["kappa"],
        sign=pc["sign"],
        decoupled=pc["decoupled"],
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    ).to(processes.device)
    return wrap_ddp(decoder, processes), objective


def pretrain_pair_decoder(
    recipe: Recipe,
    run_path: str,
    encoder: Callable[[torch.Tensor], torch.Tensor],
    encoder_module: nn.Module,
    decoder: nn.Module,
    processes: Processes,
) -> list[float]:
    """Pre-train the decoder for ``pairs.pretrain_epochs`` epochs on the clean training images,
    the encoder frozen (in eval mode, no gradients), as the paper does before joint training.

    Args:
        encoder: normalised images -> ``(B, n)`` features.
        encoder_module: the module behind ``encoder`` (held in eval mode meanwhile).

    Returns:
        The mean reconstruction loss of each epoch (this process's shard).
    """
    epochs = recipe["pairs"]["pretrain_epochs"]
    if epochs <= 0:
        return []
    device = processes.device
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    batches = Epochs(
        clean_images(recipe, run_path),
        recipe["optim"]["batch_size"],
        seed=recipe["train"]["seed"],
        rank=processes.rank,
        world=processes.world,
        num_workers=recipe["data"]["num_workers"],
    )
    return pretrain_decoder(
        lambda x01: encoder((x01 - mean) / std),
        decoder,
        batches,
        epochs=epochs,
        device=device,
        encoder_modules=[encoder_module],
    )


__all__ = ["decoder_pairs", "pretrain_pair_decoder"]
