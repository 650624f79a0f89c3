"""Noise level functions and a blind estimator of them, for sRGB images and Bayer mosaics.

A :class:`NoiseLevel` holds the noise standard deviation of each channel at intensity knots.
:func:`estimate_noise` measures it from one noisy image: the residual energy of small patches
after a plane fit, the lowest quantile of it per intensity bin (flat patches; texture and edges
only raise the energy), corrected for the noise's spatial correlation, which is measured from
the same flat patches. :func:`noise_map` turns a level into a per-pixel sigma map for a
noise-aware network. Raw mosaics get one shot/read fit for all CFA planes, from the difference
of the two green planes (which cancels most of the scene), corrected for the clip at 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch

from zoo.ops.noisemap import sigma_map

PATCH = 8  # sRGB patch side: large enough that the plane fit removes little correlated noise
PLANE_PATCH = 6  # a CFA plane is half the size; raw noise is white, so a smaller patch loses little
MAX_PATCHES = 20_000  # per channel: bounds the time on large images (a regular grid, deterministic)
QUANTILE = 0.1  # of a bin's patch energies: low enough to skip most texture, high enough to be stable
ORDER = 1  # degree of the polynomial fit removed from each patch
MIN_PATCHES = 24  # a bin with fewer falls back to its neighbours
LAGS = 3  # the correlation model: the noise's autocovariance is taken as 0 beyond this many pixels
RAW_BINS = 12  # intensity bins of a CFA plane's shot/read fit (equal counts of patches)
CLIP = 0.5 / 255.0  # a patch with a pixel this close to 0 or 1 is clipped: its spread is not the noise's


@dataclass(frozen=True)
class NoiseLevel:
    """A noise level function: the noise standard deviation per channel at intensity knots."""

    knots: np.ndarray  # (K,) increasing intensities in [0, 1]
    sigma: np.ndarray  # (C, K) noise std of channel c at knots[k]

    def __post_init__(self) -> None:
        knots = np.asarray(self.knots, dtype=np.float64)
        sigma = np.asarray(self.sigma, dtype=np.float64)
        if knots.ndim != 1 or knots.size < 1:
            raise ValueError(f"knots must be a non-empty 1-D array, got shape {knots.shape}")
        if sigma.ndim != 2 or sigma.shape[1] != knots.size or sigma.shape[0] < 1:
            raise ValueError(f"sigma must be (C, {knots.size}), got shape {sigma.shape}")
        if not (np.isfinite(knots).all() and np.isfinite(sigma).all()):
            raise ValueError("knots and sigma must be finite")
        if (sigma < 0).any():
            raise ValueError("sigma must be non-negative")
        if (knots < 0).any() or (knots > 1).any() or (np.diff(knots) <= 0).any():
            raise ValueError("knots must increase strictly within [0, 1]")
        object.__setattr__(self, "knots", knots)
        object.__setattr__(self, "sigma", sigma)

    @property
    def channels(self) -> int:
        return int(self.sigma.shape[0])

    def at(self, intensity: np.ndarray) -> np.ndarray:
        """Sigma at ``(C, H, W)`` intensities: linear between knots, constant beyond the ends."""
        intensity = np.asarray(intensity)
        if intensity.ndim < 1 or intensity.shape[0] != self.channels:
            raise ValueError(f"expected {self.channels} channels first, got shape {intensity.shape}")
        return np.stack([np.interp(intensity[c], self.knots, self.sigma[c]) for c in range(self.channels)])

    def scaled(self, factor: float) -> NoiseLevel:
        """The same function times ``factor`` (>= 0)."""
        if not (math.isfinite(factor) and factor >= 0):
            raise ValueError(f"factor must be finite and non-negative, got {factor}")
        return NoiseLevel(self.knots, self.sigma * factor)

    @classmethod
    def from_shot_read(cls, shot: float | Sequence[float], read: float | Sequence[float], channels: int = 1,
                       knots: int = 9) -> NoiseLevel:
        """``sigma = sqrt(shot * x + read)``: one pair for every channel, or one per channel."""
        shot_c = np.broadcast_to(np.asarray(shot, dtype=np.float64), (channels,))
        read_c = np.broadcast_to(np.asarray(read, dtype=np.float64), (channels,))
        if (shot_c < 0).any() or (read_c < 0).any() or not np.isfinite([shot_c, read_c]).all():
            raise ValueError("shot and read must be finite and non-negative")
        grid = np.linspace(0.0, 1.0, knots)
        return cls(grid, np.sqrt(shot_c[:, None] * grid[None] + read_c[:, None]))

    def to_dict(self) -> dict:
        """JSON-able: ``{"knots": [...], "sigma": [[...], ...]}``."""
        return {"knots": self.knots.tolist(), "sigma": self.sigma.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> NoiseLevel:
        """The inverse of :meth:`to_dict`; ValueError on anything that is not a valid level."""
        if not isinstance(data, dict) or set(data) != {"knots", "sigma"}:
            raise ValueError("a noise level is a mapping with exactly the keys 'knots' and 'sigma'")
        try:
            knots = np.asarray(data["knots"], dtype=np.float64)
            sigma = np.asarray(data["sigma"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"knots and sigma must be numbers: {exc}") from None
        return cls(knots, sigma)


# --- patch statistics -------------------------------------------------------------------------------

def _plane_basis(p: int) -> np.ndarray:
    return _basis(p, ORDER)


@functools.lru_cache(maxsize=8)
def _basis(p: int, order: int) -> np.ndarray:
    """An orthonormal basis ``(p*p, B)`` of the polynomials of degree <= ``order`` on a patch."""
    y, x = np.mgrid[:p, :p].astype(np.float64) - (p - 1) / 2
    terms = [(x**i * y**j).ravel() for i in range(order + 1) for j in range(order + 1 - i)]
    q, _ = np.linalg.qr(np.stack(terms, axis=1))
    return q


def _patches(plane: np.ndarray, p: int) -> np.ndarray:
    """Patches ``(N, p*p)`` of a 2-D plane on a regular grid, at most :data:`MAX_PATCHES` of them."""
    h, w = plane.shape
    if h < p or w < p:
        return np.zeros((0, p * p))
    positions = (h - p + 1) * (w - p + 1)
    stride = max(p // 2, math.ceil(math.sqrt(positions / MAX_PATCHES)))  # half-overlapping at most
    view = np.lib.stride_tricks.sliding_window_view(plane, (p, p))[::stride, ::stride]
    return view.reshape(-1, p * p).astype(np.float64)


@dataclass(frozen=True)
class _Stats:
    mean: np.ndarray  # (N,) patch means
    energy: np.ndarray  # (N,) mean squared residual after the plane fit
    residual: np.ndarray  # (N, p*p)
    clipped: np.ndarray  # (N,) bool


def _stats(plane: np.ndarray, p: int) -> _Stats:
    return _stats_of(_patches(plane, p), p)


def _stats_of(patches: np.ndarray, p: int) -> _Stats:
    """Patch statistics of ``(N, p*p)`` patches."""
    basis = _plane_basis(p)
    residual = patches - (patches @ basis) @ basis.T
    clipped = cast(np.ndarray, ((patches <= CLIP) | (patches >= 1.0 - CLIP)).any(axis=1))  # (N,): patches is 2-D
    return _Stats(patches.mean(axis=1), (residual**2).mean(axis=1), residual, clipped)


# --- the correlation model --------------------------------------------------------------------------

def _lag_model(p: int, lags: int):
    return _lag_model_cached(p, lags, ORDER)


@functools.lru_cache(maxsize=16)
def _lag_model_cached(p: int, lags: int, order: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The least-squares solver ``(L, p^4)`` from a flattened residual covariance to the
    autocovariance at each lag ``(dy, dx)`` (half plane, (0, 0) first), and the lags: the model is
    that lag's unit autocovariance seen through the polynomial fit."""
    projector = np.eye(p * p) - _plane_basis(p) @ _plane_basis(p).T
    y, x = np.divmod(np.arange(p * p), p)
    dy, dx = y[:, None] - y[None], x[:, None] - x[None]
    offsets = [(0, 0)] + [(a, b) for a in range(0, lags + 1) for b in range(-lags, lags + 1)
                          if (a, b) != (0, 0) and (a > 0 or b > 0)]
    columns = []
    for a, b in offsets:
        lag = (((dy == a) & (dx == b)) | ((dy == -a) & (dx == -b))).astype(np.float64)
        columns.append((projector @ lag @ projector).ravel())
    return np.linalg.pinv(np.stack(columns, axis=1)), offsets


