"""Image files in and out of ``zoo denoise``: float32 arrays in [0, 1], written back at the file's depth.

``read_image`` picks the reader from the suffix and returns an :class:`Image`: the pixels as float32
in [0, 1], ``(H, W)`` for one channel or ``(C, H, W)`` (channels first, RGB order) for several, plus
what ``write_image`` needs to write a result the same way.

- PNG (``.png``): gray or RGB, 8 or 16 bits; 1/2/4-bit and palette files expand to 8 bits.
- JPEG (``.jpg``, ``.jpeg``): gray or RGB, 8 bits, as OpenCV's libjpeg decodes it. Written (by
  Pillow, which also writes the EXIF, XMP and ICC segments) only when asked for by name, at
  ``quality`` (default :data:`JPEG_QUALITY`): ``zoo denoise`` writes a JPEG's result as PNG by
  default, since JPEG would add new artefacts to the denoised image.
- TIFF (``.tif``, ``.tiff``): one gray or RGB image, 8/16-bit unsigned or float (``bit_depth`` 32).
  Without imagecodecs, tifffile lacks LZW and PackBits: OpenCV decodes those, checked against
  the layout tifffile reports.
- NumPy (``.npy``): ``(H, W)`` or ``(C, H, W)`` as stored, or a packed Bayer mosaic ``(H, W, 4)``
  (channel k = position k of the 2x2 tile) read as the ``(2H, 2W)`` mosaic and written back packed;
  floats are taken as [0, 1], unsigned
  integers are divided by their dtype's max as PNG and TIFF samples are (``bit_depth`` is the
  dtype's bits). Signed integers have no such scale (is int16 data 0-1023 or -32768-32767?) and
  are refused, as are booleans.
- Camera raw (``.dng``, ``.nef``, ``.cr2``, ``.arw``, ``.raf``, ... through rawpy; a file without a
  raw header, which LibRaw would identify by its size alone, is refused: :mod:`zoo.raw.mosaic`): the visible CFA
  mosaic ``(H, W)``, less the black level of each pixel's CFA channel, divided by
  ``white - black``, clipped; ``bit_depth`` 16, the depth a result is written at.

An alpha channel (PNG or TIFF) is dropped on reading: denoising acts on colour, and the result is
written without alpha. Other extra TIFF samples (a 5-plane TIFF) are refused, never dropped.
An image above :attr:`zoo.limits.Limits.max_pixels` (about 268 megapixels; ``ZOO_MAX_PIXELS``
changes it) is refused from its header, before it is decoded. Float files may stray a little
outside [0, 1] (noise around black and white) and are clipped; data far outside (a 0-255 or
0-65535 float image) is refused rather than wiped out.

``write_image`` picks the format from the output suffix (``.png``, ``.tif``/``.tiff``, ``.npy``) and
keeps the input's depth, always atomically. PNG, JPEG and TIFF files carry their metadata (EXIF,
XMP, ICC) in ``Image.metadata``; ``write_image(..., metadata=...)`` writes it into a PNG, JPEG or
TIFF (:mod:`zoo.metadata`, which also says how orientation is handled). Camera raw inputs are written as a 16-bit mosaic (PNG or
TIFF) or a float32 normalised mosaic (``.npy``); camera raw formats themselves are never written.
PNG holds 8 or 16 bits only, so float inputs become 16-bit PNG. Every failure caused by the file
or its name is a :class:`~zoo.errors.ZooError` with a one-line message naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import tifffile

from zoo.errors import ZooError, first_line
from zoo.fileio import atomic_path
from zoo.install import pip_hint
from zoo.limits import check_pixels
from zoo.metadata import Metadata, append_sub_ifds, embed_png, encode_jpeg, read_metadata, tiff_arguments
from zoo.raw.libraw import open_raw
from zoo.raw.mosaic import pack, unpack

Format = Literal["png", "jpeg", "tiff", "npy", "raw"]

_SUFFIXES: dict[str, Format] = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff",
                                ".npy": "npy"}
JPEG_QUALITY = 95
# Raw formats LibRaw reads. Foveon (.x3f) files open but hold no CFA mosaic and are refused.
RAW_SUFFIXES = frozenset(
    ".3fr .arw .cr2 .cr3 .crw .dcr .dng .erf .fff .gpr .iiq .kdc .mef .mos .mrw .nef .nrw .orf "
    ".pef .raf .raw .rw2 .rwl .sr2 .srf .srw .x3f".split()
)
_READABLE = ".png, .jpg, .jpeg, .tif, .tiff, .npy or a camera raw file (.dng, .nef, .cr2, .arw, .raf, .orf, .rw2, ...)"
_WRITABLE = ".png, .jpg, .jpeg, .tif, .tiff or .npy"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_GRAY_TYPES = (0, 4)  # IHDR colour types: gray, gray + alpha (OpenCV expands these to BGR(A))
# Float files more than this outside [0, 1] are on another scale; clipping would destroy them.
_FLOAT_TOLERANCE = 0.5


@dataclass(frozen=True, eq=False)
class Image:
    """Pixels as float32 in [0, 1] and how they were stored.

    ``data`` is ``(H, W)`` or ``(C, H, W)``, channels first in RGB order. ``bit_depth`` is 8 or 16
    for integer files, 32 for float files (and the dtype's bits for integer ``.npy``); ``dtype``
    is the stored sample type. For camera raw: ``black_level`` per position of the CFA repeat
    tile (row-major, aligned with ``cfa_pattern``, e.g. 'RGGB'), ``white_level`` in raw units.
    ``metadata``: the file's EXIF, XMP and ICC (PNG, JPEG, TIFF; the pixels are as stored, not
    yet turned by the EXIF orientation: :func:`zoo.metadata.orient`).
    """

    data: np.ndarray
    format: Format
    bit_depth: int
    dtype: str
    black_level: tuple[float, ...] | None = None
    white_level: float | None = None
    cfa_pattern: str | None = None
    metadata: Metadata = Metadata()
    packed: bool = False  # an (H, W, 4) packed mosaic, read as (2H, 2W)


def read_image(path: str | os.PathLike[str]) -> Image:
    """Read a PNG, TIFF, ``.npy`` or camera raw file (chosen by suffix) into an :class:`Image`."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in _SUFFIXES and suffix not in RAW_SUFFIXES:
        raise ZooError(f"cannot read {file}: unknown image suffix {suffix or '(none)'!r}; expected {_READABLE}")
    if not file.exists():
        raise ZooError(f"image file not found: {file}")
    if not file.is_file():
        raise ZooError(f"cannot read {file}: not a regular file")
    readers = {"png": _read_png, "jpeg": _read_jpeg, "tiff": _read_tiff, "npy": _read_npy}
    reader = _read_raw if suffix in RAW_SUFFIXES else readers[_SUFFIXES[suffix]]
    try:
        image = reader(file)
    except OSError as exc:  # permissions, I/O errors: the user's to fix, not a traceback
        raise ZooError(f"cannot read {file}: {first_line(exc)}") from exc
    metadata = read_metadata(file, image.format)
    return replace(image, metadata=metadata) if metadata else image


