"""Benchmark backends: each turns a model into a Runner for ``zoo.denoise``, or says why not."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import torch
from torch import nn

from zoo.infer.runner import Runner, TorchRunner


class BackendUnavailable(Exception):
    """This backend cannot run here; the message says why (shown as a note, not an error)."""


BackendFactory = Callable[[nn.Module, torch.dtype, torch.device], Runner]


def eager(model: nn.Module, dtype: torch.dtype, device: torch.device) -> Runner:
    """Plain PyTorch in the default NCHW layout, nothing fused: the straightforward baseline."""
    return TorchRunner(model, dtype=dtype, device=device, channels_last=False)


def channels_last(model: nn.Module, dtype: torch.dtype, device: torch.device) -> Runner:
    """zoo.denoise's default path: channels_last tensors and weights."""
    return TorchRunner(model, dtype=dtype, device=device, channels_last=True)


def compiled(model: nn.Module, dtype: torch.dtype, device: torch.device) -> Runner:
    """torch.compile (inductor) over the channels_last model; the first call compiles."""
    if device.type == "cpu" and not shutil.which(os.environ.get("CXX", "g++")):
        raise BackendUnavailable("torch.compile on CPU needs a C++ compiler (set CXX or install g++)")
    return TorchRunner(model, dtype=dtype, device=device, channels_last=True, compile=True)


BACKENDS: dict[str, BackendFactory] = {"eager": eager, "channels_last": channels_last, "compile": compiled}
DEFAULT_BACKENDS = ("eager", "channels_last")