@dataclass(frozen=True)
class _Correlation:
    kappa: float  # E[energy] / pixel variance
    quantiles: np.ndarray  # energy / E[energy] at ``level``, and the 0.99 quantile
    level: float = QUANTILE  # the quantile of a bin's energies that estimates its variance


def _white(p: int) -> _Correlation:
    return _white_cached(p, ORDER, QUANTILE)


@functools.lru_cache(maxsize=16)
def _white_cached(p: int, order: int, quantile: float) -> _Correlation:
    return _correlation_of(None, p)


def _correlation_of(covariance: np.ndarray | None, p: int, level: float = QUANTILE) -> _Correlation:
    """The energy's bias and spread for noise of this (normalised) pixel covariance ``(p*p, p*p)``;
    white noise when None; ``level`` is the quantile the bins will take."""
    projector = np.eye(p * p) - _plane_basis(p) @ _plane_basis(p).T
    covariance = np.eye(p * p) if covariance is None else covariance
    residual_cov = projector @ covariance @ projector
    eigen = np.clip(np.linalg.eigvalsh(residual_cov), 0.0, None)
    kappa = float(eigen.sum() / (p * p))
    # The energy is a weighted sum of chi-squares; its quantiles by a fixed-seed draw (deterministic).
    draws = (np.random.default_rng(0).standard_normal((4000, eigen.size)) ** 2) @ eigen
    draws /= eigen.sum()
    return _Correlation(kappa, np.quantile(draws, [level, 0.99]), level)


