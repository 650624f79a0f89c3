"""Activations by name, so that configurations stay plain data."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SharedPReLU(nn.PReLU):
    """PReLU with one slope shared by all channels (the released models' activation).

    Like ``nn.ReLU(inplace=True)``, it overwrites its input when no gradient is recorded on a
    CPU: with one slope PReLU is a leaky ReLU, and in place it skips allocating and writing a
    fresh output (about 1.5% of a full-size mwrcanet forward). The parameter is ``weight``, as in
    ``nn.PReLU``, so checkpoints load unchanged; training, GPUs and graph capture (ONNX export,
    ``torch.compile``) take the plain PReLU path.
    """

    def __init__(self) -> None:
        super().__init__(num_parameters=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (torch.is_grad_enabled() or x.device.type != "cpu" or torch.jit.is_tracing()
                or torch.compiler.is_compiling()):
            return super().forward(x)
        return F.leaky_relu_(x, float(self.weight))


ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "prelu": SharedPReLU,
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
