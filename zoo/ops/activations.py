"""Activations by name, so that configurations stay plain data."""

from __future__ import annotations

from torch import nn

ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "prelu": lambda: nn.PReLU(num_parameters=1),  # one shared slope, as in the released models
    "lrelu": lambda: nn.LeakyReLU(0.2, inplace=True),
    "gelu": lambda: nn.GELU(),
    "silu": lambda: nn.SiLU(inplace=True),
}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module: ``relu``, ``prelu`` (one slope), ``lrelu``, ``gelu`` or ``silu``."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; choose from {', '.join(ACTIVATIONS)}") from None
