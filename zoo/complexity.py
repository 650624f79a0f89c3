"""Parameter and multiply-accumulate counts, from torch's own FLOP counter on meta tensors."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from zoo.contract import noise_channels

MEGAPIXEL_SIDE = 1024  # MACs per megapixel are counted on a 1024x1024 input, then scaled to 1e6 px


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _meta_state(model: nn.Module) -> dict[str, torch.Tensor]:
    tensors = itertools.chain(model.named_parameters(), model.named_buffers())
    return {name: torch.empty_like(t, device="meta") for name, t in tensors}


def _param_dtype(model: nn.Module) -> torch.dtype:
    return next(itertools.chain(model.parameters(), [torch.empty(0)])).dtype


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass at ``input_shape``; nothing is computed (meta)."""
    x = torch.empty(input_shape, device="meta", dtype=_param_dtype(model))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        torch.func.functional_call(model, _meta_state(model), (x,))
    return counter.get_total_flops() // 2


def macs_per_megapixel(model: nn.Module, in_channels: int) -> float:
    """MACs per megapixel of an image of ``in_channels`` (a noise-aware model's map added)."""
    side = MEGAPIXEL_SIDE
    return count_macs(model, (1, in_channels + noise_channels(model), side, side)) * 1e6 / (side * side)


@dataclass
class StageSummary:
    name: str
    kind: str
    parameters: int
    output_shape: tuple[int, ...]
    macs: int


def stage_summary(model: nn.Module, input_shape: tuple[int, ...]) -> list[StageSummary]:
    """Per top-level child: parameters, output shape and MACs of one forward at ``input_shape``."""
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        child.register_forward_hook(lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape)))
        for name, child in model.named_children()
    ]
    x = torch.empty(input_shape, device="meta", dtype=_param_dtype(model))
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            torch.func.functional_call(model, _meta_state(model), (x,))
    finally:
        for hook in hooks:
            hook.remove()
    flops = counter.get_flop_counts()
    root = type(model).__name__  # the counter names modules by path under the root's class name
    rows = []
    for name, child in model.named_children():
        if child is None:
            continue
        stage_flops = sum(flops.get(f"{root}.{name}", {}).values())
        rows.append(StageSummary(name, type(child).__name__, count_parameters(child), shapes.get(name, ()), stage_flops // 2))
    return rows