def _fit_covariance(residuals: np.ndarray, p: int) -> np.ndarray | None:
    """The pixel covariance ``(p*p, p*p)`` (unit variance) of stationary noise of short range that
    best explains the residuals of flat patches (scaled to unit variance each); None if too few."""
    if residuals.shape[0] < 50:
        return None
    solve, offsets = _lag_model(p, LAGS)
    theta = solve @ (residuals.T @ residuals / residuals.shape[0]).ravel()
    if theta[0] <= 0:
        return None
    theta = theta / theta[0]
    y, x = np.divmod(np.arange(p * p), p)
    dy, dx = y[:, None] - y[None], x[:, None] - x[None]
    covariance = np.zeros((p * p, p * p))
    for t, (a, b) in zip(theta, offsets):
        covariance += t * (((dy == a) & (dx == b)) | ((dy == -a) & (dx == -b)))
    # A fitted autocovariance need not be positive definite: clip its spectrum.
    values, vectors = np.linalg.eigh(covariance)
    return (vectors * np.clip(values, 1e-6, None)) @ vectors.T


# --- per-bin variance -------------------------------------------------------------------------------

def _bin_variance(energy: np.ndarray, corr: _Correlation) -> float:
    """Pixel variance from one bin's patch energies: the low quantile, unbiased for flat patches."""
    return float(np.quantile(energy, corr.level) / corr.quantiles[0] / corr.kappa)


