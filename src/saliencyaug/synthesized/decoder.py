"""The feature decoder ``h_d``: pooled vector -> image (second paper; architecture not given).

``FeatureDecoder`` maps a ``(B, n)`` pooled feature to a ``(B, 3, S, S)`` image in [0, 1]:
a linear layer to a ``(C0, s0, s0)`` grid (``s0`` in 4..7), then blocks of nearest-neighbour
upsampling x2 + 3x3 conv + BatchNorm + ReLU halving the channels, and a final 3x3 conv with a
sigmoid. Widths suit ResNet-18 (512-d) and ResNet-50 (2048-d) features. As the paper does, it
is pre-trained with the encoder frozen (:func:`pretrain_decoder`) before joint training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from saliencyaug import _checks


def _start_size(size: int) -> tuple[int, int]:
    """``(s0, number of x2 upsamplings)`` with ``s0 * 2**k == size`` and 4 <= s0 <= 7."""
    k = 0
    s = size
    while s > 7:
        if s % 2:
            raise ValueError(
                f"output_size must be 4..7 times a power of two (e.g. 64, 128, 224), got {size}"
            )
        s //= 2
        k += 1
    if s < 4:
        raise ValueError(
            f"output_size must be 4..7 times a power of two (e.g. 64, 128, 224), got {size}"
        )
    return s, k


class FeatureDecoder(nn.Module):
    """Decode a pooled feature vector into an image.

    Args:
        input_dim: feature dimension (512 for ResNet-18, 2048 for ResNet-50).
        output_size: image side: 64, 128, 224 (any 4..7 times a power of two).
        base_channels: channels of the first grid (default: ``min(512, input_dim)``); each
            upsampling block halves them, down to at least 16.
        out_channels: image channels.

    Shapes: ``(B, input_dim) -> (B, out_channels, output_size, output_size)`` in [0, 1].

    Examples:
        >>> FeatureDecoder(512, 64)(torch.randn(2, 512)).shape
        torch.Size([2, 3, 64, 64])
    """

    def __init__(
        self,
        input_dim: int = 512,
        output_size: int = 224,
        base_channels: int | None = None,
        out_channels: int = 3,
    ) -> None:
        super().__init__()
        input_dim = _checks.integer("input_dim", input_dim, minimum=1)
        out_channels = _checks.integer("out_channels", out_channels, minimum=1)
        output_size = _checks.integer("output_size", output_size, minimum=1)
        if base_channels is not None:
            base_channels = _checks.integer("base_channels", base_channels, minimum=1)
        s0, k = _start_size(output_size)
        c = base_channels or min(512, input_dim)
        self.input_dim = input_dim
        self.output_size = output_size
        self.start = (c, s0)
        self.fc = nn.Sequential(
            nn.Linear(input_dim, c * s0 * s0), nn.BatchNorm1d(c * s0 * s0), nn.ReLU(inplace=True)
        )
        blocks: list[nn.Module] = []
        for _ in range(k):
            c_out = max(16, c // 2)
            blocks += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(c, out_channels, 3, padding=1)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        _checks.float_tensor("v", v, 2, f"(B, {self.input_dim})")
        if v.shape[1] != self.input_dim:
            raise ValueError(f"v must be (B, {self.input_dim}), got {tuple(v.shape)}")
        weight = self.head.weight
        if v.dtype != weight.dtype and not torch.is_autocast_enabled():
            raise TypeError(
                f"v has dtype {v.dtype} but the decoder's weights are {weight.dtype}; cast it or "
                "run under torch.autocast"
            )
        c, s0 = self.start
        x = self.fc(v).view(-1, c, s0, s0)
        return torch.sigmoid(self.head(self.blocks(x)))


def pretrain_decoder(
    encoder: Callable[[torch.Tensor], torch.Tensor],
    decoder: nn.Module,
    batches: Iterable[torch.Tensor],
    epochs: int = 1,
    lr: float = 1e-3,
    device: Any = None,
    encoder_modules: Iterable[nn.Module] = (),
) -> list[float]:
    """Train the decoder alone to reconstruct clean images from frozen encoder features.

    The encoder runs under ``torch.no_grad`` (its parameters are untouched and, when given in
    ``encoder_modules``, kept in eval mode for the duration and restored after); Adam on the
    decoder minimises ``MSE(decoder(encoder(x)), x01)``, where ``x01`` is the batch resized to
    the decoder's size.

    Args:
        encoder: images ``(B, 3, H, W)`` -> pooled features ``(B, n)``.
        decoder: the decoder to train (a :class:`FeatureDecoder`, possibly
            ``DistributedDataParallel``-wrapped so that every process trains the same one).
        batches: image batches in [0, 1] (what the decoder should produce); re-iterated per epoch.
        epochs: passes over ``batches``.
        lr: Adam learning rate.
        device: where to train (default: the decoder's).
        encoder_modules: modules of the encoder to hold in eval mode while pre-training.

    Returns:
        The mean reconstruction loss of each epoch.
    """
    import torch.nn.functional as F

    device = device or next(decoder.parameters()).device
    opt = torch.optim.Adam(decoder.parameters(), lr=lr)
    modes = [(m, m.training) for m in encoder_modules]
    for m, _ in modes:
        m.eval()
    history = []
    decoder.train()
    try:
        for _ in range(epochs):
            total, n = 0.0, 0
            for x in batches:
                x = x.to(device)
                with torch.no_grad():
                    v = encoder(x)
                x_hat = decoder(v)
                target = F.interpolate(
                    x, size=x_hat.shape[-2:], mode="bilinear", antialias=True, align_corners=False
                )
                loss = F.mse_loss(x_hat, target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * x.shape[0]
                n += x.shape[0]
            history.append(total / max(n, 1))
    finally:
        for m, mode in modes:
            m.train(mode)
    return history
