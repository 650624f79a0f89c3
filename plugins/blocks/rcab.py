"""Residual channel-attention block (RCAB), mwrcanet's block."""

from __future__ import annotations

import torch
from torch import nn

from zoo.ops import make_activation


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate: global average pool, 1x1 down, ReLU, 1x1 up, sigmoid, scale."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        # `conv_du` is the released checkpoints' name for this stack.
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(x.mean(dim=(2, 3), keepdim=True))


class RCAB(nn.Module):
    """``x + CA(conv2(PReLU(conv1(x))))``, channels preserved."""

    def __init__(self, channels: int, reduction: int = 16, act: str = "prelu") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = make_activation(act)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.cuca = ChannelAttention(channels, reduction)  # the released checkpoints' name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cuca(self.conv2(self.act(self.conv1(x))))
