"""One input file through `zoo denoise` / `zoo ort`: what it is, the model it needs, what is written.

- Camera raw in: the mosaic is denoised in the model's CFA phase, then written as asked by the
  output's suffix: ``.dng`` a DNG in the input's raw units and description; ``.png``, ``.jpg``
  or ``.tif`` developed by LibRaw as the camera's file would be (``--raw-output mosaic``: the
  normalised 16-bit mosaic instead, for pipelines); ``.npy`` the normalised float32 mosaic.
- A raw model (1 input channel) takes camera raw files, ``.npy`` mosaics (RGGB unless
  ``--mosaic``), and grey PNG/TIFF/JPEG only with ``--mosaic PATTERN``; anything else is one line
  naming the model that fits.
- A PNG/TIFF/``.npy`` mosaic (or a headerless raw file, with ``--raw-geometry``) is read at the
  levels ``--black-level``/``--white-level``/``--bit-depth`` give (:mod:`zoo.raw.mosaic`), written
  back in its own units, and as a DNG (``-o x.dng``) given ``--mosaic`` and its levels.
- ``--compare``: the noisy and denoised images side by side (developed, for raw inputs).
- Metadata (:mod:`zoo.metadata`): a picture is turned upright by its EXIF orientation before it
  is denoised, and its EXIF, XMP and ICC are written with the result (Orientation 1, Software
  zoo) into a PNG, JPEG or TIFF; a mosaic keeps its orientation tag, unturned.
  ``--strip-metadata`` writes none.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zoo.ops.bayer import CFA_PATTERNS
from zoo.errors import ZooError
from zoo.imageio import JPEG_QUALITY, RAW_SUFFIXES, Image, check_writable, read_image, write_image
from zoo.metadata import for_output, orient
from zoo.ops.noiselevel import NoiseLevel
from zoo.raw import mosaic
from zoo.raw.phase import MODEL_PATTERN, check_bayer, from_phase, to_phase

# Models named in messages: the raw model that ships weights, and the sRGB one for photographs.
RAW_MODEL = "mwrcanet-demo"
SRGB_MODEL = "mwrcanet-srgb-demo"
RAW_OUTPUTS = ("developed", "mosaic")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

# (image, the noise level its file gives or None) -> the denoised image
Denoiser = Callable[[np.ndarray, NoiseLevel | None], np.ndarray]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The raw and comparison options of `zoo denoise` and `zoo ort`."""
    parser.add_argument("--raw-output", choices=RAW_OUTPUTS, default="developed",
                        help="a camera raw input written as .png/.jpg/.tif: developed by LibRaw (default) or the "
                        "normalised 16-bit mosaic, for pipelines (.dng is always a DNG, .npy the float mosaic)")
    parser.add_argument("--mosaic", type=str.upper, choices=CFA_PATTERNS, metavar="PATTERN",
                        help=f"the grey PNG/TIFF/.npy inputs are Bayer mosaics in this pattern ({'|'.join(CFA_PATTERNS)}); "
                        "a raw model takes PNG/TIFF only so (.npy: RGGB by default)")
    mosaic.add_arguments(parser)
    parser.add_argument("--compare", action="store_true",
                        help="write the noisy and the denoised image side by side (camera raw: both developed)")
    parser.add_argument("--strip-metadata", action="store_true",
                        help="write no EXIF, XMP or ICC profile (by default a PNG/JPEG/TIFF result carries the "
                        "input's, with zoo as the Software; pictures are always turned upright by their EXIF "
                        "orientation and written with orientation 1)")
    parser.add_argument("--quality", type=_quality, default=JPEG_QUALITY, metavar="1-100",
                        help=f"JPEG quality of .jpg outputs (default {JPEG_QUALITY})")


def _quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 100, got {text!r}")
    return value


