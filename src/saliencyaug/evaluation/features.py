"""Feature extraction with a frozen encoder."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from saliencyaug import _checks


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

    _checks.callable_("encoder", encoder)
    was_training = isinstance(encoder, nn.Module) and encoder.training
    if isinstance(encoder, nn.Module):
        encoder.eval()
        first = next(encoder.parameters(), None)  # a module may have no parameters
        device = device or (first.device if first is not None else None)
    device = torch.device(device or "cpu")
    feats, labels = [], []
    try:
        for batch in tqdm(loader, disable=not progress, desc="features", unit="batch"):
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise ValueError("each batch of the loader must be (images, labels, ...)")
            images, targets = batch[0], batch[1]
            out = _pooled(encoder(images.to(device)))
            if not isinstance(out, torch.Tensor) or out.ndim != 2:
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(
                    f"the encoder must return (B, n) features or an object with .pooled, got "
                    f"{shape}"
                )
            feats.append(out.float().cpu())
            labels.append(torch.as_tensor(targets).long().cpu())
    finally:
        if was_training and isinstance(encoder, nn.Module):
            encoder.train()
    if not feats:
        raise ValueError("the loader gave no batch")
    return torch.cat(feats), torch.cat(labels)
