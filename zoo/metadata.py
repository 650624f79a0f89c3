"""A photograph's metadata (EXIF, XMP, ICC profile) carried from the file read to the file written.

Pillow reads and serialises the EXIF (:class:`PIL.Image.Exif`: the main IFD, the Exif IFD and
the GPS IFD); zoo only chooses what is kept and frames the blocks into the output format:

- JPEG: Pillow's encoder writes the APP1 (EXIF, XMP) and APP2 (ICC) segments.
- PNG: OpenCV encodes the pixels (Pillow writes no 16-bit RGB PNG); ``iCCP``, ``eXIf`` and an
  ``iTXt`` ``XML:com.adobe.xmp`` chunk go in right after the header.
- TIFF and DNG: the descriptive main-IFD tags, ICC (34675) and XMP (700) are tifffile tags; the
  Exif and GPS IFDs are serialised by Pillow at the end of the written file and the pointers
  (34665, 34853) patched to them (tifffile writes no such sub-IFDs).

**Orientation**: a picture is turned upright when it is read for denoising (:func:`orient`) and
written with Orientation 1, in EXIF and in XMP (``tiff:Orientation``), for every format: no
viewer can then show it sideways, whether it reads the tag or not. Mosaics are never turned
(that would change their CFA pattern): their tag is kept as it is.

Kept: the descriptive main-IFD tags (:data:`MAIN_TAGS`: camera, dates, artist, copyright,
resolution), the whole Exif IFD (exposure, lens, original dates, maker note) and GPS IFD, XMP
and ICC. Dropped: the thumbnail (IFD1: it would show the noisy image) and the Interoperability
IFD. Software (0x0131) names zoo; PixelX/YDimension give the written size.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ZooError

ORIENTATION, SOFTWARE, EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x0112, 0x0131, 0x8769, 0x8825, 0xA005
XMP_TAG, ICC_TAG = 700, 34675
PIXEL_X, PIXEL_Y = 0xA002, 0xA003
# Main-IFD tags that describe the picture rather than its storage.
MAIN_TAGS = frozenset({
    269, 270, 271, 272, ORIENTATION, 282, 283, 296, 306, 315, 316, 33432,
    # DocumentName, ImageDescription, Make, Model, Orientation, X/YResolution, ResolutionUnit,
    # DateTime, Artist, HostComputer, Copyright
})
_TEXT_TAGS = frozenset({269, 270, 271, 272, 306, 315, 316, 33432})
_TIFFFILE_DESCRIPTION = '{"shape"'  # tifffile's own JSON ImageDescription: storage, not a caption
_XMP_ORIENTATION = re.compile(rb'(tiff:Orientation\s*=\s*["\'])\d(["\'])|(<tiff:Orientation>\s*)\d(\s*</tiff:Orientation>)')


@dataclass(frozen=True)
class Metadata:
    """What a picture file says about itself: EXIF tags by IFD, XMP packet, ICC profile.

    ``main``: descriptive main-IFD tags (:data:`MAIN_TAGS`) but Orientation, which is
    ``orientation``; ``exif`` and ``gps``: the Exif and GPS IFDs, as Pillow reads them.
    """

    main: dict[int, Any] = field(default_factory=dict)
    exif: dict[int, Any] = field(default_factory=dict)
    gps: dict[int, Any] = field(default_factory=dict)
    xmp: bytes | None = None
    icc: bytes | None = None
    orientation: int = 1

    def __bool__(self) -> bool:
        return bool(self.main or self.exif or self.gps or self.xmp or self.icc or self.orientation != 1)


def read_metadata(file: Path, fmt: str) -> Metadata:
    """The metadata of a JPEG, PNG or TIFF ``file``; an empty :class:`Metadata` for other formats.

    Damaged metadata never stops denoising: it is dropped with a warning.
    """
    if fmt not in ("jpeg", "png", "tiff"):
        return Metadata()
    try:
        with open(file, "rb") as handle:
            return _read_tiff(handle) if fmt == "tiff" else _read_pillow(handle, fmt)
    except Exception as exc:  # Pillow raises many types for damaged EXIF
        warnings.warn(f"{file}: its metadata is unreadable and is not carried over ({type(exc).__name__}: {exc})",
                      stacklevel=2)
        return Metadata()


def _read_pillow(handle: Any, fmt: str) -> Metadata:
    # The format's own class, not Image.open: zoo has bounded the pixel count already
    # (zoo.limits), and Image.open's lower bomb limit would refuse what zoo accepts.
    from PIL import JpegImagePlugin, PngImagePlugin

    opener = JpegImagePlugin.JpegImageFile if fmt == "jpeg" else PngImagePlugin.PngImageFile
    with opener(handle) as picture:
        exif = picture.getexif()
        info = dict(picture.info)
        return _from_exif(exif, xmp=info.get("xmp"), icc=info.get("icc_profile"))


def _read_tiff(handle: Any) -> Metadata:
    from PIL import Image

    exif = Image.Exif()
    exif.load_from_fp(handle)  # the file's first IFD, its Exif and GPS IFDs: no pixels read
    xmp, icc = exif.get(XMP_TAG), exif.get(ICC_TAG)
    return _from_exif(exif, xmp=xmp if isinstance(xmp, bytes) else None, icc=icc if isinstance(icc, bytes) else None)


def _from_exif(exif: Any, *, xmp: Any, icc: Any) -> Metadata:
    main = {tag: value for tag, value in exif.items() if tag in MAIN_TAGS and tag != ORIENTATION}
    if str(main.get(270, "")).startswith(_TIFFFILE_DESCRIPTION):
        del main[270]
    sub = dict(exif.get_ifd(EXIF_IFD)) if EXIF_IFD in exif else {}
    sub.pop(INTEROP_IFD, None)
    gps = dict(exif.get_ifd(GPS_IFD)) if GPS_IFD in exif else {}
    orientation = exif.get(ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1  # an out-of-range tag means nothing to any viewer: nothing to apply
    return Metadata(main, sub, gps, xmp if isinstance(xmp, bytes) and xmp else None,
                    icc if isinstance(icc, bytes) and icc else None, orientation)


def orient(data: np.ndarray, orientation: int) -> np.ndarray:
    """``data`` ((H, W) or (C, H, W)) as a viewer shows it under EXIF ``orientation`` (1-8)."""
    turned = {
        1: lambda a: a,
        2: lambda a: a[..., ::-1],  # mirrored left-right
        3: lambda a: a[..., ::-1, ::-1],  # 180 degrees
        4: lambda a: a[..., ::-1, :],  # mirrored top-bottom
        5: lambda a: np.swapaxes(a, -1, -2),  # transposed
        6: lambda a: np.swapaxes(a, -1, -2)[..., ::-1],  # stored turned 90 anticlockwise: turn clockwise
        7: lambda a: np.swapaxes(a, -1, -2)[..., ::-1, ::-1],  # transversed
        8: lambda a: np.swapaxes(a, -1, -2)[..., ::-1, :],  # stored turned 90 clockwise: turn anticlockwise
    }[orientation](data)
    return np.ascontiguousarray(turned)


def for_output(meta: Metadata, *, software: str, size: tuple[int, int], orientation: int = 1) -> Metadata:
    """``meta`` as written beside pixels of ``size`` (height, width): zoo as the Software, the
    pixel dimensions, and ``orientation`` (1 for pictures turned upright) in EXIF and XMP."""
    main = {**meta.main, SOFTWARE: software}
    exif = dict(meta.exif)
    if PIXEL_X in exif or PIXEL_Y in exif:
        exif[PIXEL_X], exif[PIXEL_Y] = size[1], size[0]
    xmp = meta.xmp
    if xmp is not None:
        xmp = _XMP_ORIENTATION.sub(lambda m: (m.group(1) or m.group(3)) + str(orientation).encode()
                                   + (m.group(2) or m.group(4)), xmp)
    return replace(meta, main=main, exif=exif, xmp=xmp, orientation=orientation)


# EXIF tags whose type Pillow would guess wrong from the value (bytes as BYTE, a zero or
# positive rational as RATIONAL): UNDEFINED and SRATIONAL ones, by IFD.
_UNDEFINED: dict[int | None, set[int]] = {
    EXIF_IFD: {0x8828, 0x9000, 0x9101, 0x927C, 0x9286, 0xA000, 0xA20C, 0xA300, 0xA301, 0xA302, 0xA40B},
    GPS_IFD: {0x001B, 0x001C}}
_SRATIONAL: dict[int | None, set[int]] = {EXIF_IFD: {0x9201, 0x9203, 0x9204}, GPS_IFD: set()}
# tifffile refuses to write the Exif and GPS IFD pointers (its TIFF.TAG_FILTERED): they are
# written under these unassigned main-IFD codes, which sort to the same place, and renamed once
# the sub-IFDs are in the file.
_STAND_IN = {EXIF_IFD: 34664, GPS_IFD: 34852}


def _ifd_bytes(values: dict[int, Any], group: int | None, offset: int) -> bytes:
    """``values`` as one little-endian IFD starting at file ``offset`` (its data after it)."""
    from PIL import TiffImagePlugin

    ifd = TiffImagePlugin.ImageFileDirectory_v2(group=group)
    for tag, value in values.items():
        if tag in _UNDEFINED.get(group, ()):
            ifd.tagtype[tag] = 7
        elif tag in _SRATIONAL.get(group, ()):
            ifd.tagtype[tag] = 10
        ifd[tag] = value
    return ifd.tobytes(offset=offset)


def exif_block(meta: Metadata) -> bytes:
    """The EXIF as a TIFF structure (main IFD, then the Exif and GPS IFDs), without the
    ``Exif\\0\\0`` prefix a JPEG puts before it."""
    main: dict[int, Any] = {**meta.main, ORIENTATION: meta.orientation}
    subs = [(pointer, ifd) for pointer, ifd in ((EXIF_IFD, meta.exif), (GPS_IFD, meta.gps)) if ifd]
    for pointer, _ in subs:
        main[pointer] = 0  # a LONG of fixed size: the main IFD's length does not depend on it
    header = b"II*\x00" + struct.pack("<I", 8)
    offset = 8 + len(_ifd_bytes(main, None, 8))
    blocks = []
    for pointer, values in subs:
        offset += offset % 2  # IFDs start on a word boundary
        main[pointer] = offset
        blocks.append(_ifd_bytes(values, pointer, offset))
        offset += len(blocks[-1])
    out = header + _ifd_bytes(main, None, 8)
    for block in blocks:
        out += b"\x00" * (len(out) % 2) + block
    return out


def encode_jpeg(hwc: np.ndarray, quality: int, meta: Metadata | None) -> bytes:
    """8-bit gray or RGB ``hwc`` as a JPEG at ``quality``, with ``meta``'s EXIF, XMP and ICC."""
    from PIL import Image

    extras: dict[str, Any] = {}
    if meta:
        extras = {"exif": b"Exif\x00\x00" + exif_block(meta), "icc_profile": meta.icc, "xmp": meta.xmp}
    buffer = io.BytesIO()
    picture = Image.fromarray(hwc, "L" if hwc.ndim == 2 else "RGB")
    try:
        picture.save(buffer, "JPEG", quality=quality, **{k: v for k, v in extras.items() if v})
    except ValueError as exc:  # a block above one JPEG segment's 64 KB: the pixels matter more
        warnings.warn(f"metadata not written ({exc})", stacklevel=2)
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def embed_png(encoded: bytes, meta: Metadata | None) -> bytes:
    """An encoded PNG with ``meta``'s ICC (``iCCP``), EXIF (``eXIf``) and XMP (``iTXt``) after its header."""
    if not meta:
        return encoded
    chunks = b""
    if meta.icc:
        chunks += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(meta.icc))
    chunks += _png_chunk(b"eXIf", exif_block(meta))
    if meta.xmp:
        chunks += _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + meta.xmp)
    header_end = 8 + 8 + 13 + 4  # signature, IHDR (length, type, 13 bytes, CRC): always first
    return encoded[:header_end] + chunks + encoded[header_end:]