def readable_suffixes() -> frozenset[str]:
    """Every suffix :func:`read_image` takes (lower case, with the dot)."""
    return frozenset(_SUFFIXES) | RAW_SUFFIXES


def check_writable(path: str | os.PathLike[str]) -> Format:
    """The format ``path``'s suffix names (``png``, ``tiff``, ``npy``), or a :class:`ZooError`."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in _SUFFIXES:
        hint = "; camera raw formats are read-only" if suffix in RAW_SUFFIXES else ""
        raise ZooError(f"cannot write {file}: unknown image suffix {suffix or '(none)'!r}; expected {_WRITABLE}{hint}")
    return _SUFFIXES[suffix]


def write_image(path: str | os.PathLike[str], data: np.ndarray, like: Image, *, metadata: Metadata | None = None,
                quality: int = JPEG_QUALITY) -> Path:
    """Write ``data`` (float, [0, 1], clipped; layout as ``Image.data``) to ``path`` at ``like``'s depth.

    The format follows ``path``'s suffix; the write is atomic (a reader never sees a partial file).
    Samples: 8 or 16 bits as ``like`` (rounded to nearest); float and wider inputs give float32
    TIFF and 16-bit PNG; ``.npy`` keeps an ``.npy`` input's dtype and is float32 for camera raw.
    ``metadata`` is written as it is into a PNG, JPEG or TIFF (:func:`zoo.metadata.for_output`
    prepares it); ``quality`` is the JPEG quality (1-100).
    """
    file = Path(path)
    fmt = check_writable(file)
    array = np.asarray(data)
    if not np.issubdtype(array.dtype, np.floating):
        raise ZooError(f"cannot write {file}: expected float data in [0, 1], got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ZooError(f"cannot write {file}: the data contains NaN or infinity")
    if fmt == "npy" and array.ndim not in (2, 3):
        raise ZooError(f"cannot write {file}: expected (H, W) or (C, H, W) data, got shape {array.shape}")
    if fmt == "npy" and like.packed and array.ndim == 2 and not (array.shape[0] % 2 or array.shape[1] % 2):
        array = pack(array)  # as the input was laid out
    stored = _quantise(array if fmt == "npy" else _to_hwc(array, file), _output_dtype(fmt, like))
    try:
        with atomic_path(file) as tmp:
            if fmt == "npy":
                with open(tmp, "wb") as handle:
                    np.save(handle, stored)  # a handle: given a name, np.save appends '.npy' to it
            elif fmt == "jpeg":
                tmp.write_bytes(encode_jpeg(stored, quality, metadata))
            elif fmt == "png":
                _write_png(tmp, stored, file, metadata)
            else:
                _write_tiff(tmp, stored, metadata)
    except OSError as exc:  # an unwritable folder, a full disk
        raise ZooError(f"cannot write {file}: {first_line(exc)}") from exc
    return file


def _output_dtype(fmt: Format, like: Image) -> np.dtype:
    if fmt == "jpeg":  # baseline JPEG holds 8 bits
        return np.dtype(np.uint8)
    if fmt == "npy" and like.format == "npy":
        return np.dtype(like.dtype)
    if fmt == "npy" and like.format == "raw":
        return np.dtype(np.float32)
    if like.bit_depth in (8, 16):
        return np.dtype(f"uint{like.bit_depth}")
    # Float and wide-integer inputs: PNG's deepest is 16-bit; TIFF keeps float32.
    return np.dtype(np.uint16 if fmt == "png" else np.float32)


def _quantise(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Clip to [0, 1]; for integer dtypes scale by the dtype's max and round to nearest."""
    if np.issubdtype(dtype, np.floating):
        return np.clip(array, 0.0, 1.0).astype(dtype, order="C")
    top = np.iinfo(dtype).max
    # In float64: a float32 product can land on the wrong side of a half level. Above 53 bits
    # (64-bit integers) float64 cannot hold the maximum: round, then clip to the largest float
    # below it before the cast, which would otherwise wrap.
    work = np.clip(array, 0.0, 1.0, dtype=np.float64)
    work *= top
    np.rint(work, out=work)
    np.minimum(work, np.nextafter(float(top), 0.0) if float(top) > top else top, out=work)
    return work.astype(dtype, order="C")


