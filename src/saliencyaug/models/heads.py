"""Projector and predictor heads (BYOL's MLP heads; CVSA's conv heads).

Keyword names follow lightly: ``input_dim``, ``hidden_dim``, ``output_dim``.
"""

from __future__ import annotations

import torch
from torch import nn

from saliencyaug import _checks


def _check_dims(input_dim: int, hidden_dim: int, output_dim: int) -> tuple[int, int, int]:
    return (
        _checks.integer("input_dim", input_dim, minimum=1),
        _checks.integer("hidden_dim", hidden_dim, minimum=1),
        _checks.integer("output_dim", output_dim, minimum=1),
    )


class MLPHead(nn.Sequential):
    """Linear -> BatchNorm1d -> ReLU -> Linear: BYOL's projector ``g_mlp`` and predictor
    ``p_mlp`` (BYOL: hidden 4096, output 256).

    Shapes: ``(B, input_dim) -> (B, output_dim)``.

    Examples:
        >>> MLPHead(512, 64, 16)(torch.randn(4, 512)).shape
        torch.Size([4, 16])
    """

    def __init__(self, input_dim: int, hidden_dim: int = 4096, output_dim: int = 256) -> None:
        input_dim, hidden_dim, output_dim = _check_dims(input_dim, hidden_dim, output_dim)
        super().__init__(
            nn.Linear(input_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, output_dim),
        )


class ConvHead(nn.Sequential):
    """Conv1x1 -> BatchNorm2d -> ReLU -> Conv1x1 on a feature map (CVSA's ``g_conv`` and
    ``p_conv``). Shapes: ``(B, input_dim, h, w) -> (B, output_dim, h, w)``.

    Examples:
        >>> ConvHead(512, 64, 16)(torch.randn(2, 512, 7, 5)).shape
        torch.Size([2, 16, 7, 5])
    """

    def __init__(self, input_dim: int, hidden_dim: int = 4096, output_dim: int = 256) -> None:
        input_dim, hidden_dim, output_dim = _check_dims(input_dim, hidden_dim, output_dim)
        super().__init__(
            nn.Conv2d(input_dim, hidden_dim, 1),
            nn.BatchNorm2d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden_dim, output_dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"ConvHead expects a (B, C, h, w) map, got {tuple(x.shape)}")
        # 1x1 convolutions are matrix products over positions: the channels-last layout
        # makes them about 1.4x faster on the CPU (benchmarks/RESULTS.md) and suits cuDNN
        return super().forward(x.contiguous(memory_format=torch.channels_last))


class ConvProjector(ConvHead):
    """CVSA's convolutional projector ``g_conv`` (defaults: hidden 4096, output 256)."""


class ConvPredictor(ConvHead):
    """CVSA's convolutional predictor ``p_conv`` (defaults: input 256, hidden 4096, output 256)."""

    def __init__(self, input_dim: int = 256, hidden_dim: int = 4096, output_dim: int = 256) -> None:
        super().__init__(input_dim, hidden_dim, output_dim)