def tiff_arguments(meta: Metadata) -> dict[str, Any]:
    """``tifffile.imwrite`` keyword arguments that write ``meta``'s main-IFD tags, XMP and ICC,
    with stand-ins for the Exif and GPS IFD pointers that :func:`append_sub_ifds` fills in."""
    tags: list[tuple[int, Any, int, Any, bool]] = []
    for tag, value in sorted(meta.main.items()):
        if tag in _TEXT_TAGS:
            tags.append((tag, "s", 0, str(value).encode("utf-8", "replace"), True))
    tags.append((ORIENTATION, "H", 1, meta.orientation, True))
    if meta.xmp:
        tags.append((XMP_TAG, "B", len(meta.xmp), meta.xmp, True))
    if meta.icc:
        tags.append((ICC_TAG, 7, len(meta.icc), meta.icc, True))  # UNDEFINED
    tags += pointer_tags(meta)
    arguments: dict[str, Any] = {"extratags": tags}
    software = meta.main.get(SOFTWARE)
    if software:
        arguments["software"] = str(software)
    x, y, unit = meta.main.get(282), meta.main.get(283), meta.main.get(296)
    if x and y:  # tifffile writes the resolution tags itself
        arguments["resolution"] = (_fraction(x), _fraction(y))
        arguments["resolutionunit"] = unit if unit in (1, 2, 3) else 2
    return arguments


