"""The denoising pipeline, ``zoo.denoise``: one inference path for every engine's runner (untiled or
tiled, with or without the self-ensemble, a noise-aware model's map)."""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from zoo.contract import noise_channels
from zoo.errors import ZooError
from zoo.infer.conditioning import Conditioned, check_strength, level_for
from zoo.infer.ensemble import self_ensemble
from zoo.infer.inputs import Image, to_batch
from zoo.infer.runner import Runner, TorchRunner
from zoo.infer.tiling import DEFAULT_OVERLAP, run_tiled
from zoo.ops.noiselevel import NoiseLevel


def _tqdm_progress(total: int):
    bar = tqdm(total=total, unit="tile", leave=False, disable=total <= 1)
    return bar.update


def denoise(
    model: nn.Module | Runner,
    image: Image,
    *,
    ensemble: bool = False,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    dtype: torch.dtype | str | None = None,
    device: torch.device | str | None = None,
    progress: bool = False,
    noise_level: NoiseLevel | float | tuple[float, float] | None = None,
    strength: float = 1.0,
    guard: bool | None = None,
) -> Image:
    """Denoise ``image`` (float in [0, 1]; (H, W), (C, H, W) or (N, C, H, W); numpy or torch).

    Returns the same shape, type and dtype, clipped to [0, 1].

    - ``ensemble``: the x8 self-ensemble (8 rotations/flips, averaged in float64).
    - ``tile``: process in overlapping tiles of at most ``tile`` pixels a side, blended with a
      smooth window; memory is then bounded by the tile. ``overlap`` is the shared border.
    - ``dtype``: ``torch.bfloat16`` (CPU with bf16 support, or GPU) or ``torch.float16`` (GPU)
      runs the network's convolutions in reduced precision.
    - ``model`` may also be a :class:`~zoo.infer.runner.Runner` (a prepared backend, e.g. one
      from ``zoo.export``); ``dtype`` and ``device`` then belong to the runner.
    - A noise-aware model is told each image's noise level: ``noise_level`` (a
      :class:`~zoo.ops.noiselevel.NoiseLevel`, a standard deviation, or a raw ``(shot, read)``
      pair), else the level estimated from the image; ``strength`` (0 to 2) scales what it is
      told: 0 returns the input, lower keeps more detail and noise, higher removes more.
      ``guard`` (default: on when ``noise_level`` is given) shrinks what the network removes
      wherever it exceeds the noise of that level, so texture taken for noise is kept
      (:func:`zoo.ops.noisemap.shrink_residual`); it needs a true level, not an estimate.
    """
    if isinstance(model, nn.Module):
        runner: Runner = TorchRunner(model, dtype=dtype, device=device)
    elif isinstance(model, Runner):
        if dtype is not None or device is not None:
            raise ZooError("dtype and device are set on the runner, not on denoise()")
        runner = model
    else:
        raise ZooError(f"expected an nn.Module or a Runner, got {type(model).__name__}")
    strength = check_strength(strength)
    batch, restore = to_batch(image, runner.in_channels)
    if noise_channels(runner):
        if strength == 0.0:
            return restore(batch.clamp(0.0, 1.0))
        images = batch if noise_level is None else batch[:1]  # estimated: a level per image; given: one for all
        levels = [level_for(image.numpy(), batch.shape[1], noise_level) for image in images]
        runner = Conditioned(runner, levels, strength, guard=noise_level is not None if guard is None else guard)
    elif noise_level is not None or strength != 1.0 or guard:
        raise ZooError("this model is blind (it takes no noise level): --noise-level and --strength need a "
                       "noise-aware model")
    with torch.inference_mode():
        # not in place: the result may share the caller's memory
        result = run(runner, batch, ensemble=ensemble, tile=tile, overlap=overlap, progress=progress).clamp(0.0, 1.0)
    return restore(result)


def run(runner: Runner, batch: torch.Tensor, *, ensemble: bool = False, tile: int | None = None,
        overlap: int = DEFAULT_OVERLAP, progress: bool = False) -> torch.Tensor:
    """The pipeline on a validated float32 batch: tiles outside, the ensemble inside each tile
    (as the challenge ensembled each block), the runner innermost. Not clipped."""
    one_pass: Any = functools.partial(self_ensemble, runner) if ensemble else runner
    if tile is None:
        return one_pass(batch)
    return run_tiled(one_pass, batch, tile, overlap, runner.size_multiple, _tqdm_progress if progress else None)
