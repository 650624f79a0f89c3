"""Bayer colour-filter-array helpers: pack a mosaic into colour planes and back, normalise raw values.

A pattern names the colours of the 2x2 repeat tile in row-major order, i.e. at positions
(0,0), (0,1), (1,0), (1,1): ``"RGGB"`` has red at the top-left and blue at the bottom-right.
Packed planes are always in the canonical order R, G1, G2, B, where G1 is the green on red's row
and G2 the green on blue's row, whatever the pattern, so a network sees the same colour in the
same channel for every camera.

Every function takes a numpy array or a torch tensor and returns the same type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

CFA_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def check_pattern(pattern: str) -> str:
    """Return ``pattern`` upper-cased, or raise ``ValueError`` if it is not one of :data:`CFA_PATTERNS`."""
    if not isinstance(pattern, str) or pattern.upper() not in CFA_PATTERNS:
        raise ValueError(f"unknown CFA pattern {pattern!r}; expected one of {', '.join(CFA_PATTERNS)}")
    return pattern.upper()


def plane_offsets(pattern: str = "RGGB") -> tuple[tuple[int, int], ...]:
    """The (row, column) offset in the 2x2 tile of each canonical plane R, G1, G2, B."""
    pattern = check_pattern(pattern)
    red = pattern.index("R")
    ry, rx = divmod(red, 2)
    # Red and blue sit on a diagonal, the greens on the other: G1 shares red's row, G2 blue's.
    return ((ry, rx), (ry, 1 - rx), (1 - ry, rx), (1 - ry, 1 - rx))


def _check_even(shape: Sequence[int], what: str) -> None:
    if len(shape) < 2:
        raise ValueError(f"{what} must have at least 2 dimensions (..., H, W), got shape {tuple(shape)}")
    height, width = shape[-2], shape[-1]
    if height % 2 or width % 2:
        raise ValueError(f"{what} height and width must be even for a 2x2 CFA, got {height}x{width}")


def pack_bayer(mosaic: Array, pattern: str = "RGGB") -> Array:
    """Split a mosaic ``(..., H, W)`` (even H, W) into planes ``(..., 4, H/2, W/2)`` ordered R, G1, G2, B.

    One copy is made (the stacked result); the input is not modified and the output never
    aliases it.
    """
    _check_even(tuple(mosaic.shape), "mosaic")
    views = [mosaic[..., y::2, x::2] for y, x in plane_offsets(pattern)]
    if isinstance(mosaic, torch.Tensor):
        return torch.stack(views, dim=-3)
    return np.stack(views, axis=-3)


def unpack_bayer(planes: Array, pattern: str = "RGGB") -> Array:
    """Interleave planes ``(..., 4, h, w)`` ordered R, G1, G2, B into a mosaic ``(..., 2h, 2w)``.

    The exact inverse of :func:`pack_bayer` for the same pattern.
    """
    shape: tuple[int, ...] = tuple(planes.shape)
    if len(shape) < 3 or shape[-3] != 4:
        raise ValueError(f"planes must have shape (..., 4, h, w), got {shape}")
    offsets = plane_offsets(pattern)
    out_shape = (*shape[:-3], 2 * shape[-2], 2 * shape[-1])
    if isinstance(planes, torch.Tensor):
        out = planes.new_empty(out_shape)  # slice assignment keeps autograd (CopySlices)
    else:
        out = np.empty(out_shape, dtype=planes.dtype)
    for index, (y, x) in enumerate(offsets):
        out[..., y::2, x::2] = planes[..., index, :, :]
    return out


def _levels(level: float | Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """A scalar, or a per-CFA-position level as a (2, 2) float64 array."""
    values = np.asarray(level, dtype=np.float64)
    if values.ndim == 0:
        return values
    if values.shape in ((4,), (2, 2)):
        # Four values are the tile positions (0,0), (0,1), (1,0), (1,1), row-major.
        return values.reshape(2, 2)
    raise ValueError(
        f"{name} must be a scalar, 4 values for the 2x2 CFA positions (0,0),(0,1),(1,0),(1,1), "
        f"or a 2x2 array; got shape {values.shape}"
    )


def _check_levels(black: np.ndarray, white: np.ndarray) -> None:
    if not np.all(np.isfinite(black)) or not np.all(np.isfinite(white)):
        raise ValueError("black and white levels must be finite")
    if np.any(white <= black):
        raise ValueError(
            f"white level {np.asarray(white).tolist()} must be above black level {np.asarray(black).tolist()}"
        )


def _float32_copy(x: Array) -> Array:
    if isinstance(x, torch.Tensor):
        return x.to(torch.float32, copy=True)
    return np.array(x, dtype=np.float32, copy=True)


def _per_position(x: Array, black: np.ndarray, span: np.ndarray, inverse: bool) -> Array:
    """In place: ``(x - black) / span`` or, inverse, ``x * span + black``, per CFA position.

    ``black`` and ``span`` are scalars or (2, 2); per-position values are applied through strided
    views, so no full-size level map is ever built.
    """
    if black.ndim == 0 and span.ndim == 0:
        cells = [(x, float(black), float(span))]
    else:
        if x.ndim < 2:
            raise ValueError(f"per-position levels need a mosaic (..., H, W), got shape {tuple(x.shape)}")
        black, span = np.broadcast_to(black, (2, 2)), np.broadcast_to(span, (2, 2))
        positions = [(i, j) for i in range(2) for j in range(2)]
        cells = [(x[..., i::2, j::2], float(black[i, j]), float(span[i, j])) for i, j in positions]
    for view, b, s in cells:  # views: the in-place updates land in x
        if inverse:
            view *= s
            view += b
        else:
            view -= b
            view /= s
    return x


def normalize_raw(
    mosaic: Array,
    black_level: float | Sequence[float] | np.ndarray,
    white_level: float | Sequence[float] | np.ndarray,
) -> Array:
    """``(x - black) / (white - black)`` clipped to [0, 1], as float32 (a new array or tensor).

    ``black_level`` (and ``white_level``) is a scalar, or per CFA position: 4 values for the tile
    positions (0,0), (0,1), (1,0), (1,1) (what rawpy's ``black_level_per_channel`` gives once
    mapped through ``raw_pattern``), or a 2x2 array. Positions repeat from the mosaic's top-left.
    """
    black, white = _levels(black_level, "black_level"), _levels(white_level, "white_level")
    _check_levels(black, white)
    out = _per_position(_float32_copy(mosaic), black, white - black, inverse=False)
    if isinstance(out, torch.Tensor):
        return out.clamp_(0.0, 1.0)
    return np.clip(out, 0.0, 1.0, out=out)


def denormalize_raw(
    x: Array,
    black_level: float | Sequence[float] | np.ndarray,
    white_level: float | Sequence[float] | np.ndarray,
) -> Array:
    """``x * (white - black) + black`` as float32: the inverse of :func:`normalize_raw` on [0, 1].

    Not rounded or cast: callers writing integer raw files round and clip to their own range.
    """
    black, white = _levels(black_level, "black_level"), _levels(white_level, "white_level")
    _check_levels(black, white)
    return _per_position(_float32_copy(x), black, white - black, inverse=True)