def pointer_tags(meta: Metadata) -> list[tuple[int, str, int, int, bool]]:
    """tifffile ``extratags``: the stand-ins for the Exif and GPS IFD pointers of ``meta``."""
    return [(_STAND_IN[pointer], "I", 1, 0, True) for pointer, ifd in ((EXIF_IFD, meta.exif), (GPS_IFD, meta.gps)) if ifd]


def _fraction(value: Any) -> tuple[int, int]:
    from fractions import Fraction

    fraction = Fraction(float(value)).limit_denominator(1_000_000)
    return fraction.numerator, fraction.denominator


def append_sub_ifds(path: Path, meta: Metadata) -> None:
    """Serialise ``meta``'s Exif and GPS IFDs at the end of the TIFF (or DNG) at ``path``, which
    :func:`tiff_arguments` wrote, and turn its stand-in tags into the pointers to them."""
    import tifffile

    wanted = {pointer: ifd for pointer, ifd in ((EXIF_IFD, meta.exif), (GPS_IFD, meta.gps)) if ifd}
    if not wanted:
        return
    with tifffile.TiffFile(path) as tif:
        if tif.is_bigtiff or tif.byteorder != "<":  # Pillow writes classic little-endian IFDs
            raise ZooError(f"cannot write {path.name}: its Exif and GPS tags fit a classic TIFF, not a BigTIFF; "
                           "give --strip-metadata")
        tags = tif.pages.first.tags
        where = {pointer: (tags[_STAND_IN[pointer]].offset, tags[_STAND_IN[pointer]].valueoffset) for pointer in wanted}
    with open(path, "r+b") as handle:
        for pointer, values in wanted.items():
            end = handle.seek(0, io.SEEK_END)
            if end % 2:  # IFDs start on a word boundary
                handle.write(b"\x00")
                end += 1
            handle.write(_ifd_bytes(values, pointer, end))
            entry, value = where[pointer]
            handle.seek(entry)
            handle.write(struct.pack("<H", pointer))
            handle.seek(value)
            handle.write(struct.pack("<I", end))
