"""Runners: what runs a network on one float32 ``(N, C, H, W)`` batch. Tiling, the
self-ensemble and image handling sit above them, shared by every backend (torch, onnxruntime)."""

from __future__ import annotations

import copy
import warnings
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from zoo.contract import check_output, guarded_forward, input_channels_if_known, model_name, noise_channels, size_multiple
from zoo.errors import ZooError
from zoo.infer.allocator import keep_freed_memory
from zoo.precision import DTYPES

@runtime_checkable
class Runner(Protocol):
    """Maps a float32 CPU batch ``(N, C, H, W)`` to the denoised float32 CPU batch."""

    size_multiple: int  # input sizes it runs without padding of its own (1: any)
    in_channels: int | None
    device: str  # what actually runs it, in words

    def __call__(self, batch: torch.Tensor) -> torch.Tensor: ...


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(dtype: torch.dtype | str | None, device: torch.device) -> torch.dtype:
    """The compute dtype to use on ``device``: float16 needs a GPU, bfloat16 hardware support."""
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ZooError(f"unknown dtype '{dtype}'; choose from {', '.join(DTYPES)}")
        dtype = DTYPES[dtype]
    dtype = dtype or torch.float32
    if dtype not in DTYPES.values():
        raise ZooError(f"unsupported dtype {dtype}; choose from {', '.join(DTYPES)}")
    if device.type == "cpu":
        if dtype == torch.float16:
            raise ZooError("float16 inference needs a GPU; on a CPU use bfloat16")
        if dtype == torch.bfloat16 and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            warnings.warn("this CPU has no bfloat16 support: running in float32", RuntimeWarning, stacklevel=3)
            return torch.float32
    return dtype


def parse_device(device: torch.device | str | None) -> torch.device:
    """The device to run on: the given one (checked), else the GPU when there is one."""
    if device is None:
        return default_device()
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ZooError(f"unknown device {device!r}; use cpu or cuda[:N]") from exc
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ZooError(f"device {device!r} asked for, but this torch sees no CUDA GPU")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ZooError(f"device {device!r}: only {torch.cuda.device_count()} GPU(s) here")
    elif parsed.type != "cpu":
        raise ZooError(f"unsupported device {device!r}; use cpu or cuda[:N]")
    elif parsed.index not in (None, 0):  # torch takes cpu:99 and runs on the one CPU device
        raise ZooError(f"device {device!r}: the CPU is a single device; use cpu")
    return parsed


def prepare_for_inference(model: nn.Module, *, device: torch.device, dtype: torch.dtype, channels_last: bool) -> nn.Module:
    """An eval-mode copy of ``model`` on ``device``, its weights in ``dtype`` and layout; the
    user's model itself is never modified. (Build a runner once for many calls: no cache keyed
    on the model could see weights changed through ``.data``.)"""
    module = copy.deepcopy(model).eval().requires_grad_(False)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    return module.to(device, dtype, memory_format=layout)  # type: ignore[call-overload]  # Module.to takes it; its stubs omit it


class TorchRunner:
    """Runs an ``nn.Module`` in eval mode under ``inference_mode``, on the GPU when there is one.

    ``channels_last`` (default on) is the faster layout for these convolutions on CPU (oneDNN)
    and on GPU tensor cores. ``dtype`` bfloat16/float16 converts the weights and runs under
    autocast: the network in reduced precision, while what needs float32 (the Haar residual
    path) keeps it.
    It runs a copy prepared once (see :func:`prepare_for_inference`): ``model`` is left as it
    is, and later changes to its weights need a new runner.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        dtype: torch.dtype | str | None = None,
        device: torch.device | str | None = None,
        channels_last: bool = True,
        compile: bool = False,
    ) -> None:
        self.torch_device = parse_device(device)
        self.dtype = resolve_dtype(dtype, self.torch_device)
        if self.torch_device.type == "cpu":
            keep_freed_memory()
        self.channels_last = channels_last
        self.model = prepare_for_inference(model, device=self.torch_device, dtype=self.dtype, channels_last=channels_last)
        self.module = torch.compile(self.model, dynamic=False) if compile else self.model
        self.size_multiple = size_multiple(model)
        self.in_channels: int | None = input_channels_if_known(model)
        self.noise_channels = noise_channels(model)
        self.name = model_name(model)
        name = torch.cuda.get_device_name(self.torch_device) if self.torch_device.type == "cuda" else "cpu"
        layout = ", channels_last" if channels_last else ""
        self.device = f"{name} ({str(self.dtype).removeprefix('torch.')}{layout})"

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.torch_device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        reduced = self.dtype != torch.float32
        with torch.inference_mode(), torch.autocast(self.torch_device.type, dtype=self.dtype, enabled=reduced), \
                guarded_forward(self.name):
            y = self.module(x)
        # Every path (eval, denoise, tiles, the ensemble, bench) runs a torch model through here:
        # an output of the wrong shape is said naming the model, before tiling or image code trips on it.
        return check_output(self.model, x.shape, y).to("cpu", torch.float32)
