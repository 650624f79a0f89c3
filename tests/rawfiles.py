"""Camera-like DNG files for tests, written with tifffile alone (no real camera files here).

Two layouts, as cameras and converters write them: the CFA mosaic in the main IFD (phones,
Raspberry Pi), or a small RGB preview in the main IFD with the mosaic in a SubIFD, masked
borders outside an ActiveArea, and the colour tags in the main IFD (Adobe DNG Converter).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

COLOURS = {"R": 0, "G": 1, "B": 2}
# An Adobe-style XYZ -> camera matrix (D65) and an as-shot neutral.
COLOR_MATRIX = (0.6722, -0.0635, -0.0963, -0.4287, 1.2460, 0.2028, -0.0908, 0.2162, 0.5668)
NEUTRAL = (0.5, 1.0, 0.7)
BLACK = (500, 510, 520, 530)  # per tile position
WHITE = 16383  # 14 bits


def _rational(values, denominator=10000):
    out = []
    for value in values:
        out += [int(round(value * denominator)), denominator]
    return out


def colour_tags(orientation: int = 1) -> list[tuple]:
    return [
        (271, "s", 0, "Zoo", True), (272, "s", 0, "Testcam", True), (274, "H", 1, orientation, True),
        (50706, "B", 4, bytes((1, 4, 0, 0)), True), (50707, "B", 4, bytes((1, 1, 0, 0)), True),
        (50708, "s", 0, "Zoo Testcam", True),
        (50721, "2i", 9, _rational(COLOR_MATRIX), True), (50778, "H", 1, 21, True),
        (50728, "2I", 3, _rational(NEUTRAL), True), (50730, "2i", 1, (-5, 10), True),  # BaselineExposure -0.5
        (33434, "2I", 1, (1, 250), True), (33437, "2I", 1, (28, 10), True), (34855, "H", 1, 800, True),
    ]


def mosaic_tags(pattern: str, black=BLACK, white=WHITE, active_area=None) -> list[tuple]:
    tags = [
        (33421, "H", 2, (2, 2), True), (33422, "B", 4, bytes(COLOURS[c] for c in pattern), True),
        (50710, "B", 3, bytes((0, 1, 2)), True), (50711, "H", 1, 1, True),
        (50713, "H", 2, (2, 2), True), (50714, "I", 4, tuple(black), True), (50717, "I", 1, white, True),
        (51041, "d", 6, (1e-4, 1e-6) * 3, True),  # NoiseProfile: of the noisy data, not to be carried
    ]
    if active_area is not None:
        tags.append((50829, "I", 4, tuple(active_area), True))
    return tags


def write_dng(path: Path, values: np.ndarray, pattern: str, *, orientation: int = 1, subifd: bool = False,
              margin: int = 0) -> Path:
    """A DNG of the uint16 mosaic ``values`` (the visible area) in ``pattern``'s phase.

    ``margin``: masked pixels around it (ActiveArea), as a real sensor has; even, so the phase stays.
    """
    values = np.asarray(values, np.uint16)
    height, width = values.shape
    stored, area = values, None
    if margin:
        stored = np.full((height + 2 * margin, width + 2 * margin), 40, np.uint16)  # masked: dark
        stored[margin:margin + height, margin:margin + width] = values
        area = (margin, margin, margin + height, margin + width)
    with tifffile.TiffWriter(path) as tif:
        if subifd:
            preview = np.zeros((8, 12, 3), np.uint8)
            tif.write(preview, photometric="rgb", subfiletype=1, subifds=1, metadata=None,
                      extratags=colour_tags(orientation))
            tif.write(stored, photometric=32803, subfiletype=0, metadata=None,
                      extratags=mosaic_tags(pattern, active_area=area))
        else:
            tif.write(stored, photometric=32803, subfiletype=0, metadata=None,
                      extratags=colour_tags(orientation) + mosaic_tags(pattern, active_area=area))
    return path


def scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth raw values within [max black, white], noise added: a mosaic worth denoising."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 4000 + 3000 * np.sin(x / 9.0) * np.cos(y / 7.0)
    noisy = base + rng.normal(0, 300, base.shape)
    return np.clip(np.rint(noisy), max(BLACK), WHITE).astype(np.uint16)
