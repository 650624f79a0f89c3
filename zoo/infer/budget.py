"""Tiles chosen from a memory budget: a large image is tiled when its untiled pass would not fit.

The memory of an untiled pass is estimated from the model's widths: each convolution's input
and output activations are counted per input pixel (hooks on a pass over a small image,
:func:`conv_profile`), and the widest layer's, times :data:`ACTIVATION_FACTOR`,
plus a few float32 copies of the image, is the estimate in bytes per pixel. The factor was
measured (peak RSS over the model's own, untiled, float32, 2-core CPU): 3.4x the widest layer for
mwrcanet-demo (217 B per mosaic pixel), 5.0x for mwrcanet-srgb-demo (320 B), 4.2x for the
full-size mwrcanet (808 B); 5 errs on the large side.

The budget is ``--memory-budget``, else ``$ZOO_MEMORY_BUDGET`` (e.g. ``1500M``, ``4G``; ``0``: never
tile on its own), else 2 GiB or half the memory available now (``MemAvailable``), whichever is
less. An explicit ``--tile`` always wins. The tile is the largest square whose estimate fits,
on the model's size multiple, with the usual overlap.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from zoo.cache import parse_size
from zoo.complexity import _param_dtype
from zoo.contract import guarded_forward, model_name, noise_channels
from zoo.infer.tiling import DEFAULT_OVERLAP, round_up

ACTIVATION_FACTOR = 5.0
IMAGE_COPIES = 4  # the input, its padded and channels_last copies, the output
DEFAULT_BUDGET = 2 << 30
BUDGET_ENV = "ZOO_MEMORY_BUDGET"
PROBE_SIDE = 32  # pixels a side (at least twice the size multiple): the profiling pass's input
MIN_TILE = 128


@dataclass(frozen=True)
class ConvProfile:
    """What a model's convolutions do per input pixel: multiply-accumulates, and the activations
    (input plus output elements) of the widest layer."""

    macs_per_pixel: float
    widest_per_pixel: float
    in_channels: int

    @property
    def gmacs_per_megapixel(self) -> float:
        return self.macs_per_pixel * 1e6 / 1e9


def conv_profile(model: nn.Module, in_channels: int, multiple: int = 1) -> ConvProfile:
    """The model's :class:`ConvProfile`, from hooks on one pass over a small random image (a real
    pass: milliseconds, where a first pass on meta tensors imports for seconds)."""
    side = max(PROBE_SIDE, 2 * multiple) // multiple * multiple
    macs, widest = 0, 0

    def hook(module: nn.Conv2d, inputs, output) -> None:
        nonlocal macs, widest
        kernel = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
        macs += output.numel() * kernel
        widest = max(widest, inputs[0].numel() + output.numel())

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        parameter = next(model.parameters(), None)
        x = torch.rand((1, in_channels + noise_channels(model), side, side), generator=torch.Generator().manual_seed(0)).to(
            device=parameter.device if parameter is not None else "cpu", dtype=_param_dtype(model))
        with torch.inference_mode(), guarded_forward(model_name(model)):  # a sys.exit in it: said, not silent
            model(x)
    finally:
        for handle in hooks:
            handle.remove()
    pixels = side * side
    return ConvProfile(macs / pixels, (widest or 2 * in_channels * pixels) / pixels, in_channels)


def bytes_per_pixel(profile: ConvProfile, element_bytes: int = 4) -> float:
    """Estimated peak bytes of an untiled pass per input pixel (module docstring)."""
    return (ACTIVATION_FACTOR * profile.widest_per_pixel + IMAGE_COPIES * profile.in_channels) * element_bytes


def _available() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_budget(given: str | None = None) -> int | None:
    """The budget in bytes (module docstring); None: no automatic tiling."""
    text = given if given not in (None, "") else os.environ.get(BUDGET_ENV)
    if text not in (None, ""):
        what = "--memory-budget" if given not in (None, "") else BUDGET_ENV
        return parse_size(text, what) or None
    available = _available()
    return min(DEFAULT_BUDGET, available // 2) if available else DEFAULT_BUDGET


def auto_tile(per_pixel: float, height: int, width: int, budget: int | None, multiple: int = 1,
              overlap: int = DEFAULT_OVERLAP) -> int | None:
    """The tile for an image of ``height x width`` under ``budget`` bytes; None when the untiled
    pass fits (or there is no budget)."""
    if budget is None or per_pixel * height * width <= budget:
        return None
    side = int(math.sqrt(budget / per_pixel)) // multiple * multiple
    smallest = round_up(overlap, multiple) + max(multiple, MIN_TILE)
    return max(side, smallest)


def untiled_bytes_per_pixel(model: nn.Module, in_channels: int, multiple: int = 1) -> float | None:
    """:func:`bytes_per_pixel` of ``model``, or None (with a warning: no automatic tiling) when the
    profiling pass fails, e.g. a plugin's model that refuses a small image."""
    try:
        return bytes_per_pixel(conv_profile(model, in_channels, multiple))
    except Exception as exc:  # a model of any plugin: its own error types
        warnings.warn(f"cannot estimate the memory of an untiled pass ({type(exc).__name__}: {str(exc)[:120]}): "
                      "large images are not tiled on their own; give --tile", RuntimeWarning, stacklevel=2)
        return None
