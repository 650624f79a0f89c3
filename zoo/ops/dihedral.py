"""The 8 rotations and flips of the square (the dihedral group), as applied to the last two axes:
the x8 self-ensemble undoes each after denoising; training augments each patch with one."""

from __future__ import annotations

import torch

# (k quarter turns, flip first): the dihedral group of the square, identity first.
TRANSFORMS = [(k, flip) for flip in (False, True) for k in range(4)]


def forward_transform(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    return torch.rot90(x.flip(-1) if flip else x, k, dims=(-2, -1))


def inverse_transform(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, -k, dims=(-2, -1))
    return x.flip(-1) if flip else x