def _to_hwc(array: np.ndarray, file: Path) -> np.ndarray:
    """``(H, W)``/``(1, H, W)`` -> ``(H, W)``; ``(3, H, W)`` -> ``(H, W, 3)``, the encoders' layout.

    A view: ``_quantise`` makes the contiguous copy the encoders need.
    """
    if array.ndim == 3 and array.shape[0] == 1:
        return array[0]
    if array.ndim == 2:
        return array
    if array.ndim == 3 and array.shape[0] == 3:
        return np.moveaxis(array, 0, -1)
    raise ZooError(f"cannot write {file}: expected gray (H, W) or RGB (3, H, W) data, got shape {array.shape}")


def _write_png(tmp: Path, hwc: np.ndarray, file: Path, metadata: Metadata | None) -> None:
    bgr = hwc[..., ::-1] if hwc.ndim == 3 else hwc  # OpenCV's channel order is BGR
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(bgr))
    if not ok:  # OpenCV wants contiguous rows (above)
        raise ZooError(f"cannot write {file}: OpenCV failed to encode the PNG")
    tmp.write_bytes(embed_png(encoded.tobytes(), metadata))


def _write_tiff(tmp: Path, hwc: np.ndarray, metadata: Metadata | None) -> None:
    photometric = "rgb" if hwc.ndim == 3 else "minisblack"
    if not metadata:
        tifffile.imwrite(tmp, hwc, photometric=photometric, compression="zlib", metadata=None)
        return
    tifffile.imwrite(tmp, hwc, photometric=photometric, compression="zlib", metadata=None, **tiff_arguments(metadata))
    append_sub_ifds(tmp, metadata)


