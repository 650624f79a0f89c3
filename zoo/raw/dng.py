"""Write a Bayer mosaic as a DNG that raw editors and LibRaw open, with tifffile.

No DNG library is used: the one on the package index (pidng) ships as source with a C extension,
has had no release since 2022, prints instead of raising, and writes the same tags as here.
tifffile writes the TIFF structure; this module supplies the DNG tags (DNG 1.4, 16-bit samples in
the main IFD, losslessly compressed): CFA pattern, per-position black levels, white level, colour
matrix and illuminant (always: LibRaw's camera matrix, else the one LibRaw develops with, else
linear sRGB, the last two named in ProfileName), as-shot neutral, orientation, the camera, dates,
artist and copyright in the main IFD, the exposure and original dates in the Exif IFD (with the
raw file's own Exif tags, but its maker note), an 8-bit RGB preview in a SubIFD
(NewSubFileType 1), and, from a DNG input, the colour, profile and geometry tags carried over as
stored.

The mosaic is stored as cameras and Adobe's DNG Converter store it: lossless JPEG (Compression 7,
T.81 process 14, predictor 1; :mod:`zoo.raw.ljpeg`) in tiles of up to 256x256, each tile one JPEG
stream of two interleaved components half the tile's width, so the predictor works across like
colours. DNG allows Deflate (8) for floating-point data only, and tifffile has no lossless-JPEG
encoder, hence zoo's own. A mosaic narrower than 16 pixels (TIFF's least tile width) is stored
uncompressed, as is any with ``compress=False``.
"""

from __future__ import annotations

import datetime as _dt
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from zoo.ops.bayer import denormalize_raw
from zoo.errors import ZooError, first_line
from zoo.fileio import atomic_path
from zoo.metadata import Metadata, append_sub_ifds, pointer_tags
from zoo.raw import ljpeg
from zoo.raw.meta import ASSUMED_NOTE, RawMeta, assumed_matrix

BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL = 1, 2, 3, 4, 5, 7, 10
_CFA_COLOUR = {"R": 0, "G": 1, "B": 2}  # CFAPattern's colour numbers (CFAPlaneColor 0, 1, 2)
PHOTOMETRIC_CFA = 32803
COMPRESSION_JPEG = 7
TILE = 256  # the tile side Adobe's DNG Converter writes; TIFF wants tile sides that are multiples of 16

Tag = tuple[int, int, int, Any]


def to_raw_units(mosaic: np.ndarray, meta: RawMeta) -> np.ndarray:
    """A normalised mosaic in [0, 1] back to ``meta``'s raw units, rounded to uint16."""
    values = denormalize_raw(np.asarray(mosaic, dtype=np.float32), meta.black_levels, meta.white_level)
    return np.clip(np.rint(values), 0, 65535).astype(np.uint16)


def write_dng(path: str | os.PathLike[str], mosaic: np.ndarray, meta: RawMeta, *, software: str = "zoo",
              preview: np.ndarray | None = None, compress: bool = True) -> Path:
    """Write ``mosaic`` (normalised (H, W) in [0, 1], in ``meta.pattern``'s phase) as a DNG, atomically.

    ``preview``: an 8-bit ``(h, w, 3)`` RGB picture, written as a reduced-resolution SubIFD.
    ``compress``: lossless JPEG tiles (the default), else uncompressed strips.
    """
    import tifffile

    file = Path(path)
    values = to_raw_units(mosaic, meta)
    if values.shape != meta.shape:
        raise ZooError(f"cannot write {file}: the mosaic is {values.shape}, the raw file's is {meta.shape}")
    exif = exif_ifd(meta)
    sub = Metadata(exif=exif, gps=meta.metadata.gps)
    tags = [(*tag, True) for tag in dng_tags(meta)] + pointer_tags(sub)
    tile = tile_shape(*values.shape) if compress else None
    common: dict[str, Any] = dict(photometric=PHOTOMETRIC_CFA, subfiletype=0, extratags=tags, metadata=None, software=software,
                  subifds=1 if preview is not None else None)
    try:
        with atomic_path(file) as tmp:
            with tifffile.TiffWriter(tmp) as tif:
                if tile is None:
                    tif.write(values, compression=None, **common)
                else:
                    # tifffile writes ready-made tiles as they are, but asks imagecodecs for an encoder
                    # for the Compression it is given, even unused; it is given Deflate (zlib, always
                    # there), and the tag is set to lossless JPEG once the file is written.
                    tif.write(iter(encode_tiles(values, tile)), shape=values.shape, dtype=np.uint16, tile=tile,
                              compression=8, bitspersample=16, **common)
                if preview is not None:
                    tif.write(np.ascontiguousarray(preview, np.uint8), photometric="rgb", subfiletype=1,
                              metadata=None, software=False)
            if tile is not None:
                _set_compression(tmp, COMPRESSION_JPEG)
            append_sub_ifds(tmp, sub)
            if preview is not None:
                _subifds_as_long(tmp)
    except OSError as exc:
        raise ZooError(f"cannot write {file}: {first_line(exc)}") from exc
    return file


