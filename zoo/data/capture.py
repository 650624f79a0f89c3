"""Simulated camera captures: a clean sRGB image in, a (noisy, clean) pair out, raw or sRGB.

Raw: unprocess to a mosaic with a random camera (:mod:`zoo.data.unprocess`), set the exposure,
add heteroscedastic shot/read noise and clip as a sensor does. sRGB: the same raw capture,
then demosaiced and processed back to sRGB, quantised to 8 bits, and often JPEG-compressed:
what a camera or phone writes, and what a clean simulation lacks.

Exposure extremes matter because a few well-exposed photographs teach a network nothing about
them: in ``highlights`` a large part of the frame is clipped at the sensor's white level (a
denoiser must leave it flat and white), in ``shadows`` the whole frame sits near black, where
read noise dominates and clipping at 0 biases the noisy mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from zoo.data.noise import (
    SIDD_LOG10_READ_INTERCEPT,
    SIDD_LOG10_READ_SLOPE,
    SIDD_LOG10_READ_STD,
    SIDD_LOG10_SHOT_MAX,
    SIDD_LOG10_SHOT_MIN,
    add_noise,
)
from zoo.data.unprocess import UnprocessParams, process, random_unprocess_params, unprocess

PATTERN = "RGGB"
EXPOSURES = ("normal", "highlights", "shadows")


@dataclass(frozen=True)
class CaptureSettings:
    """How training captures are drawn.

    Noise: ``log10(shot)`` uniform over the SIDD-calibrated range widened by ``extend_low`` and
    ``extend_high`` decades (cleaner and noisier cameras than SIDD's phones), ``read`` from
    SIDD's relation. Exposure: ``highlights`` and ``shadows`` with these probabilities.
    sRGB only: JPEG with probability ``jpeg``, quality uniform in ``jpeg_quality``; with
    probability ``phone_lowlight`` a phone's low-light shot: the noise scaled so that the noisy
    sRGB image is ``phone_psnr`` dB (uniform) from the clean one (:mod:`zoo.data.phone`).
    """

    extend_low: float = 0.5
    extend_high: float = 0.2
    highlights: float = 0.15
    shadows: float = 0.15
    jpeg: float = 0.6
    jpeg_quality: tuple[int, int] = (60, 98)
    phone_lowlight: float = 0.25
    phone_psnr: tuple[float, float] = (13.0, 22.0)


DEFAULT_SETTINGS = CaptureSettings()


def sample_levels(rng: np.random.Generator, settings: CaptureSettings = DEFAULT_SETTINGS) -> tuple[float, float]:
    """``(shot, read)`` from the widened SIDD-calibrated sampler (base-10 logarithms)."""
    log_shot = rng.uniform(SIDD_LOG10_SHOT_MIN - settings.extend_low, SIDD_LOG10_SHOT_MAX + settings.extend_high)
    log_read = SIDD_LOG10_READ_SLOPE * log_shot + SIDD_LOG10_READ_INTERCEPT + rng.normal(0.0, SIDD_LOG10_READ_STD)
    return float(10.0**log_shot), float(10.0**log_read)


def level_grid(count: int) -> list[tuple[float, float]]:
    """``count`` noise levels evenly spaced (in log shot) across the SIDD-calibrated range, each
    with SIDD's mean read noise for that shot noise: the test sets' levels, lowest first."""
    levels = []
    for i in range(count):
        log_shot = SIDD_LOG10_SHOT_MIN + (SIDD_LOG10_SHOT_MAX - SIDD_LOG10_SHOT_MIN) * i / max(1, count - 1)
        log_read = SIDD_LOG10_READ_SLOPE * log_shot + SIDD_LOG10_READ_INTERCEPT
        levels.append((10.0**log_shot, 10.0**log_read))
    return levels


def expose(raw: np.ndarray, kind: str, rng: np.random.Generator, *, clipped: float | None = None) -> np.ndarray:
    """Scale a clean mosaic for an exposure ``kind`` and clip at the white level.

    ``highlights``: brighter, so that 15-50% of the mosaic reaches white (more of the developed
    image, whose white balance gains push red and blue further). ``shadows``: 2 to 6
    stops darker. ``normal``: as it is. ``clipped`` sets the clipped share of ``highlights``.
    """
    if kind == "highlights":
        clipped = rng.uniform(0.15, 0.5) if clipped is None else clipped
        level = float(np.quantile(raw, 1.0 - clipped))
        gain = 1.0 / max(level, 1e-3)
        return np.clip(raw * gain, 0.0, 1.0)
    if kind == "shadows":
        return raw * 2.0 ** -rng.uniform(2.0, 6.0)
    if kind != "normal":
        raise ValueError(f"unknown exposure '{kind}'; choose from {', '.join(EXPOSURES)}")
    return raw


def sample_exposure(rng: np.random.Generator, settings: CaptureSettings = DEFAULT_SETTINGS) -> str:
    u = rng.uniform()
    if u < settings.highlights:
        return "highlights"
    if u < settings.highlights + settings.shadows:
        return "shadows"
    return "normal"


def clean_raw(srgb: np.ndarray, camera: UnprocessParams, exposure: str, rng: np.random.Generator) -> np.ndarray:
    """The clean RGGB mosaic ``(H, W)`` a camera records of an sRGB image at an exposure."""
    return expose(unprocess(srgb, camera, PATTERN), exposure, rng)


def noisy_raw(clean: np.ndarray, levels: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """``clean`` with shot/read noise at ``levels``, clipped to [0, 1] as a sensor clips."""
    return np.clip(add_noise(clean, *levels, rng), 0.0, 1.0)


def raw_capture(srgb: np.ndarray, camera: UnprocessParams, exposure: str, levels: tuple[float, float],
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, clean)`` RGGB mosaics ``(H, W)`` in [0, 1], float64, of an sRGB image."""
    clean = clean_raw(srgb, camera, exposure, rng)
    return noisy_raw(clean, levels, rng), clean


def to_srgb(raw: np.ndarray, camera: UnprocessParams) -> np.ndarray:
    """A mosaic developed to sRGB ``(H, W, 3)`` by the simple pipeline of :func:`process`."""
    return process(raw, camera, PATTERN)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """An sRGB image ``(H, W, 3)`` in [0, 1] through 8-bit JPEG at ``quality`` (4:2:0, as cameras)."""
    bgr = np.round(image[..., ::-1] * 255.0).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("JPEG decoding failed")
    return decoded[..., ::-1].astype(np.float64) / 255.0


def quantise8(image: np.ndarray) -> np.ndarray:
    """Rounded to 8 bits, as a PNG from a camera or an editor holds it."""
    return np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0


def srgb_capture(srgb: np.ndarray, camera: UnprocessParams, exposure: str, levels: tuple[float, float],
                 quality: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, clean)`` sRGB images ``(H, W, 3)`` in [0, 1]: the raw capture developed, the noisy
    one written at 8 bits, as JPEG at ``quality`` unless it is ``None``."""
    noisy_raw, clean_raw = raw_capture(srgb, camera, exposure, levels, rng)
    noisy = to_srgb(noisy_raw, camera)
    noisy = jpeg(noisy, quality) if quality is not None else quantise8(noisy)
    return noisy, to_srgb(clean_raw, camera)


def random_capture(srgb: np.ndarray, rng: np.random.Generator, *, domain: str,
                   settings: CaptureSettings = DEFAULT_SETTINGS) -> tuple[np.ndarray, np.ndarray]:
    """A training pair of ``srgb`` with a random camera, exposure and noise level: raw mosaics
    ``(1, H, W)`` or sRGB ``(3, H, W)``, float32."""
    camera = random_unprocess_params(rng)
    exposure = sample_exposure(rng, settings)
    levels = sample_levels(rng, settings)
    if domain == "raw":
        noisy, clean = raw_capture(srgb, camera, exposure, levels, rng)
        return noisy[None].astype(np.float32), clean[None].astype(np.float32)
    quality = int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1)) \
        if rng.uniform() < settings.jpeg else None
    noisy, clean = srgb_capture(srgb, camera, exposure, levels, quality, rng)
    return (np.ascontiguousarray(noisy.transpose(2, 0, 1), dtype=np.float32),
            np.ascontiguousarray(clean.transpose(2, 0, 1), dtype=np.float32))

