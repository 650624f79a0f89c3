"""Write a Bayer mosaic as a DNG that raw editors and LibRaw open, with tifffile.

No DNG library is used: the one on the package index (pidng) ships as source with a C extension,
has had no release since 2022, prints instead of raising, and writes the same tags as here.
tifffile writes the TIFF structure; this module supplies the DNG tags (DNG 1.4, uncompressed
16-bit samples in the main IFD): CFA pattern, per-position black levels, white level, colour
matrix and illuminant (always: LibRaw's camera matrix, else the one LibRaw develops with, else
linear sRGB, the last two named in ProfileName), as-shot neutral, orientation, the camera, dates,
artist and copyright in the main IFD, the exposure and original dates in the Exif IFD (with the
raw file's own Exif tags, but its maker note), an 8-bit RGB preview in a SubIFD
(NewSubFileType 1), and, from a DNG input, the colour, profile and geometry tags carried over as
stored.

Uncompressed: DNG allows Deflate (8) for floating-point data only, and tifffile has no encoder
for lossless JPEG (7), DNG's compression for integer mosaics; an 8-bit zlib TIFF of the
mosaic would not be a DNG any raw editor opens.
"""

from __future__ import annotations

import datetime as _dt
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data.bayer import denormalize_raw
from zoo.errors import ZooError, first_line
from zoo.fileio import atomic_path
from zoo.metadata import Metadata, append_sub_ifds, pointer_tags
from zoo.raw.meta import ASSUMED_NOTE, RawMeta, assumed_matrix

BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL = 1, 2, 3, 4, 5, 7, 10
_CFA_COLOUR = {"R": 0, "G": 1, "B": 2}  # CFAPattern's colour numbers (CFAPlaneColor 0, 1, 2)
PHOTOMETRIC_CFA = 32803

Tag = tuple[int, int, int, Any]


def to_raw_units(mosaic: np.ndarray, meta: RawMeta) -> np.ndarray:
    """A normalised mosaic in [0, 1] back to ``meta``'s raw units, rounded to uint16."""
    values = denormalize_raw(np.asarray(mosaic, dtype=np.float32), meta.black_levels, meta.white_level)
    return np.clip(np.rint(values), 0, 65535).astype(np.uint16)


def write_dng(path: str | os.PathLike[str], mosaic: np.ndarray, meta: RawMeta, *, software: str = "zoo",
              preview: np.ndarray | None = None) -> Path:
    """Write ``mosaic`` (normalised (H, W) in [0, 1], in ``meta.pattern``'s phase) as a DNG, atomically.

    ``preview``: an 8-bit ``(h, w, 3)`` RGB picture, written as a reduced-resolution SubIFD.
    """
    import tifffile

    file = Path(path)
    values = to_raw_units(mosaic, meta)
    if values.shape != meta.shape:
        raise ZooError(f"cannot write {file}: the mosaic is {values.shape}, the raw file's is {meta.shape}")
    exif = exif_ifd(meta)
    sub = Metadata(exif=exif, gps=meta.metadata.gps)
    tags = [(*tag, True) for tag in dng_tags(meta)] + pointer_tags(sub)
    try:
        with atomic_path(file) as tmp:
            with tifffile.TiffWriter(tmp) as tif:
                # Uncompressed: DNG allows Deflate for floating-point data only, and lossless JPEG,
                # its compression for integer mosaics, has no encoder in tifffile.
                tif.write(values, photometric=PHOTOMETRIC_CFA, subfiletype=0, compression=None, extratags=tags,
                          metadata=None, software=software, subifds=1 if preview is not None else None)
                if preview is not None:
                    tif.write(np.ascontiguousarray(preview, np.uint8), photometric="rgb", subfiletype=1,
                              metadata=None, software=False)
            append_sub_ifds(tmp, sub)
            if preview is not None:
                _subifds_as_long(tmp)
    except OSError as exc:
        raise ZooError(f"cannot write {file}: {first_line(exc)}") from exc
    return file


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
