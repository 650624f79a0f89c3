"""A camera pipeline with the noise where cameras have it: sRGB pairs whose noisy input keeps the
clean image's brightness and colour.

:func:`zoo.data.capture.to_srgb` develops a noisy mosaic that was clipped at 0, through gamma and
a tone curve: in deep shadows both raise the noisy image's mean far above the clean one's (at
2-6 stops under and high gain, several times), so a network trained on such pairs learns to
darken noisy shadows and to shift their colour. A real camera or phone does otherwise: the
sensor's noise sits symmetric around the black level (negative values survive the black-level
subtraction), demosaicing, white balance and colour correction are linear and keep it zero-mean,
the camera denoises a little (in linear light, before the tone curve), sharpens, then tone-maps
and compresses.

:func:`phone_develop` follows that order. The noise is carried through the linear steps exactly,
then through the tone curve to first order (its slope at the clean value), so that it stays
zero-mean in sRGB: the noisy input's local means are the clean image's, up to the final clipping
at black and white that every 8-bit file has. The result is spatially correlated (demosaicing,
the in-camera denoise, JPEG's blocks), signal-dependent (shot noise, the tone curve's slope) and
different per channel (white balance and the colour matrix), as real sRGB noise is.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from zoo.data.capture import (
    DEFAULT_SETTINGS,
    PATTERN,
    CaptureSettings,
    clean_raw,
    jpeg,
    quantise8,
    sample_exposure,
    sample_levels,
)
from zoo.data.unprocess import (
    GAMMA,
    UnprocessParams,
    random_unprocess_params,
    apply_matrix,
    colour_index,
    demosaic_bilinear,
    gamma_compression,
    smoothstep,
)
from zoo.metrics import psnr

# The gamma curve's slope is infinite at 0; below this linear value it is held at its value here,
# 12.92, the slope of the sRGB curve's linear toe near black.
SLOPE_FLOOR = 0.00215
JPEG_QUALITIES = (75, 98)  # what phones and cameras write


@dataclass(frozen=True)
class InCamera:
    """What the camera does to the noise: a mild denoise (a share ``denoise`` of the noise replaced
    by its Gaussian blur of ``blur`` pixels), sharpening (unsharp mask of ``sharpen``), JPEG
    at ``quality`` (``None``: an 8-bit PNG)."""

    denoise: float = 0.5
    blur: float = 0.8
    sharpen: float = 0.3
    quality: int | None = 90


def random_in_camera(rng: np.random.Generator, jpeg_share: float = 0.8) -> InCamera:
    """A random camera's processing: denoise 0.2-0.8, sharpening 0-0.8, JPEG 75-98 mostly."""
    quality = int(rng.integers(JPEG_QUALITIES[0], JPEG_QUALITIES[1] + 1)) if rng.uniform() < jpeg_share else None
    return InCamera(float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.5, 1.2)), float(rng.uniform(0.0, 0.8)), quality)


def linear_rgb(raw: np.ndarray, camera: UnprocessParams) -> np.ndarray:
    """A mosaic ``(H, W)`` to linear sRGB ``(H, W, 3)``: white balance, bilinear demosaic, colour
    correction. Linear and unclipped, so that zero-mean noise stays zero-mean."""
    balanced = raw.astype(np.float64, copy=True)
    for y, x, channel in colour_index(PATTERN):
        balanced[y::2, x::2] *= float(camera.gains[channel])
    return apply_matrix(demosaic_bilinear(balanced, PATTERN), camera.cam2rgb)


