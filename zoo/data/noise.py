"""Heteroscedastic raw noise: Gaussian with variance ``shot * x + read`` at clean level ``x``.

``shot`` models photon (Poisson) noise, whose variance grows with the signal; ``read`` the
signal-independent sensor noise. Both are in the units of a raw image normalised to [0, 1].
Every function takes numpy arrays or torch tensors and returns the same type.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)

# The SIDD-calibrated sampler of CycleISP, in BASE-10 logarithms:
#   log10(shot) ~ U(log10(6.8674e-4), log10(2.194856e-2))
#   log10(read) = 1.85 * log10(shot) + 0.30 + N(0, 0.20)
# Brooks et al. ("Unprocessing", 2019) use NATURAL logarithms with other constants
# (ln(shot) ~ U(ln 1e-4, ln 0.012), ln(read) = 2.18 ln(shot) + 1.20 + N(0, 0.26)). The two sets
# must not be mixed: these constants are only valid with log10 and 10 ** (...).
SIDD_LOG10_SHOT_MIN = math.log10(6.8674e-4)
SIDD_LOG10_SHOT_MAX = math.log10(2.194856e-2)
SIDD_LOG10_READ_SLOPE = 1.85
SIDD_LOG10_READ_INTERCEPT = 0.30
SIDD_LOG10_READ_STD = 0.20


def sample_noise_levels(rng: np.random.Generator) -> tuple[float, float]:
    """Draw ``(shot, read)`` from the SIDD-calibrated sampler (base-10 logs, see the constants)."""
    log_shot = rng.uniform(SIDD_LOG10_SHOT_MIN, SIDD_LOG10_SHOT_MAX)
    jitter = rng.normal(0.0, SIDD_LOG10_READ_STD)
    log_read = SIDD_LOG10_READ_SLOPE * log_shot + SIDD_LOG10_READ_INTERCEPT + jitter
    return float(10.0**log_shot), float(10.0**log_read)


def noise_variance(clean: Array, shot: float | Array, read: float | Array) -> Array:
    """Per-pixel variance ``max(shot * clean + read, 0)``.

    The clamp matters where ``clean`` dips below 0 (black-level noise in real raw, or a denoised
    estimate): a negative variance has no meaning.
    """
    variance = shot * clean + read
    return variance.clip(min=0.0)


def noise_sigma(clean: Array, shot: float | Array, read: float | Array) -> Array:
    """Per-pixel standard deviation ``sqrt(max(shot * clean + read, 0))``."""
    variance = noise_variance(clean, shot, read)
    return variance.sqrt() if isinstance(variance, torch.Tensor) else np.sqrt(variance)


def mean_noise_sigma(clean: Array, shot: float, read: float) -> float:
    """One noise level for the whole image: the root of the mean variance.

    For baselines that take a single sigma (BM3D, ...); the root of the mean variance, not the
    mean of the per-pixel sigmas, is what matches the image's total noise power.
    """
    variance = noise_variance(clean, shot, read)
    if isinstance(variance, torch.Tensor):
        return math.sqrt(float(variance.double().mean()))
    return math.sqrt(float(np.mean(variance, dtype=np.float64)))


def add_noise(
    clean: Array,
    shot: float | Array,
    read: float | Array,
    rng: np.random.Generator | torch.Generator,
) -> Array:
    """``clean + N(0, shot * clean + read)`` per pixel, in ``clean``'s type, dtype and device.

    ``rng`` is a ``numpy.random.Generator`` for numpy input and a ``torch.Generator`` (on
    ``clean``'s device) for torch input: the same seed gives the same noise, run after run.
    ``shot`` and ``read`` are scalars or broadcast against ``clean`` (e.g. ``(N, 1, 1, 1)`` for a
    level per image of a batch).

    The result is not clipped: clipping at 0 would raise the mean of dark pixels and shrink their
    variance, so the noise would no longer be the zero-mean model the levels describe (real raw
    also dips below the black level). Callers that need [0, 1] clip it themselves.
    """
    if isinstance(clean, torch.Tensor):
        if not isinstance(rng, torch.Generator):
            raise TypeError(f"a torch tensor needs a torch.Generator, got {type(rng).__name__}")
        if not clean.is_floating_point():
            raise ValueError(f"expected a float image, got dtype {clean.dtype}")
        noise = torch.randn(clean.shape, generator=rng, dtype=clean.dtype, device=clean.device)
        return clean + noise * noise_sigma(clean, shot, read)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"a numpy array needs a numpy.random.Generator, got {type(rng).__name__}")
    clean = np.asarray(clean)
    if clean.dtype not in (np.float32, np.float64):  # the dtypes numpy's Gaussian sampler draws
        raise ValueError(f"expected a float32 or float64 image, got dtype {clean.dtype}")
    noise = rng.standard_normal(clean.shape, dtype=clean.dtype)
    return (clean + noise * noise_sigma(clean, shot, read)).astype(clean.dtype, copy=False)
