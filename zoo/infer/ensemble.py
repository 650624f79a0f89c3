"""The x8 self-ensemble: the 8 rotations/flips of an image, each denoised, mapped back and
averaged in float64: the challenge's protocol (docs/sidd-protocol.md)."""

from __future__ import annotations

from collections.abc import Callable

import torch

# (k quarter turns, flip first): the dihedral group of the square, identity first.
TRANSFORMS = [(k, flip) for flip in (False, True) for k in range(4)]


def forward_transform(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    return torch.rot90(x.flip(-1) if flip else x, k, dims=(-2, -1))


def inverse_transform(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, -k, dims=(-2, -1))
    return x.flip(-1) if flip else x


def self_ensemble(fn: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor) -> torch.Tensor:
    """Mean of ``inverse(fn(transform(batch)))`` over the 8 transforms, accumulated in float64."""
    total = torch.zeros(batch.shape, dtype=torch.float64)
    for k, flip in TRANSFORMS:
        total += inverse_transform(fn(forward_transform(batch, k, flip).contiguous()), k, flip)
    return (total / len(TRANSFORMS)).to(batch.dtype)
