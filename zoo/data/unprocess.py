"""Unprocessing: turn an sRGB image into a plausible clean raw mosaic, and a simple way back.

After Brooks et al., "Unprocessing Images for Learned Raw Denoising" (CVPR 2019). A camera turns
raw into sRGB by white balance, demosaicing, colour correction, gamma and a tone curve; each step
is inverted here, in reverse order, with camera parameters drawn at random so a network trained on
the result sees a spread of plausible cameras:

1. inverse tone curve (the inverse of the smoothstep ``3x^2 - 2x^3``),
2. inverse gamma (``x ** 2.2``, with a small floor so the gradient stays finite),
3. inverse colour correction (sRGB -> camera, a random mix of real cameras' matrices),
4. inverse white balance and brightness (with highlights protected, see :func:`_inverse_gains`),
5. mosaic in the requested CFA pattern.

Layouts: numpy images are channels-last ``(..., H, W, 3)``, torch images channels-first
``(..., 3, H, W)`` (the conventions of each library); mosaics are ``(..., H, W)`` in both. Values
are floats in [0, 1]. One :class:`UnprocessParams` applies to every image of a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from zoo.ops.bayer import check_pattern

Array = TypeVar("Array", np.ndarray, torch.Tensor)

# XYZ -> camera matrices of four real cameras (as used in the paper's release, from Adobe DNG
# colour matrices). Mixing them convexly gives cameras "between" real ones.
XYZ_TO_CAMS = np.array(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
    ]
)

# Linear sRGB (D65) -> CIE XYZ, IEC 61966-2-1.
SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)

GAMMA = 2.2
GAMMA_FLOOR = 1e-8  # x ** (1/2.2) has an infinite slope at 0; the floor keeps gradients finite
RED_GAIN_RANGE = (1.9, 2.4)  # white-balance gains, uniform (the paper's ranges)
BLUE_GAIN_RANGE = (1.5, 1.9)
BRIGHTNESS_MEAN, BRIGHTNESS_STD = 0.8, 0.1  # rgb_gain = 1 / N(0.8, 0.1): raw is darker than sRGB
BRIGHTNESS_MIN = 0.5  # truncates that normal 3 sigma low, so rgb_gain stays finite and positive
HIGHLIGHT_INFLECTION = 0.9  # grey level above which inverse gains fade towards 1


@dataclass(frozen=True)
class UnprocessParams:
    """One random camera.

    ``rgb2cam`` maps linear sRGB to camera RGB (3x3, rows sum to 1 so grey stays grey);
    ``red_gain`` and ``blue_gain`` are the white-balance gains the camera would apply (green 1);
    ``rgb_gain`` is an overall brightness gain the camera would apply (1 = none).
    """

    rgb2cam: np.ndarray
    red_gain: float
    blue_gain: float
    rgb_gain: float = 1.0

    def as_array(self) -> np.ndarray:
        """Every parameter in one float64 vector: what a digest of the camera covers."""
        return np.array([*np.ravel(self.rgb2cam), self.red_gain, self.blue_gain, self.rgb_gain], dtype=np.float64)

    @property
    def cam2rgb(self) -> np.ndarray:
        """The camera's colour correction matrix, camera RGB -> linear sRGB."""
        return np.linalg.inv(np.asarray(self.rgb2cam, dtype=np.float64))

    @property
    def gains(self) -> np.ndarray:
        """Per-channel (R, G, B) gains the camera applies to raw: white balance times brightness."""
        return np.array([self.red_gain, 1.0, self.blue_gain]) * self.rgb_gain


def random_rgb2cam(rng: np.random.Generator) -> np.ndarray:
    """A random linear sRGB -> camera matrix.

    A random convex mix of :data:`XYZ_TO_CAMS`, times :data:`SRGB_TO_XYZ`, rows normalised to sum 1.
    """
    weights = rng.uniform(size=len(XYZ_TO_CAMS))
    weights /= weights.sum()
    xyz2cam = np.tensordot(weights, XYZ_TO_CAMS, axes=1)
    rgb2cam = xyz2cam @ SRGB_TO_XYZ
    # Rows summing to 1 map white (1, 1, 1) to white: colour correction never tints grey.
    return rgb2cam / rgb2cam.sum(axis=1, keepdims=True)


def random_unprocess_params(rng: np.random.Generator) -> UnprocessParams:
    """Draw a camera: colour matrix, white-balance gains and brightness, as in Brooks et al."""
    rgb2cam = random_rgb2cam(rng)
    red_gain = float(rng.uniform(*RED_GAIN_RANGE))
    blue_gain = float(rng.uniform(*BLUE_GAIN_RANGE))
    rgb_gain = 1.0 / max(float(rng.normal(BRIGHTNESS_MEAN, BRIGHTNESS_STD)), BRIGHTNESS_MIN)
    return UnprocessParams(rgb2cam, red_gain, blue_gain, rgb_gain)


