"""Develop a denoised mosaic with LibRaw, as the camera's raw file itself would be developed.

The mosaic goes back into the open file's raw buffer (in raw units) and rawpy's ``postprocess``
does the rest: the camera's white balance, demosaicing, the camera matrix to sRGB, the sRGB tone
curve and the file's orientation. LibRaw picks the brightness from each image's histogram; here
it is picked once, the way LibRaw would for the noisy input, and used for every development of
that file, so a noisy and a denoised development side by side differ only by the denoising.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.raw.dng import to_raw_units
from zoo.raw.libraw import open_raw as open_raw  # re-exported: opened and developed together
from zoo.raw.meta import RawMeta

AUTO_BRIGHT_THRESHOLD = 0.01  # LibRaw's default: the brightest 1% of pixels may clip


def develop(raw: Any, mosaics: Sequence[np.ndarray], meta: RawMeta, *, bits: int = 16) -> list[np.ndarray]:
    """Each normalised mosaic (the file's visible area and phase) developed by LibRaw: (3, H, W) float32 in [0, 1].

    ``raw`` is the open file the mosaics come from; its raw buffer is overwritten. The brightness
    is LibRaw's automatic choice for the first mosaic (the noisy input, when there are several).
    """
    if not mosaics:
        return []
    visible = raw.raw_image_visible  # a view into LibRaw's buffer: postprocess reads it
    bright = _auto_bright(raw, visible, to_raw_units(mosaics[0], meta))
    out = []
    for mosaic in mosaics:
        visible[...] = to_raw_units(mosaic, meta)
        rgb = raw.postprocess(use_camera_wb=True, no_auto_bright=True, bright=bright, output_bps=bits)
        out.append(np.moveaxis(rgb, -1, 0).astype(np.float32) / np.float32(np.iinfo(rgb.dtype).max))
    return out


def _auto_bright(raw: Any, visible: np.ndarray, values: np.ndarray) -> float:
    """The ``bright`` that gives LibRaw's own automatic white point for ``values``.

    LibRaw maps the level below which all but :data:`AUTO_BRIGHT_THRESHOLD` of each channel's
    linear output lies (the highest over channels, on a histogram of 8192 bins) to white. That
    level is measured here on a fast half-size linear development and fixed as ``bright``.
    """
    visible[...] = values
    linear = raw.postprocess(use_camera_wb=True, half_size=True, gamma=(1, 1), no_auto_bright=True, bright=1.0,
                             output_bps=16, user_flip=0)
    height, width = linear.shape[:2]
    allowed = int(height * width * AUTO_BRIGHT_THRESHOLD)
    white = 32
    for channel in range(linear.shape[2]):
        counts = np.bincount((linear[..., channel] >> 3).ravel(), minlength=0x2000)[:0x2000]
        above = np.cumsum(counts[::-1])  # above[i]: pixels at level 0x1fff - i or brighter
        level = 0x1FFF - int(np.argmax(above > allowed)) if (above > allowed).any() else 32
        white = max(white, min(level, 0x1FFF), 32)
    return 0x2000 / white
