"""Residual channel-attention block (RCAB), mwrcanet's block."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
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

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """Per-channel weights ``(N, C, 1, 1)`` in (0, 1)."""
        # On pooled vectors the 1x1 convolutions are matrix-vector products: F.linear on the
        # same weights skips a convolution call's overhead (600 of them per full-size forward).
        # sum / count, not mean: on bfloat16, mean first copies the whole tensor to float32
        # (17x slower here); sum accumulates in float32 all the same.
        pooled = x.sum(dim=(2, 3)) / (x.shape[-2] * x.shape[-1])
        squeeze, _, excite, _ = self.conv_du
        squeeze, excite = cast(nn.Conv2d, squeeze), cast(nn.Conv2d, excite)  # the stack's two 1x1 convolutions
        hidden = F.relu(F.linear(pooled, squeeze.weight.flatten(1), squeeze.bias))
        return torch.sigmoid(F.linear(hidden, excite.weight.flatten(1), excite.bias))[..., None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class RCAB(nn.Module):
    """``x + CA(conv2(PReLU(conv1(x))))``, channels preserved."""

    def __init__(self, channels: int, reduction: int = 16, act: str = "prelu") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = make_activation(act)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.cuca = ChannelAttention(channels, reduction)  # the released checkpoints' name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.act(self.conv1(x)))
        gate = self.cuca.gate(y)
        # x + y * gate in one pass over memory instead of two (a multiply, then an add); with
        # no gradient to keep, into y's own memory (y is this block's scratch).
        if y.requires_grad or torch.jit.is_tracing() or torch.compiler.is_compiling():
            return torch.addcmul(x, y, gate)
        return torch.addcmul(x, y, gate, out=y)