def tile_shape(height: int, width: int) -> tuple[int, int] | None:
    """The (TileLength, TileWidth) for a ``height`` x ``width`` mosaic; None below 16 columns.

    Multiples of 16 (TIFF) up to 256, as few tiles as that allows, sized to leave little padding.
    Never wider than the mosaic, nor exactly half its width, for LibRaw (0.22, tried): it starts
    a tile's next row at the image's width where the tile is wider, and where two tile widths
    make the image's it reads each JPEG row of a two-component tile as twice the samples it holds.
    """
    if width < 16:
        return None
    across = -(-width // TILE)
    tile_width = _multiple_of_16(width, across)
    while tile_width > width or 2 * tile_width == width:
        across += 1
        tile_width = _multiple_of_16(width, across)
    return _multiple_of_16(height, -(-height // TILE)), tile_width


def _multiple_of_16(size: int, parts: int) -> int:
    """The least multiple of 16 of which ``parts`` cover ``size``."""
    return -(-size // (16 * parts)) * 16


def encode_tiles(values: np.ndarray, tile: tuple[int, int]) -> list[bytes]:
    """The mosaic's tiles, left to right then top to bottom, each a lossless JPEG stream of two
    components (a tile row's even and odd columns), as LibRaw, dcraw and Adobe read them."""
    length, width = tile
    rows, columns = values.shape
    padded = _pad(values, -(-rows // length) * length, -(-columns // width) * width)
    return [ljpeg.encode(padded[y:y + length, x:x + width].reshape(length, width // 2, 2))
            for y in range(0, padded.shape[0], length) for x in range(0, padded.shape[1], width)]


def _pad(values: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """``values`` padded to ``rows`` x ``columns`` for the tiles over its edges, at almost no cost to
    the predictor (the sample two to the left): the last two columns repeat to the right, and the
    rows below repeat the last two rows' first two samples; each colour keeps its CFA position."""
    height = values.shape[0]
    padded = np.empty((rows, columns), values.dtype)
    padded[:height] = values[:, _edge_index(values.shape[1], columns)]
    below = _edge_index(height, rows)[height:]
    padded[height:] = padded[below[:, None], np.arange(columns) % 2]
    return padded


def _edge_index(size: int, padded: int) -> np.ndarray:
    """0..size-1, then size-2 and size-1 in turn up to ``padded``: an index of the same parity."""
    index = np.arange(padded)
    index[size:] = size - 2 + (index[size:] - size) % 2 if size >= 2 else 0
    return index


def _set_compression(file: Path, value: int) -> None:
    """Overwrite the main IFD's Compression (a SHORT held in its entry)."""
    import struct

    import tifffile

    with tifffile.TiffFile(file) as tif:
        where, order = tif.pages.first.tags[259].valueoffset, tif.byteorder
    with open(file, "r+b") as handle:
        handle.seek(where)
        handle.write(struct.pack(order + "H", value))


def _subifds_as_long(file: Path) -> None:
    """tifffile types the SubIFDs pointer IFD (13); TIFF/EP and exiftool expect LONG (4), as every camera writes it."""
    import struct

    import tifffile

    with tifffile.TiffFile(file) as tif:
        entry = tif.pages.first.tags[330].offset
    with open(file, "r+b") as handle:
        handle.seek(entry + 2)  # the entry: tag code, then its type
        handle.write(struct.pack("<H", LONG))


def dng_tags(meta: RawMeta) -> list[Tag]:
    """The DNG tags for ``meta``'s mosaic: described from LibRaw, then a DNG input's own tags on top."""
    carried = {code: (code, dtype, count, value) for code, dtype, count, value in meta.carried}
    tags: dict[int, Tag] = {}

    def put(code: int, dtype: int, value: Any, count: int | None = None) -> None:
        if count is None:
            count = 0 if dtype == ASCII else len(value) // (2 if dtype in (RATIONAL, SRATIONAL) else 1) \
                if isinstance(value, (tuple, list, bytes)) else 1
        tags[code] = (code, dtype, count, value)

    put(33421, SHORT, (2, 2))  # CFARepeatPatternDim
    put(33422, BYTE, bytes(_CFA_COLOUR[c] for c in meta.pattern))  # CFAPattern
    put(50706, BYTE, bytes((1, 4, 0, 0)))  # DNGVersion
    # Opcode lists need a DNG 1.3 reader; nothing else here needs more than 1.1.
    put(50707, BYTE, bytes((1, 3 if {51009, 51022} & carried.keys() else 1, 0, 0)))  # DNGBackwardVersion
    put(50710, BYTE, bytes((0, 1, 2)))  # CFAPlaneColor
    put(50711, SHORT, (1,))  # CFALayout: rectangular
    put(50713, SHORT, (2, 2))  # BlackLevelRepeatDim: one level per tile position
    put(50714, RATIONAL, _rationals(meta.black_levels, 100))  # BlackLevel
    put(50717, LONG, (int(round(meta.white_level)),))  # WhiteLevel
    put(274, SHORT, (meta.orientation,))  # Orientation
    put(50935, RATIONAL, (1, 1))  # NoiseReductionApplied: editors need not add their own
    if 50721 not in carried:  # always a matrix: without one every raw editor renders the DNG grey
        matrix, note = meta.color_matrix, meta.matrix_note
        if matrix is None:
            matrix, note = assumed_matrix(), ASSUMED_NOTE
        put(50721, SRATIONAL, _rationals(np.asarray(matrix).ravel(), 10000, signed=True))  # ColorMatrix1
        put(50778, SHORT, (meta.illuminant,))  # CalibrationIlluminant1
        if note and 50936 not in carried:
            put(50936, ASCII, note)  # ProfileName: says where the matrix comes from
    if meta.as_shot_neutral is not None and not {50728, 50729} & carried.keys():
        put(50728, RATIONAL, _rationals(meta.as_shot_neutral, 1_000_000))  # AsShotNeutral
    make, model = meta.exif.get("make"), meta.exif.get("model")
    if make:
        put(271, ASCII, str(make))
    if model:
        put(272, ASCII, str(model))
    put(50708, ASCII, " ".join(str(part) for part in (make, model) if part) or "zoo denoised raw")  # UniqueCameraModel
    for code in (306, 315, 33432, 270):  # DateTime, Artist, Copyright, ImageDescription: the raw file's own
        if code in meta.metadata.main:
            put(code, ASCII, str(meta.metadata.main[code]))
    if 306 not in tags and "DateTimeOriginal" in _dates(meta.exif):
        put(306, ASCII, _dates(meta.exif)["DateTimeOriginal"])
    tags.update(carried)  # a DNG input's own description wins
    return [tags[code] for code in sorted(tags)]


def exif_ifd(meta: RawMeta) -> dict[int, Any]:
    """The Exif IFD: the raw file's own, with the exposure and date LibRaw reports where it has none."""
    from PIL.TiffImagePlugin import IFDRational

    out: dict[int, Any] = {}
    exif = meta.exif
    for code, key in ((0x829A, "shutter_speed"), (0x829D, "aperture"), (0x920A, "focal_length")):
        if key in exif:
            out[code] = IFDRational(*_fraction(exif[key]))  # ExposureTime, FNumber, FocalLength
    if "iso_speed" in exif:
        out[0x8827] = min(int(round(exif["iso_speed"])), 65535)  # ISOSpeedRatings
    for name, code in (("DateTimeOriginal", 0x9003), ("CreateDate", 0x9004)):
        if name in _dates(exif):
            out[code] = _dates(exif)[name]
    out.update(meta.metadata.exif)  # the camera's own tags win over LibRaw's rounding
    if out:
        out.setdefault(0x9000, b"0232")  # ExifVersion: required in an Exif IFD
    return out


def _dates(exif: dict[str, Any]) -> dict[str, str]:
    stamp = exif.get("timestamp")
    if isinstance(stamp, (int, float)) and stamp > 0:
        stamp = _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc)
    if isinstance(stamp, _dt.datetime) and stamp.year > 1970:  # LibRaw reports 0 (the epoch) for none
        text = stamp.strftime("%Y:%m:%d %H:%M:%S")
        return {"DateTimeOriginal": text, "CreateDate": text}
    return {}


def _fraction(value: float) -> tuple[int, int]:
    fraction = Fraction(value).limit_denominator(1_000_000)
    return fraction.numerator, fraction.denominator


def _rationals(values: Any, denominator: int, *, signed: bool = False) -> tuple[int, ...]:
    """Flat (numerator, denominator) pairs, as tifffile writes RATIONAL and SRATIONAL."""
    out: list[int] = []
    for value in values:
        numerator = int(round(float(value) * denominator))
        if not signed and numerator < 0:
            raise ZooError(f"cannot write a negative value {value} as an unsigned DNG rational")
        out += [numerator, denominator]
    return tuple(out)