def _from_integers(array: np.ndarray) -> np.ndarray:
    top = np.iinfo(array.dtype).max
    out: np.ndarray = array.astype(np.float32 if top <= 65535 else np.float64)
    out /= top
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)  # signed dtypes go below 0


def _from_floats(array: np.ndarray, file: Path) -> np.ndarray:
    if not np.isfinite(array).all():
        raise ZooError(f"cannot read {file}: the float data contains NaN or infinity")
    low, high = float(array.min(initial=0.0)), float(array.max(initial=0.0))
    if low < -_FLOAT_TOLERANCE or high > 1.0 + _FLOAT_TOLERANCE:
        raise ZooError(f"cannot read {file}: float data must be normalised to [0, 1], found values in [{low:g}, {high:g}]")
    return np.clip(array, 0.0, 1.0).astype(np.float32)


def _read_png(file: Path) -> Image:
    raw = file.read_bytes()
    # OpenCV decodes any format it recognises; insist on a PNG header so a renamed JPEG is refused.
    if len(raw) < 26 or raw[:8] != _PNG_SIGNATURE or raw[12:16] != b"IHDR":
        raise ZooError(f"cannot read {file}: not a PNG file (no PNG signature and header)")
    bit_depth, colour_type = raw[24], raw[25]
    check_pixels(int.from_bytes(raw[20:24], "big"), int.from_bytes(raw[16:20], "big"), f"cannot read {file}: the image")
    decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise ZooError(f"cannot read {file}: the PNG data is corrupt or truncated")
    if colour_type in _PNG_GRAY_TYPES:
        pixels = decoded if decoded.ndim == 2 else decoded[..., 0]
    else:
        pixels = np.moveaxis(decoded[..., 2::-1], -1, 0)  # BGR(A) -> RGB, alpha dropped
    depth = 16 if bit_depth == 16 else 8
    return Image(_from_integers(pixels), "png", depth, str(pixels.dtype))


def _read_jpeg(file: Path) -> Image:
    raw = file.read_bytes()
    if raw[:3] != b"\xff\xd8\xff":  # the SOI marker: a renamed PNG or TIFF is refused, not guessed
        raise ZooError(f"cannot read {file}: not a JPEG file (no JPEG start-of-image marker)")
    size = _jpeg_size(raw)
    if size is not None:
        check_pixels(*size, f"cannot read {file}: the image")
    decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise ZooError(f"cannot read {file}: the JPEG data is corrupt or truncated")
    if decoded.ndim == 3 and decoded.shape[-1] == 1:
        decoded = decoded[..., 0]
    if decoded.ndim == 3:  # BGR (CMYK JPEGs are converted by OpenCV) -> RGB, channels first
        decoded = np.moveaxis(decoded[..., 2::-1], -1, 0)
    if decoded.dtype != np.uint8:
        raise ZooError(f"cannot read {file}: expected an 8-bit JPEG, got {decoded.dtype}")
    return Image(_from_integers(decoded), "jpeg", 8, "uint8")


