"""Bring a Bayer mosaic to the model's CFA phase and back, losslessly.

The raw models are trained on RGGB mosaics: red at the top-left of every 2x2 tile. A GRBG, GBRG
or BGGR file is the same kind of mosaic seen one column and/or one row off. Padding the top
and/or left edge by one row/column (reflected: the row two away has the colours the missing one
would have) gives an RGGB mosaic whose pixels are the file's own; cropping the result by the same
amount gives the file's shape back. Nothing of the file is cut or resampled.
"""

from __future__ import annotations

import numpy as np

from zoo.ops.bayer import CFA_PATTERNS
from zoo.errors import ZooError

MODEL_PATTERN = "RGGB"  # the phase every raw model is trained on (zoo.data builds RGGB mosaics)


def check_bayer(pattern: str | None, what: str = "the mosaic") -> str:
    """``pattern`` upper-cased if it is a 2x2 Bayer pattern, else a one-line :class:`ZooError`."""
    if pattern is None or pattern.upper() not in CFA_PATTERNS:
        found = "no CFA pattern" if pattern is None else f"CFA pattern {pattern!r}"
        raise ZooError(f"{what} has {found}; the raw models take 2x2 Bayer mosaics ({', '.join(CFA_PATTERNS)}), "
                       "not X-Trans or four-colour sensors")
    return pattern.upper()


def phase_offset(pattern: str, target: str = MODEL_PATTERN) -> tuple[int, int]:
    """Rows and columns ``(dy, dx)``, each 0 or 1, to add at the top and left so that ``pattern`` reads as ``target``."""
    pattern, target = check_bayer(pattern), check_bayer(target, "the model")
    for dy in (0, 1):
        for dx in (0, 1):
            # After padding, tile position (a, b) holds the file's position (a - dy, b - dx) mod 2.
            if all(pattern[2 * ((a - dy) % 2) + (b - dx) % 2] == target[2 * a + b] for a in (0, 1) for b in (0, 1)):
                return dy, dx
    raise AssertionError("every Bayer pattern is a shift of every other")  # pragma: no cover


def to_phase(mosaic: np.ndarray, pattern: str, target: str = MODEL_PATTERN) -> tuple[np.ndarray, tuple[int, int]]:
    """``mosaic`` (..., H, W) padded by reflection at the top/left into ``target``'s phase, and the offset used."""
    dy, dx = phase_offset(pattern, target)
    if (dy or dx) and min(mosaic.shape[-2:]) < 2:
        raise ZooError(f"a {pattern} mosaic needs at least 2x2 pixels to bring to {target} phase, got {mosaic.shape}")
    if not (dy or dx):
        return mosaic, (0, 0)
    pad = [(0, 0)] * (mosaic.ndim - 2) + [(dy, 0), (dx, 0)]
    return np.pad(mosaic, pad, mode="reflect"), (dy, dx)


def from_phase(result: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """Undo :func:`to_phase` on a result of the padded mosaic's shape."""
    dy, dx = offset
    return result[..., dy:, dx:]