# --- the curves -----------------------------------------------------------------------------


def _asin(x: Array) -> Array:
    return torch.asin(x) if isinstance(x, torch.Tensor) else np.arcsin(x)


def _sin(x: Array) -> Array:
    return torch.sin(x) if isinstance(x, torch.Tensor) else np.sin(x)


def smoothstep(x: Array) -> Array:
    """The global tone curve ``3x^2 - 2x^3`` on [0, 1] (input clipped)."""
    x = x.clip(0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def inverse_smoothstep(y: Array) -> Array:
    """The inverse of :func:`smoothstep` on [0, 1] (input clipped): ``1/2 - sin(asin(1 - 2y) / 3)``."""
    y = y.clip(0.0, 1.0)
    return 0.5 - _sin(_asin(1.0 - 2.0 * y) / 3.0)


def gamma_expansion(x: Array) -> Array:
    """Gamma-encoded -> linear: ``max(x, 1e-8) ** 2.2``."""
    return x.clip(min=GAMMA_FLOOR) ** GAMMA


def gamma_compression(x: Array) -> Array:
    """Linear -> gamma-encoded: ``max(x, 1e-8) ** (1 / 2.2)``."""
    return x.clip(min=GAMMA_FLOOR) ** (1.0 / GAMMA)


# --- layout helpers ---------------------------------------------------------------------------


def _channels_last(image: Array) -> Array:
    """numpy ``(..., H, W, 3)`` as is, torch ``(..., 3, H, W)`` as a ``(..., H, W, 3)`` view."""
    if isinstance(image, torch.Tensor):
        if image.ndim < 3 or image.shape[-3] != 3:
            raise ValueError(f"a torch image must be (..., 3, H, W), got shape {tuple(image.shape)}")
        if not image.is_floating_point():
            raise ValueError(f"expected a float image in [0, 1], got dtype {image.dtype}")
        return image.movedim(-3, -1)
    image = np.asarray(image)
    if image.ndim < 3 or image.shape[-1] != 3:
        raise ValueError(f"a numpy image must be (..., H, W, 3), got shape {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"expected a float image in [0, 1], got dtype {image.dtype}")
    return image


def _like(values: np.ndarray, ref: Array) -> Array:
    """Constants in ``ref``'s type, dtype and device."""
    if isinstance(ref, torch.Tensor):
        return torch.as_tensor(values, dtype=ref.dtype, device=ref.device)
    return values.astype(ref.dtype)


def apply_matrix(image: Array, matrix: np.ndarray) -> Array:
    """``matrix @ pixel`` for every pixel of a channels-last image."""
    return image @ _like(np.asarray(matrix).T, image)


def colour_index(pattern: str) -> list[tuple[int, int, int]]:
    """(row, column, RGB channel) for the four positions of the 2x2 tile."""
    return [(i // 2, i % 2, "RGB".index(colour)) for i, colour in enumerate(check_pattern(pattern))]


# --- white balance --------------------------------------------------------------------------


def _inverse_gains(image: Array, params: UnprocessParams) -> Array:
    """Divide out the camera's gains, but fade them out in highlights (channels-last image).

    Plain inversion (gain < 1 on red and blue) would turn a saturated white pixel into a tinted
    one that a camera could never record. Above grey level 0.9 the inverse gain is blended towards
    1 by a quadratic ramp, and never set below the plain inverse, so bright pixels stay bright.
    """
    inverse = _like(1.0 / params.gains, image)
    grey = image.mean(-1, keepdims=True)  # type: ignore[call-overload]  # torch takes numpy's keepdims; its stubs do not say so
    ramp = ((grey - HIGHLIGHT_INFLECTION).clip(min=0.0) / (1.0 - HIGHLIGHT_INFLECTION)) ** 2
    blended = ramp + (1.0 - ramp) * inverse
    if isinstance(image, torch.Tensor):
        safe = torch.maximum(blended, inverse)
    else:
        safe = np.maximum(blended, inverse)
    return image * safe


# --- the pipelines --------------------------------------------------------------------------


def mosaic(image: Array, pattern: str = "RGGB") -> Array:
    """Sample a channels-last image ``(..., H, W, 3)`` through a CFA: ``(..., H, W)``."""
    shape = tuple(image.shape[:-1])
    if isinstance(image, torch.Tensor):
        out = image.new_empty(shape)
    else:
        out = np.empty(shape, dtype=image.dtype)
    for y, x, channel in colour_index(pattern):
        out[..., y::2, x::2] = image[..., y::2, x::2, channel]
    return out


def unprocess(srgb: Array, params: UnprocessParams, pattern: str = "RGGB") -> Array:
    """sRGB image in [0, 1] -> clean raw mosaic in [0, 1] of the same type and float dtype.

    ``srgb`` is numpy ``(..., H, W, 3)`` or torch ``(..., 3, H, W)``; the mosaic is ``(..., H, W)``
    with colours laid out as ``pattern`` (see :mod:`zoo.ops.bayer`), from the top-left pixel.
    Any H, W; :func:`zoo.ops.bayer.pack_bayer` needs them even.
    """
    pattern = check_pattern(pattern)
    image = _channels_last(srgb)
    image = inverse_smoothstep(image)
    image = gamma_expansion(image)
    image = apply_matrix(image, params.rgb2cam)
    image = _inverse_gains(image, params)
    image = image.clip(0.0, 1.0)  # the colour matrix can leave the gamut; a sensor cannot
    return mosaic(image, pattern)


def demosaic_bilinear(raw: Array, pattern: str = "RGGB") -> Array:
    """Bilinear demosaic of a mosaic ``(..., H, W)``, H, W >= 2, into an RGB image.

    numpy gives ``(..., H, W, 3)``, torch ``(..., 3, H, W)``.

    Each colour is the weighted mean of its own samples in the 3x3 neighbourhood (a normalised
    convolution), so samples are kept exactly and borders need no padding rule.
    """
    if raw.ndim < 2 or raw.shape[-1] < 2 or raw.shape[-2] < 2:
        raise ValueError(f"a mosaic must be (..., H, W) with H, W >= 2, got shape {tuple(raw.shape)}")
    height, width = raw.shape[-2:]
    masks = np.zeros((3, height, width))
    for y, x, channel in colour_index(pattern):
        masks[channel, y::2, x::2] = 1.0
    # Red and blue: a 3x3 tent; green (on a quincunx) only its four edge neighbours.
    tent = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
    cross = np.array([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]])
    kernels = np.stack([tent, cross, tent])[:, None]  # (3, 1, 3, 3): one per output channel
    if isinstance(raw, torch.Tensor):
        lead = raw.shape[:-2]
        flat = raw.reshape(-1, 1, height, width)
        m = _like(masks, raw)
        k = _like(kernels, raw)
        out = _grouped(flat * m, k) / _grouped(m[None], k)
        return out.reshape(*lead, 3, height, width)
    raw = np.asarray(raw)
    sampled = raw[..., None, :, :] * masks.astype(raw.dtype)
    out = _conv3x3_numpy(sampled, kernels[:, 0]) / _conv3x3_numpy(masks, kernels[:, 0])
    return np.moveaxis(out, -3, -1).astype(raw.dtype, copy=False)


def _grouped(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Per-channel 3x3 convolution, zero padded, of ``(N, 3, H, W)`` with ``(3, 1, 3, 3)``."""
    return F.conv2d(x, kernels, padding=1, groups=3)


def _conv3x3_numpy(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Per-channel 3x3 correlation, zero padded, of ``(..., 3, H, W)`` with ``(3, 3, 3)``."""
    height, width = x.shape[-2:]
    pad = [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)]
    padded = np.pad(x, pad)
    out = np.zeros_like(x)
    for dy in range(3):
        for dx in range(3):
            weight = kernels[:, dy, dx][:, None, None].astype(x.dtype)
            out += weight * padded[..., dy : dy + height, dx : dx + width]
    return out


def process(raw: Array, params: UnprocessParams, pattern: str = "RGGB") -> Array:
    """A simple camera pipeline, raw mosaic -> sRGB in [0, 1]: to look at unprocessed or denoised raw.

    White balance and brightness gains (clipped to [0, 1], as a sensor saturates), bilinear
    demosaic, colour correction, gamma, tone curve. Returns numpy ``(..., H, W, 3)`` or torch
    ``(..., 3, H, W)``. It inverts :func:`unprocess` except in highlights (where the inverse gains
    were faded out) and where bilinear demosaicing blurs detail.
    """
    pattern = check_pattern(pattern)
    gains = np.zeros((2, 2))
    for y, x, channel in colour_index(pattern):
        gains[y, x] = params.gains[channel]
    if isinstance(raw, torch.Tensor):
        is_float = raw.is_floating_point()
    else:
        is_float = np.issubdtype(raw.dtype, np.floating)
    if not is_float:
        raise ValueError(f"expected a float mosaic in [0, 1], got dtype {raw.dtype}")
    balanced = raw * 1.0  # a copy, scaled in place through strided views below
    for y in range(2):
        for x in range(2):
            balanced[..., y::2, x::2] *= float(gains[y, x])
    balanced = balanced.clip(0.0, 1.0)
    image = _channels_last(demosaic_bilinear(balanced, pattern))
    image = apply_matrix(image, params.cam2rgb).clip(0.0, 1.0)
    image = smoothstep(gamma_compression(image))
    if isinstance(image, torch.Tensor):
        return image.movedim(-1, -3)
    return image
