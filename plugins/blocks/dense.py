"""DenseNet-style block: each conv3x3 sees every earlier feature map; a 1x1 fuses back."""

from __future__ import annotations

import torch
from torch import nn

from zoo.ops import make_activation


class DenseBlock(nn.Module):
    """``x + fuse(concat(x, f1, ..., fL))`` where ``f_i = act(conv3x3(concat(x, f1, ..., f_{i-1})))``."""

    def __init__(self, channels: int, layers: int = 4, growth_rate: int = 32, act: str = "relu") -> None:
        super().__init__()
        if layers < 1 or growth_rate < 1:
            raise ValueError(f"layers and growth_rate must be positive, got {layers} and {growth_rate}")
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels + i * growth_rate, growth_rate, 3, padding=1), make_activation(act))
            for i in range(layers)
        )
        self.fuse = nn.Conv2d(channels + layers * growth_rate, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return x + self.fuse(torch.cat(features, dim=1))
