"""Plain residual block: conv3x3, activation, conv3x3, plus the input (mwresnet's block)."""

from __future__ import annotations

import torch
from torch import nn

from zoo.ops import make_activation


class ResidualBlock(nn.Module):
    """``x + conv2(act(conv1(x)))``, channels preserved."""

    def __init__(self, channels: int, act: str = "relu") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = make_activation(act)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))
