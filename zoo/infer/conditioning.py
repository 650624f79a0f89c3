"""Running a noise-aware network: the image's noise level, a strength, and the map built from them.

A noise-aware model (``noise_channels`` > 0, :mod:`zoo.contract`) takes its image channels
followed by a noise-level map. The level is one per image: given (a camera file's NoiseProfile, a
calibration, ``--noise-level``) or estimated from the whole image once (:mod:`zoo.ops.noiselevel`);
the map is then built per call from the batch the runner sees (:mod:`zoo.ops.noisemap`), so
tiles and the self-ensemble need nothing of it. ``strength`` scales what the network is told:
1 is the level as given or estimated, below 1 keeps more of the image (and its noise), above 1
(up to 2) removes more.

With a given level (not an estimate), the runner also holds the network to it
(:func:`zoo.ops.noisemap.shrink_residual`): what the network removes is shrunk where it exceeds the
noise the level says is there, so that fine texture mistaken for noise is kept. An estimate is
not trusted for that: it reads texture as noise, or misses noise near clipping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from zoo.errors import ZooError
from zoo.infer.runner import Runner
from zoo.ops.noiselevel import NoiseLevel, estimate_noise
from zoo.ops.noisemap import shrink_residual, sigma_map

MAX_STRENGTH = 2.0


def check_strength(strength: float) -> float:
    """``strength`` as a float in [0, 2], or a one-line error."""
    value = float(strength)
    if not 0.0 <= value <= MAX_STRENGTH:  # also refuses NaN
        raise ZooError(f"strength must be between 0 and {MAX_STRENGTH:g}, got {strength}")
    return value


def level_for(image: np.ndarray, channels: int, level: NoiseLevel | float | tuple[float, float] | None) -> NoiseLevel:
    """The noise level of one image ``(C, H, W)``: as given, or estimated from it.

    A float is a standard deviation for every channel and intensity; a ``(shot, read)`` pair the
    raw noise model ``sigma^2 = shot * x + read``.
    """
    mosaic = channels == 1
    planes = 4 if mosaic else channels
    if level is None:
        return estimate_noise(np.asarray(image, dtype=np.float32), mosaic=mosaic)
    if isinstance(level, NoiseLevel):
        if level.sigma.shape[0] not in (1, planes):
            raise ZooError(f"the noise level has {level.sigma.shape[0]} channels; this model needs {planes}")
        return level
    if isinstance(level, tuple | list) and len(level) == 2:
        shot, read = (float(v) for v in level)
        if not (np.isfinite(shot) and np.isfinite(read) and shot >= 0 and read >= 0):
            raise ZooError(f"a (shot, read) noise level must be two non-negative numbers, got {level}")
        return NoiseLevel.from_shot_read(shot, read, channels=planes)
    sigma = float(level)
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ZooError(f"a noise level must be a non-negative standard deviation, got {level}")
    return NoiseLevel(knots=np.array([0.0, 1.0]), sigma=np.full((planes, 2), sigma))


@dataclass
class Conditioned:
    """A runner of a noise-aware network that appends each batch's noise map to it: ``levels``
    holds one level for every image of the batch (all on the same knots), or one for all;
    ``guard`` holds the network's output to the level (for a given, trusted level)."""

    inner: Runner
    levels: list[NoiseLevel]
    strength: float = 1.0
    guard: bool = False

    def __post_init__(self) -> None:
        self.size_multiple = self.inner.size_multiple
        self.in_channels = self.inner.in_channels
        self.device = self.inner.device
        self.knots, self.sigma = _stacked(self.levels, self.strength)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        noise_map = _noise_map(batch, self.knots, self.sigma)
        out = self.inner(torch.cat([batch, noise_map], 1))
        return shrink_residual(batch, out.float(), noise_map) if self.guard else out


def _stacked(levels: list[NoiseLevel], strength: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The levels' shared intensity knots and their sigmas ``(N or 1, planes or 1, K)``, times ``strength``."""
    knots = np.asarray(levels[0].knots)
    if any(not np.array_equal(level.knots, knots) for level in levels):
        raise ZooError("the noise levels of one batch must share their intensity knots")
    sigma = np.stack([np.asarray(level.sigma) for level in levels]) * strength
    return torch.as_tensor(knots, dtype=torch.float32), torch.as_tensor(sigma, dtype=torch.float32)


def _noise_map(batch: torch.Tensor, knots: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The map for ``batch``'s image channels (a 1-channel batch is a Bayer mosaic: four planes)."""
    mosaic = batch.shape[1] == 1
    planes = 4 if mosaic else batch.shape[1]
    sigma = sigma.expand(-1, planes, -1) if sigma.shape[1] == 1 else sigma
    return sigma_map(batch, knots, sigma, mosaic=mosaic)


def network_input(image: np.ndarray, level: NoiseLevel | float | tuple[float, float] | None = None,
                  strength: float = 1.0) -> np.ndarray:
    """What a noise-aware network is given for one image ``(C, H, W)`` (or a mosaic ``(H, W)``), as
    ``zoo.denoise`` gives it: ``(1, C + noise channels, H, W)`` float32, the image followed by the map of
    ``level`` (as :func:`level_for` takes it: None estimates it from the image). INT8 calibration feeds
    the quantizers this (:mod:`zoo.export.quantize`)."""
    x = np.asarray(image, dtype=np.float32)
    batch = torch.from_numpy(np.ascontiguousarray(x[None, None] if x.ndim == 2 else x[None]))
    knots, sigma = _stacked([level_for(batch[0].numpy(), batch.shape[1], level)], check_strength(strength))
    return torch.cat([batch, _noise_map(batch, knots, sigma)], 1).numpy()
