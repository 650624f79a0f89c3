"""The small developed picture a DNG embeds, so that file browsers show the denoised shot.

From a camera raw file, LibRaw develops it (half size, the camera's white balance and matrix);
from a mosaic the user described, each 2x2 tile gives one pixel (red, the greens' mean, blue,
taken as linear sRGB, as its DNG says). Either is shrunk to :data:`PREVIEW_SIZE` pixels on the
long side (area-averaged) and sRGB-encoded at 8 bits.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

PREVIEW_SIZE = 256


def shrink(rgb: np.ndarray) -> np.ndarray:
    """An ``(h, w, 3)`` picture at most :data:`PREVIEW_SIZE` on its long side, area-averaged."""
    height, width = rgb.shape[:2]
    scale = PREVIEW_SIZE / max(height, width)
    if scale >= 1:
        return np.ascontiguousarray(rgb)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA)


def from_libraw(raw: Any) -> np.ndarray:
    """8-bit ``(h, w, 3)`` preview of the mosaic now in ``raw``'s buffer (LibRaw's development)."""
    return shrink(raw.postprocess(use_camera_wb=True, half_size=True, output_bps=8))


def from_mosaic(mosaic: np.ndarray, pattern: str) -> np.ndarray:
    """8-bit ``(h, w, 3)`` preview of a normalised ``(H, W)`` Bayer mosaic in ``pattern``'s phase."""
    height, width = mosaic.shape[0] // 2 * 2, mosaic.shape[1] // 2 * 2
    planes: dict[str, list[np.ndarray]] = {"R": [], "G": [], "B": []}
    for index, colour in enumerate(pattern):
        dy, dx = divmod(index, 2)
        planes[colour].append(mosaic[dy:height:2, dx:width:2])
    linear = np.stack([np.mean(planes[c], axis=0) for c in "RGB"], axis=-1).astype(np.float32)
    linear = shrink(np.clip(linear, 0.0, 1.0))
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)  # sRGB
    return np.clip(np.rint(encoded * 255), 0, 255).astype(np.uint8)
