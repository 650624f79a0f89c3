"""Mosaics that the user describes: PNG/TIFF/``.npy`` Bayer mosaics, packed RGGB arrays and
headerless raw dumps, read at their own black and white levels.

A PNG or TIFF holds 8 or 16 bits per sample, but a sensor gives 10, 12 or 14: a 10-bit mosaic in
a 16-bit PNG spans 0-1023, and dividing it by 65535 would leave the model an almost black image
at the wrong noise level. ``--bit-depth`` (white = 2^bits - 1), ``--white-level`` and
``--black-level`` say what the stored numbers mean; the result is written back in the same units.

A file with no raw header (a sensor dump) is identified by LibRaw from its size alone, against a
table of cameras: a 768x512 16-bit dump is read as another camera's file, at another size and
white level, and nothing says so. Such a file is refused unless ``--raw-geometry WIDTHxHEIGHT``
gives its layout (8- or 16-bit little-endian samples, told apart by the file size).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.errors import ZooError
from zoo.raw.phase import check_bayer

# Start of every raw container LibRaw identifies by its header (as dcraw's identify()): TIFF
# byte orders (TIFF, DNG, NEF, CR2, ARW, ORF "IIRO", RW2 "IIU", IIQ "IIII", ...), then the others.
_SIGNATURES = (b"II", b"MM", b"\xff\xd8\xff", b"FUJIFILM", b"RIFF", b"\x00MRM", b"FOVb", b"ARRI", b"XPDS",
               b"RED1", b"RED2", b"PWAD", b"NOKIARAW", b"DSC-Image", b"\x00\x01\x00\x01\x00@", b"BR", b"CI")
_AT_OFFSET = ((4, b"ftyp"), (6, b"HEAPCCDR"))  # CR3 (ISO media), CRW
# A mosaic whose largest value stays below this share of its sample type's range is probably
# fewer bits than its container: said once, as a hint to give the levels.
_FEW_BITS = 1 / 16


@dataclass(frozen=True)
class Levels:
    """Black and white levels of a mosaic, in its stored units."""

    black: float
    white: float

    def normalise(self, stored: np.ndarray) -> np.ndarray:
        """``(stored - black) / (white - black)`` clipped to [0, 1], float32."""
        out = (np.asarray(stored, np.float64) - self.black) / (self.white - self.black)
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def restore(self, normalised: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`normalise`, in stored units (float64, not rounded)."""
        return self.black + np.asarray(normalised, np.float64) * (self.white - self.black)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--black-level``, ``--white-level``, ``--bit-depth`` and ``--raw-geometry``."""
    parser.add_argument("--black-level", type=float, metavar="N",
                        help="a PNG/TIFF/.npy/headerless mosaic's black level, in its stored units (default 0)")
    parser.add_argument("--white-level", type=float, metavar="N",
                        help="a PNG/TIFF/.npy/headerless mosaic's white level, in its stored units "
                        "(default: 2^--bit-depth - 1, else the sample type's maximum; 1 for float .npy)")
    parser.add_argument("--bit-depth", type=int, choices=range(8, 17), metavar="8-16",
                        help="the sensor's bits in a PNG/TIFF/.npy/headerless mosaic: a 10-bit mosaic in a 16-bit "
                        "PNG spans 0-1023 (white level 1023)")
    parser.add_argument("--raw-geometry", type=_geometry, metavar="WIDTHxHEIGHT",
                        help="read a camera raw file that has no header (a sensor dump) as a WIDTHxHEIGHT mosaic of "
                        "8- or 16-bit little-endian samples (with --mosaic); without it such a file is refused, "
                        "since LibRaw would guess its camera from the file size")


def _geometry(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) >= 2 and int(height) >= 2):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 768x512, got {text!r}")
    return int(width), int(height)


def levels_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, name, None) is not None for name in ("black_level", "white_level", "bit_depth"))


def levels(args: argparse.Namespace, top: float, what: str) -> Levels:
    """The levels ``args`` give for a mosaic whose samples reach ``top`` (its type's maximum)."""
    bits, white, black = getattr(args, "bit_depth", None), getattr(args, "white_level", None), getattr(args, "black_level", None)
    if white is None:
        white = float(2 ** bits - 1) if bits is not None else float(top)
    elif bits is not None and white > 2 ** bits - 1:
        raise ZooError(f"--white-level {white:g} does not fit in --bit-depth {bits} (at most {2 ** bits - 1})")
    black = 0.0 if black is None else black
    if not (np.isfinite(black) and np.isfinite(white) and 0 <= black < white):
        raise ZooError(f"the black level ({black:g}) must be at least 0 and below the white level ({white:g})")
    if white > top:
        raise ZooError(f"{what}: the white level {white:g} is above what its samples hold ({top:g})")
    return Levels(black, white)


def check_range(stored: np.ndarray, found: Levels, given: bool, what: str) -> str | None:
    """A refusal for samples above the white level; a hint (returned) when no levels were given
    and the samples use a small part of their type's range."""
    high = float(np.max(stored, initial=0))
    if high > found.white * (1 + 1e-6):
        raise ZooError(f"{what}: samples reach {high:g}, above the white level {found.white:g}: check --bit-depth "
                       "or --white-level")
    if not given and found.white > 1 and 0 < high < found.white * _FEW_BITS:
        bits = max(int(np.ceil(np.log2(high + 1))), 8)
        return (f"{what}: its samples reach only {high:g} of {found.white:g}: if it is a {bits}-bit mosaic give "
                f"--bit-depth {bits} (or --white-level, --black-level)")
    return None


def has_header(file: Path) -> bool:
    """Whether ``file`` starts the way a raw format LibRaw recognises by its header does."""
    with open(file, "rb") as handle:
        head = handle.read(16)
    return head.startswith(_SIGNATURES) or any(head[at:at + len(magic)] == magic for at, magic in _AT_OFFSET)


def refuse_headerless(file: Path) -> None:
    """A one-line refusal of a file LibRaw would identify by its size alone."""
    if not has_header(file):
        raise ZooError(f"cannot read {file}: it has no raw header, and LibRaw would guess its camera from the file size "
                       "alone; give --raw-geometry WIDTHxHEIGHT and --mosaic PATTERN to read it as a sensor dump")


def read_headerless(file: Path, geometry: tuple[int, int]) -> tuple[np.ndarray, int]:
    """The ``(height, width)`` mosaic stored in ``file`` without a header, and its sample bits (8 or 16)."""
    width, height = geometry
    size = file.stat().st_size
    if size == width * height * 2:
        dtype: np.dtype = np.dtype("<u2")
    elif size == width * height:
        dtype = np.dtype(np.uint8)
    else:
        raise ZooError(f"cannot read {file}: {size} bytes is neither {width}x{height} 8-bit ({width * height}) nor "
                       f"16-bit ({width * height * 2}) samples: check --raw-geometry")
    values = np.fromfile(file, dtype=dtype).reshape(height, width)
    return values.astype(dtype.newbyteorder("=")), dtype.itemsize * 8


def unpack(packed: np.ndarray) -> np.ndarray:
    """A packed ``(H, W, 4)`` mosaic (channel k = position k of the 2x2 tile, row-major: R, G, G, B
    for RGGB) as the ``(2H, 2W)`` mosaic."""
    height, width = packed.shape[:2]
    return packed.reshape(height, width, 2, 2).transpose(0, 2, 1, 3).reshape(2 * height, 2 * width)


def pack(mosaic: np.ndarray) -> np.ndarray:
    """The inverse of :func:`unpack`."""
    height, width = mosaic.shape[0] // 2, mosaic.shape[1] // 2
    return mosaic.reshape(height, 2, width, 2).transpose(0, 2, 1, 3).reshape(height, width, 4)


def pattern_of(args: argparse.Namespace, default: str | None, what: str) -> str:
    """``--mosaic``, else ``default``; a one-line error when neither is known."""
    pattern = getattr(args, "mosaic", None) or default
    if pattern is None:
        raise ZooError(f"{what}: give its CFA pattern with --mosaic")
    return check_bayer(pattern, what)
