"""Feature extraction with a frozen encoder."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn


def _pooled(out: Any) -> torch.Tensor:
    return getattr(out, "pooled", out)


@torch.no_grad()
def extract_features(
    encoder: Callable[[torch.Tensor], Any],
    loader: Iterable[Any],
    device: Any = None,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features and labels of a whole loader, under ``torch.no_grad`` (not
    ``inference_mode``: the features must be usable in autograd, e.g. by a probe).

    ``encoder`` (an ``nn.Module`` is put in eval mode for the duration and restored after)
    maps images to ``(B, n)`` features or an object with ``.pooled``; each batch is
    ``(images, labels, ...)`` (extra items ignored).

    Returns:
        float32 ``(N, n)`` features and int64 ``(N,)`` labels, on the CPU.
    """
    from tqdm.auto import tqdm

    was_training = isinstance(encoder, nn.Module) and encoder.training
    if isinstance(encoder, nn.Module):
        encoder.eval()
        device = device or next(encoder.parameters()).device
    device = torch.device(device or "cpu")
    feats, labels = [], []
    try:
        for batch in tqdm(loader, disable=not progress, desc="features", unit="batch"):
            images, targets = batch[0], batch[1]
            feats.append(_pooled(encoder(images.to(device))).float().cpu())
            labels.append(torch.as_tensor(targets).long().cpu())
    finally:
        if was_training and isinstance(encoder, nn.Module):
            encoder.train()
    if not feats:
        raise ValueError("the loader gave no batch")
    return torch.cat(feats), torch.cat(labels)