# JPEG start-of-frame markers (SOF0-SOF15 but DHT, JPG and DAC), which carry the image's size.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(raw: bytes) -> tuple[int, int] | None:
    """``(height, width)`` from a JPEG's frame header, without decoding; None if not found."""
    i = 2
    while i + 4 <= len(raw):
        if raw[i] != 0xFF:
            return None
        marker = raw[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        elif marker in _JPEG_SOF:
            if i + 9 > len(raw):
                return None
            return int.from_bytes(raw[i + 5:i + 7], "big"), int.from_bytes(raw[i + 7:i + 9], "big")
        else:
            i += 2 + int.from_bytes(raw[i + 2:i + 4], "big")
    return None


def _read_tiff(file: Path) -> Image:
    try:
        with tifffile.TiffFile(file) as tif:
            if not tif.pages:
                raise ZooError(f"cannot read {file}: the TIFF holds no image")
            count = len(tif.series[0].pages) if tif.series else 1
            if count > 1:
                raise ZooError(f"cannot read {file}: expected one image, the TIFF holds a stack of {count}")
            page = tif.pages.first
            channels = _tiff_colour_channels(page, file)  # layout checked before any decoding
            check_pixels(int(page.imagelength), int(page.imagewidth), f"cannot read {file}: the image")
            pixels = _decode_tiff_page(page, file)
    except ZooError:
        raise
    except Exception as exc:  # tifffile and its codecs raise many types for bad bytes
        raise ZooError(f"cannot read {file}: not a readable TIFF ({first_line(exc)})") from exc
    planes = np.moveaxis(pixels, -1, 0) if page.axes == "YXS" else pixels
    if planes.ndim == 3:
        planes = planes[0] if channels == 1 else planes[:channels]  # alpha dropped (the only extra sample let in)
    if np.issubdtype(planes.dtype, np.floating):
        return Image(_from_floats(planes, file), "tiff", 32, str(planes.dtype))
    return Image(_from_integers(planes), "tiff", planes.dtype.itemsize * 8, str(planes.dtype))


def _tiff_colour_channels(page: tifffile.TiffPage, file: Path) -> int:
    """1 for a gray page, 3 for RGB; a ZooError for any other layout or sample type."""
    photometric = page.photometric
    if photometric == tifffile.PHOTOMETRIC.CFA:
        raise ZooError(f"cannot read {file}: it holds a camera raw CFA mosaic; give it the .dng suffix")
    if page.axes not in ("YX", "YXS", "SYX"):
        raise ZooError(f"cannot read {file}: expected a 2-D gray or RGB TIFF image, got axes {page.axes!r}")
    channels = page.samplesperpixel - len(page.extrasamples)
    # ExtraSamples: 1 and 2 are alpha; 0 is data of no stated meaning, which dropping would lose.
    alpha = [kind for kind in page.extrasamples if int(kind) in (1, 2)]
    if len(page.extrasamples) > 1 or len(alpha) != len(page.extrasamples):
        raise ZooError(f"cannot read {file}: the TIFF has {page.samplesperpixel} samples per pixel "
                       f"({len(page.extrasamples)} extra beyond gray or RGB); zoo reads gray or RGB, with at most "
                       "one alpha channel")
    colour_channels: dict[int, int] = {tifffile.PHOTOMETRIC.MINISBLACK: 1, tifffile.PHOTOMETRIC.RGB: 3}
    wanted = colour_channels.get(photometric)
    if channels != wanted:
        name = getattr(photometric, "name", photometric)
        raise ZooError(f"cannot read {file}: expected a gray or RGB TIFF, got {name} with {channels} colour channel(s)")
    dtype = page.dtype  # None for sample formats numpy has no type for
    if dtype is None or not (dtype in (np.uint8, np.uint16) or np.issubdtype(dtype, np.floating)):
        raise ZooError(f"cannot read {file}: expected 8- or 16-bit unsigned or float TIFF samples, got {page.dtype}")
    return channels


def _decode_tiff_page(page: tifffile.TiffPage, file: Path) -> np.ndarray:
    """Decode with tifffile; for codecs it lacks without imagecodecs (LZW, PackBits, JPEG) use OpenCV."""
    if page.compression in tifffile.TIFF.DECOMPRESSORS:
        return page.asarray()
    # OpenCV's libtiff reads the common compressed TIFFs; its result must match what tifffile
    # promised, since libtiff silently turns layouts it does not know into 8-bit RGBA.
    decoded = cv2.imdecode(np.fromfile(file, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is not None and decoded.ndim == 3 and decoded.shape[2] in (3, 4):
        decoded = decoded[..., [2, 1, 0, 3][: decoded.shape[2]]]  # BGR(A) -> RGB(A)
    if decoded is None or decoded.shape != page.shape or decoded.dtype != page.dtype:
        codec = getattr(page.compression, "name", page.compression)
        raise ZooError(f"cannot read {file}: its {codec} compression needs imagecodecs: {pip_hint('imagecodecs')}")
    return decoded


def _read_npy(file: Path) -> Image:
    try:  # mapped, not read: the shape is checked before the data is
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # truncated or foreign files raise ValueError, EOFError, OSError, ...
        raise ZooError(f"cannot read {file}: not a readable .npy array ({first_line(exc)})") from exc
    if not isinstance(array, np.ndarray):
        array.close()  # np.load opened an .npz archive
        raise ZooError(f"cannot read {file}: expected one array, not an .npz archive")
    if array.size == 0:
        raise ZooError(f"cannot read {file}: the array is empty (shape {array.shape})")
    packed = array.ndim == 3 and array.shape[-1] == 4 < array.shape[0]
    if array.ndim == 3 and array.shape[-1] < 4 < array.shape[0]:
        raise ZooError(f"cannot read {file}: shape {array.shape} looks channels-last; expected (C, H, W), "
                       "or (H, W, 4) for a packed Bayer mosaic")
    if array.ndim not in (2, 3):
        raise ZooError(f"cannot read {file}: expected an (H, W) or (C, H, W) array, got shape {array.shape}")
    height, width = (2 * array.shape[0], 2 * array.shape[1]) if packed else array.shape[-2:]
    check_pixels(height, width, f"cannot read {file}: the image")
    if np.issubdtype(array.dtype, np.signedinteger):
        raise ZooError(f"cannot read {file}: {array.dtype} data has no defined scale; store unsigned integers "
                       "(divided by their dtype's maximum) or floats in [0, 1]")
    array = np.array(array)  # read now, into memory (the file may change or go)
    if packed:
        array = unpack(array)
    if np.issubdtype(array.dtype, np.unsignedinteger):
        return Image(_from_integers(array), "npy", array.dtype.itemsize * 8, str(array.dtype), packed=packed)
    if np.issubdtype(array.dtype, np.floating):
        return Image(_from_floats(array, file), "npy", 32, str(array.dtype), packed=packed)
    raise ZooError(f"cannot read {file}: expected an unsigned integer or float array, got dtype {array.dtype}")


def _read_raw(file: Path) -> Image:
    with open_raw(file, what="reading camera raw file") as raw:
        return _normalise_mosaic(raw, file)


def _normalise_mosaic(raw: Any, file: Path) -> Image:
    """Black-subtract and white-normalise a ``rawpy.RawPy``'s visible mosaic, per CFA channel."""
    pattern = raw.raw_pattern
    mosaic = np.asarray(raw.raw_image_visible)  # a view into LibRaw's buffer: used before closing
    if pattern is None or mosaic.ndim != 2:  # linear DNG, Foveon: no mosaic (and no colour map)
        raise ZooError(f"cannot read {file}: it holds no colour-filter-array mosaic (linear or Foveon raw)")
    colours = np.asarray(raw.raw_colors_visible)
    per_channel = np.asarray(raw.black_level_per_channel, dtype=np.float32)
    white = float(raw.white_level)
    # Black levels are indexed by LibRaw colour number (0..3); map them onto the pixels.
    black = per_channel[colours]
    if white <= float(black.max(initial=0.0)):
        raise ZooError(f"cannot read {file}: white level {white:g} is not above the black level")
    data = mosaic.astype(np.float32)
    data -= black
    data /= white - black
    np.clip(data, 0.0, 1.0, out=data)

    rows, cols = np.shape(pattern)
    tile = colours[:rows, :cols]  # the pattern as seen from the visible area's top-left corner
    desc = bytes(raw.color_desc).decode("ascii", errors="replace")
    cfa = "".join(desc[c] for c in tile.flat)
    return Image(data, "raw", 16, "uint16", tuple(float(b) for b in per_channel[tile].flat), white, cfa)
