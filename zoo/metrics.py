"""Image quality metrics with an explicit data range (never guessed from the data)."""

from __future__ import annotations

import math

import torch


def psnr(estimate: torch.Tensor, reference: torch.Tensor, *, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB over the whole tensor; ``inf`` for identical inputs."""
    if estimate.shape != reference.shape:
        raise ValueError(f"shapes differ: {tuple(estimate.shape)} vs {tuple(reference.shape)}")
    mse = torch.mean((estimate.double() - reference.double()) ** 2).item()
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)
