"""The x8 self-ensemble: the 8 rotations/flips of an image, each denoised, mapped back and
averaged in float64: the challenge's protocol (docs/sidd-protocol.md)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from zoo.ops.dihedral import TRANSFORMS, forward_transform, inverse_transform


def self_ensemble(fn: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor) -> torch.Tensor:
    """Mean of ``inverse(fn(transform(batch)))`` over the 8 transforms, accumulated in float64."""
    total = torch.zeros(batch.shape, dtype=torch.float64)
    for k, flip in TRANSFORMS:
        total += inverse_transform(fn(forward_transform(batch, k, flip).contiguous()), k, flip)
    return (total / len(TRANSFORMS)).to(batch.dtype)