def check_target(source: Path, target: Path, args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that ``source`` cannot be written as."""
    is_raw = source.suffix.lower() in RAW_SUFFIXES
    suffix = target.suffix.lower()
    if suffix == ".dng":
        if not is_raw and not getattr(args, "mosaic", None):
            raise ZooError(f"cannot write {target}: a DNG holds a camera raw result, and {source.name} is not a camera raw "
                           "file; give --mosaic PATTERN and its levels (--bit-depth or --white-level) if it holds a mosaic")
    else:
        check_writable(target)
    mosaic_out = suffix in (".dng", ".npy") or (is_raw and args.raw_output == "mosaic")
    if is_raw and args.raw_output == "mosaic" and suffix in (".jpg", ".jpeg"):
        raise ZooError(f"cannot write {target}: --raw-output mosaic writes .tif, .png or .npy (JPEG holds 8 bits)")
    if getattr(args, "compare", False) and mosaic_out:
        raise ZooError(f"cannot write {target}: --compare writes a picture (.png, .jpg, .tif), not a mosaic or DNG")


def denoise_file(source: Path, target: Path, args: argparse.Namespace, run: Denoiser, *,
                 in_channels: int | None, label: str, software: str = "zoo") -> None:
    """Read ``source``, denoise it with ``run`` (float image in [0, 1] -> same) and write ``target``."""
    from zoo.raw.meta import noise_profile  # zoo.raw.meta and the rest of the raw writers below: see _write_raw

    image = _read(source, args)
    kind = "raw" if image.format == "raw" else "mosaic" if _is_mosaic(source, image, args, in_channels, label) else "picture"
    if kind == "raw" and in_channels not in (None, 1):
        raise ZooError(f"{source.name} is a camera raw file (a Bayer mosaic) and {label} takes {in_channels}-channel "
                       f"images: use a raw model (1 input channel), e.g. {RAW_MODEL}")
    noisy, orientation = image.data, image.metadata.orientation
    if kind == "picture":  # upright before denoising: the result is written with orientation 1
        noisy, orientation = orient(image.data, orientation), 1
        result = run(noisy, None)
    else:
        pattern = image.cfa_pattern if kind == "raw" else (args.mosaic or "RGGB")
        top = _stored_top(image)
        found = None if kind == "raw" else _mosaic_levels(source, image, args, top)
        noisy = noisy if found is None else found.normalise(noisy.astype(np.float64) * top)
        pattern = check_bayer(pattern, source.name)
        padded, offset = to_phase(noisy, pattern)
        level = noise_profile(source, MODEL_PATTERN) if kind == "raw" else None  # per position, in the model's phase
        result = np.ascontiguousarray(from_phase(run(padded, level), offset))
        if found is not None and target.suffix.lower() == ".dng":
            _write_mosaic_dng(source, target, image, result, found, top, pattern, args, software)
            return
        if found is not None:  # back in the file's own units
            noisy, result = image.data, (found.restore(result) / top).astype(np.float32)
    if kind == "raw" and (target.suffix.lower() == ".dng" or
                          (target.suffix.lower() in PICTURE_SUFFIXES and args.raw_output == "developed")):
        _write_raw(source, target, image.data, result, args, software)
        return
    picture = np.concatenate([noisy, result], axis=-1) if args.compare else result
    metadata = None if getattr(args, "strip_metadata", False) else \
        for_output(image.metadata, software=software, size=picture.shape[-2:], orientation=orientation)
    write_image(target, picture, like=image, metadata=metadata, quality=getattr(args, "quality", JPEG_QUALITY))


def _read(source: Path, args: argparse.Namespace) -> Image:
    """``source`` as :func:`zoo.imageio.read_image` reads it, or as a headerless mosaic (``--raw-geometry``)."""
    geometry = getattr(args, "raw_geometry", None)
    if geometry is None or source.suffix.lower() not in RAW_SUFFIXES:
        return read_image(source)
    mosaic.pattern_of(args, None, f"{source.name} (a raw file read with --raw-geometry)")
    try:
        values, bits = mosaic.read_headerless(source, geometry)
    except OSError as exc:
        raise ZooError(f"cannot read {source}: {exc.strerror or exc}") from exc
    return Image((values / np.float32(2 ** bits - 1)).astype(np.float32), "tiff", bits, str(values.dtype))


def _stored_top(image: Image) -> float:
    """What 1.0 in ``image.data`` stands for in the file: its integer type's maximum, 1 for floats."""
    if image.format == "raw" or not np.issubdtype(np.dtype(image.dtype), np.integer):
        return 1.0
    return float(np.iinfo(np.dtype(image.dtype)).max)


def _mosaic_levels(source: Path, image: Image, args: argparse.Namespace, top: float) -> mosaic.Levels:
    """The levels of a PNG/TIFF/.npy mosaic; a warning when none were given and they look wrong."""
    found = mosaic.levels(args, top, source.name)
    hint = mosaic.check_range(image.data.astype(np.float64) * top, found, mosaic.levels_given(args), source.name)
    if hint:
        print(f"zoo: warning: {hint}", file=sys.stderr)
    return found


def _is_mosaic(source: Path, image, args: argparse.Namespace, in_channels: int | None, label: str) -> bool:
    """Whether a non-raw ``image`` is a Bayer mosaic: a raw model's grey input, as ``--mosaic`` or ``.npy`` says."""
    channels = 1 if image.data.ndim == 2 else image.data.shape[0]
    if in_channels != 1:
        if args.mosaic:
            raise ZooError(f"--mosaic is for raw models (1 input channel); {label} takes {in_channels or 'any'}-channel images")
        return False
    if channels != 1:
        raise ZooError(f"{label} takes 1-channel images, got {channels} channels in {source.name}: it is a raw model "
                       f"(Bayer mosaics); for photographs use an sRGB model such as {SRGB_MODEL}")
    if image.format == "npy" or args.mosaic:
        return True
    raise ZooError(f"{source.name} is a grey picture, not a camera raw file, and {label} is a raw model: give "
                   f"--mosaic {'|'.join(CFA_PATTERNS)} if it holds a Bayer mosaic; for photographs use an sRGB "
                   f"model such as {SRGB_MODEL}")


def _write_mosaic_dng(source: Path, target: Path, image: Image, result: np.ndarray, found: mosaic.Levels, top: float,
                      pattern: str, args: argparse.Namespace, software: str) -> None:
    """A described mosaic's result as a DNG: in its own units for integer samples (16 bits for floats)."""
    from zoo.raw.dng import write_dng  # imported here, as in _write_raw (which says why)
    from zoo.raw.meta import D65, RawMeta
    from zoo.raw.preview import from_mosaic

    if top > 1 and not mosaic.levels_given(args):
        raise ZooError(f"cannot write {target}: a DNG records the mosaic's white level: give --bit-depth or --white-level "
                       f"(and --black-level) for {source.name}")
    units = found if top > 1 else mosaic.Levels(0.0, 65535.0)  # float samples: written as 16 bits
    if units.white > 65535:
        raise ZooError(f"cannot write {target}: the white level {units.white:g} does not fit the DNG's 16-bit samples")
    meta = RawMeta(pattern=pattern, black_levels=(units.black,) * 4, white_level=units.white, shape=result.shape,
                   color_matrix=None, illuminant=D65, as_shot_neutral=None, orientation=image.metadata.orientation)
    write_dng(target, result, meta, software=software, preview=from_mosaic(result, pattern))


def _write_raw(source: Path, target: Path, noisy: np.ndarray, result: np.ndarray, args: argparse.Namespace,
               software: str) -> None:
    # Only camera files and DNG outputs need these: zoo.raw.meta, .dng (with .ljpeg), .preview and .develop add
    # 5 modules and 20-90 ms to every `zoo denoise` (python -X importtime, 2 busy cores; 2026-12-06).
    from zoo.raw.develop import develop, open_raw
    from zoo.raw.dng import to_raw_units, write_dng
    from zoo.raw.meta import read_meta
    from zoo.raw.preview import from_libraw

    with open_raw(source) as raw:
        meta = read_meta(raw, source)
        if target.suffix.lower() == ".dng":
            raw.raw_image_visible[...] = to_raw_units(result, meta)
            write_dng(target, result, meta, software=software, preview=from_libraw(raw))
            return
        bits = 8 if target.suffix.lower() in (".jpg", ".jpeg") else 16
        developed = develop(raw, [noisy, result] if args.compare else [result], meta, bits=bits)
    picture = np.concatenate(developed, axis=-1)
    write_image(target, picture, like=Image(picture, "tiff", bits, f"uint{bits}"))