def tone(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB to display sRGB: gamma, then the tone curve (as :func:`zoo.data.unprocess.process`)."""
    return smoothstep(gamma_compression(linear.clip(0.0, 1.0)))


def tone_slope(linear: np.ndarray) -> np.ndarray:
    """The slope of :func:`tone` at ``linear`` (clipped to [SLOPE_FLOOR, 1])."""
    x = linear.clip(SLOPE_FLOOR, 1.0)
    g = x ** (1.0 / GAMMA)
    return (6.0 * g - 6.0 * g * g) * g / (GAMMA * x)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


EXACT_FROM, EXACT_SPAN = 0.25, 0.5  # linear values where the exact development takes over from the first order


def phone_develop(clean: np.ndarray, noise: np.ndarray, camera: UnprocessParams,
                  processing: InCamera, exact_highlights: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, clean)`` display sRGB ``(H, W, 3)`` in [0, 1] of a clean mosaic and its sensor
    noise (both ``(H, W)``, the noise zero-mean and unclipped). The noisy one is 8-bit or JPEG.

    ``exact_highlights``: from mid-grey up, the noise goes through the tone curve exactly rather
    than to first order (blended over linear :data:`EXACT_FROM` to ``EXACT_FROM + EXACT_SPAN``).
    Near white the curve's slope falls to 0 and the sensor clips, so the first order all but
    erases bright noise (a tenth of the mid-tones' spread), and a network trained on it never
    learns noisy skies and lamps; in the shadows the first order stays, as there the exact curve
    (infinite slope at black) is what biased the old pipeline. The held-out sets were built
    without it (``False``), and keep their bytes."""
    developed = linear_rgb(clean, camera)  # above 1 where white balance pushes a channel past white
    clean_linear = developed.clip(0.0, 1.0)
    noise_linear = linear_rgb(np.minimum(noise, 1.0 - clean), camera)  # the sensor saturates at white
    if processing.denoise > 0:
        noise_linear = noise_linear + processing.denoise * (_blur(noise_linear, processing.blur) - noise_linear)
    clean_srgb = tone(clean_linear)
    noise_srgb = noise_linear * tone_slope(clean_linear)
    if exact_highlights:
        exact = tone(developed + noise_linear) - clean_srgb  # tone() clips at black and white
        weight = np.clip((clean_linear - EXACT_FROM) / EXACT_SPAN, 0.0, 1.0)
        noise_srgb = noise_srgb + weight * (exact - noise_srgb)
    if processing.sharpen > 0:
        noise_srgb = noise_srgb + processing.sharpen * (noise_srgb - _blur(noise_srgb, 1.0))
    noisy = (clean_srgb + noise_srgb).clip(0.0, 1.0)  # an 8-bit file clips at black and white
    noisy = jpeg(noisy, processing.quality) if processing.quality is not None else quantise8(noisy)
    return noisy, clean_srgb


def sensor_noise(clean: np.ndarray, shot: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean noise of variance ``shot * clean + read`` for a clean mosaic (not clipped)."""
    return rng.standard_normal(clean.shape) * np.sqrt(shot * clean.clip(0.0, None) + read)


def at_psnr(clean: np.ndarray, noise: np.ndarray, camera: UnprocessParams, processing: InCamera,
            target: float, exact_highlights: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`phone_develop` with the noise scaled so that the noisy sRGB image is ``target`` dB
    PSNR from the clean one (within about 0.3 dB: the noise is linear up to the clipping and
    JPEG); also the scale, which multiplies the noise's standard deviation (shot and read by its
    square)."""
    scale = 1.0
    noisy, clean_srgb = phone_develop(clean, noise, camera, processing, exact_highlights)
    for _ in range(3):  # PSNR moves by 20 log10(scale) while the noise stays inside [0, 1]
        measured = psnr(noisy, clean_srgb, data_range=1.0)
        if not np.isfinite(measured):  # nothing to scale: a frame clipped white, or no noise at all
            break
        scale = float(np.clip(scale * 10.0 ** ((measured - target) / 20.0), 1e-3, 1e3))
        noisy, clean_srgb = phone_develop(clean, noise * scale, camera, processing, exact_highlights)
    return noisy, clean_srgb, scale


def random_phone_capture(srgb: np.ndarray, rng: np.random.Generator,
                         settings: CaptureSettings = DEFAULT_SETTINGS) -> tuple[np.ndarray, np.ndarray]:
    """A training pair of an sRGB image through a random camera and its processing: ``(noisy,
    clean)`` ``(3, H, W)`` float32, the noisy one 8-bit or JPEG, its noise zero-mean up to the
    file's clipping. A share of them are phone low-light shots of ``settings.phone_psnr`` dB."""
    camera = random_unprocess_params(rng)
    clean = clean_raw(srgb, camera, sample_exposure(rng, settings), rng)
    noise = sensor_noise(clean, *sample_levels(rng, settings), rng)
    processing = random_in_camera(rng, settings.jpeg)
    if rng.uniform() < settings.phone_lowlight:
        noisy, clean_srgb, _ = at_psnr(clean, noise, camera, processing, float(rng.uniform(*settings.phone_psnr)))
    else:
        noisy, clean_srgb = phone_develop(clean, noise, camera, processing)
    return (np.ascontiguousarray(noisy.transpose(2, 0, 1), dtype=np.float32),
            np.ascontiguousarray(clean_srgb.transpose(2, 0, 1), dtype=np.float32))