def _knot_bins(means: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Each patch's nearest knot."""
    return np.abs(means[:, None] - knots[None]).argmin(axis=1)


def _fill(values: np.ndarray, valid: np.ndarray, fallback: float) -> np.ndarray:
    """Bins without an estimate: linear between valid neighbours, constant past the ends; all of
    them ``fallback`` when none is valid."""
    if not valid.any():
        return np.full(values.shape, fallback)
    index = np.arange(values.size)
    return np.interp(index, index[valid], values[valid])


def _srgb_channel(stats: _Stats, knots: np.ndarray, corr: _Correlation) -> np.ndarray:
    keep = ~stats.clipped if (~stats.clipped).sum() >= MIN_PATCHES else np.ones_like(stats.clipped)
    energy, means = stats.energy[keep], stats.mean[keep]
    bins = _knot_bins(means, knots)
    variance = np.zeros(knots.size)
    valid = np.zeros(knots.size, dtype=bool)
    for k in range(knots.size):
        chosen = energy[bins == k]
        if chosen.size >= MIN_PATCHES:
            variance[k], valid[k] = _bin_variance(chosen, corr), True
    fallback = _bin_variance(energy, corr) if energy.size else 0.0
    return np.sqrt(_fill(variance, valid, fallback))


def _flat_residuals(stats: _Stats, knots: np.ndarray, variance: np.ndarray, corr: _Correlation) -> np.ndarray:
    """Residuals of patches whose energy is below the median a flat patch would have, each scaled
    to unit pixel variance (so bins of every intensity add into one correlation estimate)."""
    bins = _knot_bins(stats.mean, knots)
    scale = np.maximum(variance[bins], 1e-12)
    flat = (~stats.clipped) & (stats.energy / (scale * corr.kappa) < 1.0)
    return stats.residual[flat] / np.sqrt(scale[flat, None])


def _estimate_srgb(image: np.ndarray, knots: np.ndarray) -> np.ndarray:
    white = _white(PATCH)
    sigma = np.zeros((image.shape[0], knots.size))
    measured = np.zeros(image.shape[0], dtype=bool)
    for c in range(image.shape[0]):
        stats = _stats(image[c], PATCH)
        if stats.energy.size == 0:
            raise ValueError(f"image of shape {image.shape} is smaller than a {PATCH}-pixel patch")
        measured[c] = (~stats.clipped).sum() >= MIN_PATCHES
        first = _srgb_channel(stats, knots, white)
        # Demosaicing, JPEG and 8-bit rounding correlate sRGB noise: measure how, and redo the bins.
        covariance = _fit_covariance(_flat_residuals(stats, knots, first**2, white), PATCH)
        corr = white if covariance is None else _correlation_of(covariance, PATCH)
        sigma[c] = _srgb_channel(stats, knots, corr)
    # A channel clipped almost everywhere (a sky's green gone white) shows flat clipped patches,
    # no noise: it takes the other channels' level instead of telling the network there is none.
    if measured.any() and not measured.all():
        sigma[~measured] = sigma[measured].mean(0)
    return sigma


@dataclass(frozen=True)
class _Bins:
    x: np.ndarray  # (B,) mean intensity of each bin, before the clip at 0
    variance: np.ndarray  # (B,) the sensor's variance there, before the clip at 0
    count: np.ndarray  # (B,) patches in the bin


def _raw_bins(stats: _Stats, corr: _Correlation, factor: float = 1.0) -> _Bins:
    """Bins of equal patch counts by intensity, each with the sensor's variance: the bin's variance
    estimate over ``factor`` (the patches' pixel variance in units of the sensor's), unclipped."""
    keep = ~stats.clipped
    if keep.sum() < 2 * MIN_PATCHES:
        keep = np.ones_like(keep)
    energy, means = stats.energy[keep], stats.mean[keep]
    if energy.size == 0:
        return _Bins(np.zeros(0), np.zeros(0), np.zeros(0))
    order = np.argsort(means, kind="stable")
    groups = np.array_split(order, max(1, min(RAW_BINS, energy.size // MIN_PATCHES)))
    x, v = _unclip(np.array([means[g].mean() for g in groups]),
                   np.array([_bin_variance(energy[g], corr) / factor for g in groups]))
    return _Bins(x, v, np.array([g.size for g in groups], dtype=np.float64))


def _join(*bins: _Bins) -> _Bins:
    return _Bins(*(np.concatenate([getattr(b, f) for b in bins]) for f in ("x", "variance", "count")))


ENVELOPE = 2.0  # a bin this many of its standard errors above the fit is taken as texture, not noise


def _nonnegative_lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``argmin |a x - b|`` over ``x >= 0`` for two unknowns, exactly: the unconstrained solution
    when it is non-negative, else the best with one or both held at 0 (SciPy's ``nnls`` would
    do, at half a second of start-up for every `zoo denoise`)."""
    candidates = [np.zeros(2)]
    full = np.linalg.lstsq(a, b, rcond=None)[0]
    if (full >= 0).all():
        candidates.append(full)
    for j in range(2):
        column = a[:, j]
        norm = float(column @ column)
        if norm > 0:
            x = np.zeros(2)
            x[j] = max(float(column @ b) / norm, 0.0)
            candidates.append(x)
    return min(candidates, key=lambda x: float(np.sum((a @ x - b) ** 2)))


def _fit_shot_read(bins: _Bins) -> tuple[float, float]:
    """A weighted non-negative fit of ``shot * x + read`` to the bins' variances, robust from above:
    texture only raises a bin, so a bin far above the line is down-weighted (a lower envelope)."""
    if bins.x.size == 0:
        return 0.0, 0.0
    x, v, n = bins.x, bins.variance, bins.count
    design = np.stack([x, np.ones_like(x)], axis=1)
    fitted = np.full_like(v, max(float(np.median(v)), 1e-12))
    robust = np.ones_like(v)
    for _ in range(6):
        # A bin's relative standard error is about 0.6 / sqrt(patches) (a low quantile of
        # overlapping patches); its weight is 1 / that error in variance units.
        error = 0.6 / np.sqrt(n) * fitted
        weight = robust / np.maximum(error, 1e-12)
        shot, read = _nonnegative_lstsq(design * weight[:, None], v * weight)
        fitted = np.maximum(design @ np.array([shot, read]), 1e-12)
        excess = (v - fitted) / np.maximum(0.6 / np.sqrt(n) * fitted, 1e-12)
        robust = np.where(excess > ENVELOPE, (ENVELOPE / np.maximum(excess, 1e-12)) ** 2, 1.0)
    return float(shot), float(read)


@functools.lru_cache(maxsize=1)
def _clip_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a Gaussian of mean ``t * sigma`` clipped at 0: (mean/std of the clipped values, t,
    std of the clipped values / sigma), for t from -2.5 to 8 (mean/std increases with t)."""
    t = np.linspace(-2.5, 8.0, 2000)
    cdf = 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in t]))  # the normal CDF
    pdf = np.exp(-t**2 / 2) / math.sqrt(2 * math.pi)
    mean = t * cdf + pdf
    std = np.sqrt(np.maximum((t**2 + 1) * cdf + t * pdf - mean**2, 1e-12))
    return mean / std, t, std


def _unclip(mean: np.ndarray, variance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance before a sensor's clip at 0, from those of the clipped values (Foi et al.
    2008): dark raw loses the lower tail of its noise, which shrinks its spread."""
    ratio, t, shrink = _clip_table()
    std = np.sqrt(np.maximum(variance, 0.0))
    observed = mean / np.maximum(std, 1e-12)
    sigma = std / np.interp(observed, ratio, shrink)
    unclipped = observed >= ratio[-1]  # the clip takes nothing from a bin this far above 0
    return (np.where(unclipped, mean, np.interp(observed, ratio, t) * sigma),
            np.where(unclipped, variance, sigma**2))


def _planes(mosaic: np.ndarray) -> list[np.ndarray]:
    """The four CFA planes of a ``(H, W)`` mosaic, row-major 2x2 order."""
    return [mosaic[dy::2, dx::2] for dy in (0, 1) for dx in (0, 1)]


# --- raw: the green difference ----------------------------------------------------------------------

DIFF_PATCH = 6  # side of a patch of the green-difference map
DIFF_QUANTILE = 0.1  # the green difference holds little texture, so its bins can take a higher quantile
# The difference's pixel covariance in units of the sensor's variance: each green against the mean of
# its four diagonal neighbours shares two of them with its horizontal and vertical neighbours
# (2/16) and one with its diagonal ones (1/16); its variance is 1 + 4/16.
DIFF_VARIANCE = 1.25
DIFF_LAGS = {(0, 0): 1.25, (0, 1): 0.125, (1, 0): 0.125, (1, 1): 0.0625, (1, -1): 0.0625}


def _green_pair(planes: list[np.ndarray]) -> tuple[int, int]:
    """The indices of the two green planes: the diagonal pair that agree best (RGGB and BGGR: 1 and
    2; GRBG and GBRG: 0 and 3). Red and blue differ by the camera's colour response."""
    def disagreement(a: np.ndarray, b: np.ndarray) -> float:
        h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        step = max(1, math.isqrt(h * w // 250_000))  # a sparse grid of pixels decides it as well
        a, b = a[:h:step, :w:step].astype(np.float64), b[:h:step, :w:step].astype(np.float64)
        return float(np.abs(a - b).mean() / max(a.mean() + b.mean(), 1e-12))
    return (1, 2) if disagreement(planes[1], planes[2]) <= disagreement(planes[0], planes[3]) else (0, 3)


def _green_difference(planes: list[np.ndarray], p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patches ``(N, p*p)`` of the green difference: each green of the first green plane minus the
    mean of its four diagonal neighbours in the other, the same scene to first order (a ramp in any
    direction, a 45-degree edge's slope included, cancels), so what is left is mostly noise. Also
    each patch's green intensity and whether any of its greens is at white. Computed on the patch
    grid only (as :func:`_patches` places it), which keeps a 12-MP mosaic fast."""
    first, second = _green_pair(planes)
    a, b = planes[first], planes[second]
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    if h - 1 < p or w - 1 < p:
        return np.zeros((0, p * p)), np.zeros(0), np.zeros(0, dtype=bool)
    # Greens at (0, 1) have their neighbours at columns j and j+1 of the other plane; at (0, 0), j-1 and j.
    a = a[1:h, : w - 1] if first == 1 else a[1:h, 1:w]
    stride = max(p // 2, math.ceil(math.sqrt((h - p) * (w - p) / MAX_PATCHES)))
    centre = np.lib.stride_tricks.sliding_window_view(a, (p, p))[::stride, ::stride].reshape(-1, p, p)
    around = np.lib.stride_tricks.sliding_window_view(b[:h, :w], (p + 1, p + 1))[::stride, ::stride]
    around = around.reshape(-1, p + 1, p + 1).astype(np.float64)
    neighbours = (around[:, 1:, :-1] + around[:, 1:, 1:] + around[:, :-1, :-1] + around[:, :-1, 1:]) / 4.0
    diff = (centre - neighbours).reshape(-1, p * p)
    intensity = (centre.mean(axis=(1, 2)) + neighbours.mean(axis=(1, 2))) / 2.0
    white = (centre.max(axis=(1, 2)) >= 1.0 - CLIP) | (around.max(axis=(1, 2)) >= 1.0 - CLIP)
    return diff, intensity, white


def _diff_stats(planes: list[np.ndarray]) -> _Stats:
    """Patch statistics of the green difference: the energy from the difference, the mean from the
    green intensity, clipped where any of the greens reaches white (the clip at 0 is undone later)."""
    diff, intensity, white = _green_difference(planes, DIFF_PATCH)
    stats = _stats_of(diff, DIFF_PATCH)
    return _Stats(intensity, stats.energy, stats.residual, white)


@functools.lru_cache(maxsize=4)
def _diff_correlation(p: int, level: float) -> _Correlation:
    """The energy's bias and quantile for the green difference's known covariance."""
    y, x = np.divmod(np.arange(p * p), p)
    dy, dx = y[:, None] - y[None], x[:, None] - x[None]
    covariance = np.zeros((p * p, p * p))
    for (a, b), value in DIFF_LAGS.items():
        covariance += value / DIFF_VARIANCE * (((dy == a) & (dx == b)) | ((dy == -a) & (dx == -b)))
    return _correlation_of(covariance, p, level)


def estimate_noise(image: np.ndarray, *, mosaic: bool = False, knots: int = 9) -> NoiseLevel:
    """image: (C, H, W) float in [0, 1] (sRGB: C=3) or, with mosaic=True, a (1, H, W) Bayer mosaic,
    returned as C=4 planes in row-major 2x2 order (one heteroscedastic shot/read fit shared by the
    planes, since raw noise is sigma^2 = shot*x + read before white balance)."""
    image = np.asarray(image)
    if image.ndim != 3 or (mosaic and image.shape[0] != 1):
        raise ValueError(f"expected a (C, H, W) image{' with C=1 for a mosaic' if mosaic else ''}, "
                         f"got shape {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"expected a float image in [0, 1], got dtype {image.dtype}")
    if knots < 2:
        raise ValueError(f"knots must be at least 2, got {knots}")
    grid = np.linspace(0.0, 1.0, knots)
    if not mosaic:
        return NoiseLevel(grid, _estimate_srgb(image, grid))
    return _estimate_mosaic(image[0], knots)


def _estimate_mosaic(mosaic: np.ndarray, knots: int) -> NoiseLevel:
    """All four CFA planes share the sensor's photodiodes (the noise is set before white balance):
    one shot/read fit from the green difference, which cancels most of the scene's texture. Past
    the greens' intensity range (red and blue are often darker), the planes' own patches add bins."""
    planes = _planes(mosaic)
    diff = _diff_stats(planes)
    if diff.energy.size == 0:
        raise ValueError(f"mosaic of shape {mosaic.shape} is too small for {DIFF_PATCH}-pixel difference patches")
    green = _raw_bins(diff, _diff_correlation(DIFF_PATCH, DIFF_QUANTILE), DIFF_VARIANCE)
    # The planes' own bins carry texture as well as noise: trusted only where the greens say nothing,
    # and even there the fit's lower envelope discounts them if they sit above the line.
    white = _white(PLANE_PATCH)
    own = _join(*(_raw_bins(_stats(plane, PLANE_PATCH), white) for plane in planes))
    outside = (own.x < green.x.min()) | (own.x > green.x.max())
    shot, read = _fit_shot_read(_join(green, _Bins(own.x[outside], own.variance[outside], own.count[outside])))
    return NoiseLevel.from_shot_read(shot, read, channels=4, knots=knots)

# --- noise maps -------------------------------------------------------------------------------------

def noise_map(image: np.ndarray, level: NoiseLevel, *, strength: float = 1.0, mosaic: bool = False) -> np.ndarray:
    """The per-pixel sigma map (same shape as image, float32): the level at each pixel's local mean
    intensity, per channel (for a mosaic each pixel uses its CFA plane's function and its plane's
    local mean), times strength. The numpy face of :func:`zoo.ops.noisemap.sigma_map`, the map a
    noise-aware network is told."""
    image = np.asarray(image, dtype=np.float32)
    if not (math.isfinite(strength) and strength >= 0):
        raise ValueError(f"strength must be finite and non-negative, got {strength}")
    if image.ndim != 3:
        raise ValueError(f"expected a (C, H, W) image, got shape {image.shape}")
    if mosaic and (image.shape[0] != 1 or level.channels != 4):
        raise ValueError("a mosaic map needs a (1, H, W) mosaic and a 4-plane level")
    if not mosaic and level.channels not in (1, image.shape[0]):
        raise ValueError(f"a {level.channels}-channel level for a {image.shape[0]}-channel image")
    sigma = level.sigma if mosaic or level.channels == image.shape[0] else np.repeat(level.sigma, image.shape[0], axis=0)
    knots = torch.as_tensor(level.knots, dtype=torch.float32)
    planes = torch.as_tensor(sigma * strength, dtype=torch.float32)[None]
    return sigma_map(torch.from_numpy(image)[None], knots, planes, mosaic=mosaic)[0].numpy()
