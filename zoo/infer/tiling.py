"""Overlapping tiles blended with a smooth window: no seams, memory bounded by the tile.

Tiles start at multiples of the model's size multiple (:mod:`zoo.contract`; 8 for the wavelet networks, whose
three Haar levels make them shift-equivariant only by 8 pixels), so a tile sees the same
wavelet grid as the whole image. Each side a tile shares with a neighbour gets a window that is
zero over the outer quarter of the overlap (where the tile lacks context), rises as a raised
cosine over the middle half, and is one inside. So for a model whose receptive radius is at
most ``overlap / 4`` and that has no global operation, the tiled result equals the untiled one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from zoo.errors import ZooError
from zoo.ops import pad_to_multiple

DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 32


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def tile_spans(length: int, tile: int, overlap: int, multiple: int = 1) -> list[tuple[int, int]]:
    """``(start, size)`` of the fewest equal tiles of at most ``tile`` that cover ``length`` with
    neighbours sharing at least ``overlap``; all multiples of ``multiple`` (as is ``length``)."""
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    while True:
        size = min(tile, round_up(math.ceil((length - overlap) / count) + overlap, multiple))
        starts = [i * (length - size) // (count - 1) // multiple * multiple for i in range(count)]
        starts[-1] = length - size
        if all(b - a <= size - overlap for a, b in zip(starts, starts[1:])):
            return [(start, size) for start in starts]
        count += 1  # rounding starts to the multiple shrank an overlap: one more tile


def edge_window(size: int, overlap: int, ramp_start: bool, ramp_end: bool) -> torch.Tensor:
    """1-D blending weights of one tile: ramps on the sides that meet a neighbour."""
    weights = torch.ones(size, dtype=torch.float32)
    dead, ramp = overlap // 4, overlap - 2 * (overlap // 4)
    # Raised cosine sampled at pixel centres: complementary ramps sum to exactly one.
    rise = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(ramp, dtype=torch.float64) + 0.5) / ramp)
    ramped = torch.cat([torch.zeros(dead, dtype=torch.float64), rise]).float()
    if ramp_start:
        weights[: dead + ramp] = ramped
    if ramp_end:
        weights[size - dead - ramp:] = torch.minimum(weights[size - dead - ramp:], ramped.flip(0))
    return weights


def check_tiling(tile: int, overlap: int, multiple: int) -> None:
    """Raise a clear error unless ``tile > overlap >= 0`` once kept to multiples of ``multiple``
    (the model's size multiple)."""
    if overlap < 0 or tile // multiple * multiple <= round_up(overlap, multiple):
        raise ZooError(f"tile ({tile}) must exceed overlap ({overlap}) by at least {multiple} once both are "
                       f"kept to multiples of {multiple}, and overlap must not be negative")


def tile_grid(height: int, width: int, tile: int, overlap: int, multiple: int = 1
              ) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """Row and column spans of the tiles over an image padded to ``multiple``, with ``tile``
    rounded down and ``overlap`` up to it; also the overlap used (the window needs it)."""
    check_tiling(tile, overlap, multiple)
    tile, overlap = tile // multiple * multiple, round_up(overlap, multiple)
    rows = tile_spans(round_up(height, multiple), tile, overlap, multiple)
    cols = tile_spans(round_up(width, multiple), tile, overlap, multiple)
    return rows, cols, overlap


def run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    batch: torch.Tensor,
    tile: int,
    overlap: int = DEFAULT_OVERLAP,
    multiple: int = 1,
    progress: Callable[[int], Callable[[], None]] | None = None,
) -> torch.Tensor:
    """Apply ``fn`` (image to image, same shape) to ``batch`` tile by tile and blend.

    ``tile`` is rounded down and ``overlap`` up to multiples of ``multiple``. ``progress``, when
    given, is called with the tile count and returns a callable to call after each tile.
    """
    height, width = batch.shape[-2:]
    rows, cols, overlap = tile_grid(height, width, tile, overlap, multiple)
    padded = pad_to_multiple(batch, multiple)  # the model's own padding, done once for the whole image
    output = torch.zeros_like(padded)
    total_weight = torch.zeros(padded.shape[-2:], dtype=padded.dtype)
    advance = progress(len(rows) * len(cols)) if progress else None
    for row, (y0, h) in enumerate(rows):
        wy = edge_window(h, overlap, row > 0, row < len(rows) - 1)
        for col, (x0, w) in enumerate(cols):
            wx = edge_window(w, overlap, col > 0, col < len(cols) - 1)
            window = wy[:, None] * wx[None, :]
            piece = fn(padded[..., y0:y0 + h, x0:x0 + w])
            output[..., y0:y0 + h, x0:x0 + w].addcmul_(piece, window)
            total_weight[y0:y0 + h, x0:x0 + w] += window
            if advance:
                advance()
    return (output / total_weight)[..., :height, :width]
