"""Haar discrete wavelet transform (DWT) and its inverse (IWT), as in the released MW networks.

For a 2x2 cell ``(a b / c d)`` of input channel ``k``, output channels ``4k .. 4k+3`` are
``(a+b+c+d)/2, (a+b-c-d)/2, (a-b+c-d)/2, (a-b-c+d)/2``: the sub-bands of one channel are
adjacent. The DWT is a grouped stride-2 convolution, the IWT the matching grouped stride-2
transposed convolution with the same filters (the 4x4 Haar matrix is symmetric and orthogonal),
so both export to ONNX as plain Conv / ConvTranspose with constant weights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

# One 2x2 filter per sub-band, shape (4, 1, 2, 2): the layout the released checkpoints store.
HAAR_FILTERS = 0.5 * torch.tensor(
    [
        [[1.0, 1.0], [1.0, 1.0]],
        [[1.0, 1.0], [-1.0, -1.0]],
        [[1.0, -1.0], [1.0, -1.0]],
        [[1.0, -1.0], [-1.0, 1.0]],
    ]
).unsqueeze(1)


def _grouped_filters(filters: torch.Tensor, channels: int, like: torch.Tensor) -> torch.Tensor:
    return filters.to(device=like.device, dtype=like.dtype).repeat(channels, 1, 1, 1)


def dwt(x: torch.Tensor, filters: torch.Tensor = HAAR_FILTERS) -> torch.Tensor:
    """``(N, C, H, W)`` with even H, W -> ``(N, 4C, H/2, W/2)``."""
    channels = x.shape[1]
    return F.conv2d(x, _grouped_filters(filters, channels, x), stride=2, groups=channels)


def iwt(x: torch.Tensor, filters: torch.Tensor = HAAR_FILTERS) -> torch.Tensor:
    """``(N, 4C, H, W)`` -> ``(N, C, 2H, 2W)``; the exact inverse of :func:`dwt`."""
    if x.shape[1] % 4:
        raise ValueError(f"IWT needs a channel count divisible by 4, got {x.shape[1]}")
    channels = x.shape[1] // 4
    return F.conv_transpose2d(x, _grouped_filters(filters, channels, x), stride=2, groups=channels)


class _Haar(nn.Module):
    transform: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # dwt or iwt, set by the subclass
    weight: torch.Tensor  # the buffer registered below

    def __init__(self) -> None:
        super().__init__()
        # A constant, not a parameter: it follows .to(device/dtype) but is never saved.
        self.register_buffer("weight", HAAR_FILTERS.clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # An exact linear map runs in its input's dtype and is never autocast: that keeps a
        # network's residual path (head DWT, skip, tail IWT) in float32 under bf16/fp16 autocast,
        # where a [0, 1] image quantised to bf16 would cap the PSNR near 53 dB.
        device = x.device.type
        if device in ("cpu", "cuda") and torch.is_autocast_enabled(device):
            with torch.autocast(device, enabled=False):
                return self.transform(x, self.weight)
        return self.transform(x, self.weight)


class HaarDWT(_Haar):
    """Haar DWT module: ``(N, C, H, W)`` -> ``(N, 4C, H/2, W/2)``."""

    transform = staticmethod(dwt)


class HaarIWT(_Haar):
    """Inverse Haar DWT module: ``(N, 4C, H, W)`` -> ``(N, C, 2H, 2W)``."""

    transform = staticmethod(iwt)
