"""What a DNG needs to describe a camera mosaic, read from a raw file.

From any raw format, LibRaw (through rawpy) reports the CFA pattern, black and white levels,
the camera's XYZ-to-camera matrix, its as-shot white balance, the orientation and the exposure.
From a DNG input the DNG's own colour tags (both colour matrices, forward matrices, calibration,
profiles, baseline exposure, ...) are carried over as stored, read with tifffile; tags that
describe the stored pixels themselves (linearisation, masked areas, black level deltas,
OpcodeList1, the noise profile of the noisy data) are not, since the written mosaic is LibRaw's
linear, black-level-referenced data after denoising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from zoo.errors import ZooError, first_line
from zoo.metadata import Metadata, read_metadata
from zoo.ops.noiselevel import NoiseLevel
from zoo.raw.phase import check_bayer

D65 = 21  # EXIF LightSource: LibRaw's built-in camera matrices are Adobe's D65 ones
# How a DNG marks a colour matrix that is not the camera maker's or Adobe's (its ProfileName).
RECOVERED_NOTE = "zoo: the colour matrix LibRaw develops with (no camera matrix known)"
ASSUMED_NOTE = "zoo: camera RGB taken as linear sRGB (no colour matrix known)"

# sRGB (D65) to XYZ, as LibRaw's xyz_rgb: used to recover a camera matrix from LibRaw's rgb_cam.
_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]])

# LibRaw's flip code -> TIFF/EXIF Orientation (LibRaw reads Orientation through "50132467").
_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 3: 3, 2: 4, 4: 5, 6: 6, 7: 7, 5: 8}

# DNG tags of the main IFD carried over from a DNG input (colour and profile, camera identity).
CARRIED_MAIN = frozenset({
    271, 272, 306, 315, 33432,  # Make, Model, DateTime, Artist, Copyright
    50708, 50709,  # UniqueCameraModel, LocalizedCameraModel
    50721, 50722, 50723, 50724, 50725, 50726,  # ColorMatrix1/2, CameraCalibration1/2, ReductionMatrix1/2
    50727, 50728, 50729,  # AnalogBalance, AsShotNeutral, AsShotWhiteXY
    50730, 50731, 50732, 50734, 50735, 50736,  # BaselineExposure/Noise/Sharpness, LinearResponseLimit, serial, LensInfo
    50739, 50778, 50779, 50827,  # ShadowScale, CalibrationIlluminant1/2, OriginalRawFileName
    50931, 50932, 50934, 50936, 50937, 50938, 50939, 50940, 50941, 50942,  # signatures, profile name, hue/sat maps, tone curve
    50964, 50965, 50981, 50982, 51107, 51108, 51109, 51110,  # ForwardMatrix1/2, look table, encodings, offsets
    52529, 52530, 52531, 52532, 52533, 52534, 52537, 52538,  # DNG 1.6: the third illuminant and its matrices
})
# DNG tags of the raw IFD carried over: geometry and the later opcode lists, which act on the
# linear mosaic LibRaw reads (OpcodeList1 acts on the stored values before linearisation).
CARRIED_RAW = frozenset({
    50718, 50719, 50720,  # DefaultScale, DefaultCropOrigin, DefaultCropSize
    50733, 50738, 50780,  # BayerGreenSplit, AntiAliasStrength, BestQualityScale
    51009, 51022,  # OpcodeList2, OpcodeList3
    51125,  # DefaultUserCrop
})


@dataclass(frozen=True)
class RawMeta:
    """A raw file's mosaic description, in DNG terms.

    ``black_levels`` are per position of the 2x2 tile (row-major, as ``pattern``) in raw units;
    ``color_matrix`` maps XYZ to camera RGB under ``illuminant``; ``as_shot_neutral`` is the
    camera RGB of a neutral grey (the inverse of the white-balance multipliers, green 1).
    ``carried`` holds DNG tags ``(code, dtype, count, value)`` copied as stored from a DNG input.
    """

    pattern: str
    black_levels: tuple[float, float, float, float]
    white_level: float
    shape: tuple[int, int]
    color_matrix: np.ndarray | None
    illuminant: int
    as_shot_neutral: tuple[float, float, float] | None
    orientation: int
    exif: dict[str, Any] = field(default_factory=dict)
    carried: tuple[tuple[int, int, int, Any], ...] = ()
    source_is_dng: bool = False
    matrix_note: str | None = None  # set when ``color_matrix`` is not a table's camera matrix
    metadata: Metadata = Metadata()  # a TIFF-based raw file's own EXIF (dates, artist, copyright, ...)


def read_meta(raw: Any, file: Path, *, carry_dng: bool = True) -> RawMeta:
    """The :class:`RawMeta` of an open ``rawpy.RawPy`` read from ``file``.

    ``carry_dng``: copy a DNG input's own tags (off: describe it from LibRaw alone, as any raw format).
    """
    if raw.raw_pattern is None or np.ndim(raw.raw_image_visible) != 2:
        raise ZooError(f"cannot read {file}: it holds no colour-filter-array mosaic (linear or Foveon raw)")
    colours = np.asarray(raw.raw_colors_visible)
    desc = bytes(raw.color_desc).decode("ascii", errors="replace")
    tile = colours[:2, :2]
    pattern = check_bayer("".join(desc[c] for c in tile.flat), str(file))
    per_channel = np.asarray(raw.black_level_per_channel, dtype=np.float64)
    black = cast(tuple[float, float, float, float], tuple(float(b) for b in per_channel[tile].flat))  # the 2x2 tile
    white = float(raw.white_level)
    exif = _exif(raw)
    carried: tuple[tuple[int, int, int, Any], ...] = ()
    is_dng = file.suffix.lower() == ".dng"
    if is_dng and carry_dng:
        carried = _dng_tags(file, tuple(np.shape(colours)))
    else:
        exif.update(_make_model(file))
    matrix, from_table = _camera_matrix(raw)
    return RawMeta(
        pattern=pattern, black_levels=black, white_level=white, shape=tuple(np.shape(colours)),
        color_matrix=matrix, matrix_note=None if from_table or matrix is None else RECOVERED_NOTE,
        illuminant=D65, as_shot_neutral=_neutral(raw),
        orientation=_FLIP_TO_ORIENTATION.get(int(raw.sizes.flip), 1), exif=exif, carried=carried,
        source_is_dng=is_dng, metadata=_own_exif(file),
    )


def _own_exif(file: Path) -> Metadata:
    """The EXIF of a TIFF-based raw file (NEF, CR2, ARW, DNG, ...); none for other containers.

    Its maker note is left out: it points into the original file by absolute offsets.
    """
    import warnings

    with open(file, "rb") as handle:
        if handle.read(2) not in (b"II", b"MM"):
            return Metadata()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a raw file's odd EXIF is not worth a warning: LibRaw's values remain
        found = read_metadata(file, "tiff")
    exif = {tag: value for tag, value in found.exif.items() if tag not in (0x927C, 0xA002, 0xA003)}
    return Metadata(main=found.main, exif=exif, gps=found.gps)


def _camera_matrix(raw: Any) -> tuple[np.ndarray | None, bool]:
    """XYZ -> camera (3x3) as LibRaw uses it, and whether it is LibRaw's table entry (else it is
    recovered from the matrix LibRaw develops with, its rgb_cam)."""
    cam_xyz = np.asarray(raw.rgb_xyz_matrix, dtype=np.float64)[:3, :3]
    if np.abs(cam_xyz).sum() > 0:
        return cam_xyz, True
    # LibRaw builds rgb_cam = inverse(rows normalised to 1 of cam_xyz . rgb_to_xyz) and keeps the
    # normalisation in pre_mul (the daylight multipliers): undo both.
    rgb_cam = np.asarray(raw.color_matrix, dtype=np.float64)[:3, :3]
    if not np.isfinite(rgb_cam).all() or abs(np.linalg.det(rgb_cam)) < 1e-9:
        return None, False
    pre_mul = np.asarray(raw.daylight_whitebalance, dtype=np.float64)[:3]
    scale = 1.0 / pre_mul if (pre_mul > 0).all() else np.ones(3)
    matrix = np.diag(scale) @ np.linalg.inv(rgb_cam) @ np.linalg.inv(_RGB_TO_XYZ)
    return matrix / np.abs(matrix).max(), False


def assumed_matrix() -> np.ndarray:
    """XYZ -> linear sRGB (D65): the matrix of a camera whose RGB is taken as linear sRGB, as
    LibRaw develops a camera it has no matrix for (its rgb_cam is then the identity)."""
    return np.linalg.inv(_RGB_TO_XYZ)


def _neutral(raw: Any) -> tuple[float, float, float] | None:
    for multipliers in (raw.camera_whitebalance, raw.daylight_whitebalance):
        r, g, b = (float(m) for m in list(multipliers)[:3])
        if min(r, g, b) > 0 and all(map(math.isfinite, (r, g, b))):
            return (g / r, 1.0, g / b)
    return None


def _exif(raw: Any) -> dict[str, Any]:
    other = raw.other
    out: dict[str, Any] = {}
    for key in ("iso_speed", "shutter_speed", "aperture", "focal_length"):
        value = float(getattr(other, key, 0) or 0)
        if value > 0 and math.isfinite(value):
            out[key] = value
    stamp = getattr(other, "timestamp", None)
    if stamp:
        out["timestamp"] = stamp
    return out


def _make_model(file: Path) -> dict[str, str]:
    """Make and Model from a TIFF-based raw file's first IFD (NEF, CR2, ARW, DNG, ...); LibRaw does not report them."""
    import tifffile

    try:
        with tifffile.TiffFile(file) as tif:
            tags = tif.pages.first.tags
            found = {key: tags[name].value for key, name in (("make", "Make"), ("model", "Model")) if name in tags}
    except Exception:  # CR3, RAF and other non-TIFF containers: the DNG then names no camera
        return {}
    return {key: str(value).strip() for key, value in found.items() if isinstance(value, str) and value.strip()}


def _dng_tags(file: Path, shape: tuple[int, int]) -> tuple[tuple[int, int, int, Any], ...]:
    """The carried tags of a DNG's main IFD and of its raw (CFA) IFD, as stored."""
    import tifffile

    try:
        with tifffile.TiffFile(file) as tif:
            main = tif.pages.first
            raw_page = _raw_page(tif, main)
            tags = [t for t in main.tags.values() if t.code in CARRIED_MAIN]
            if raw_page is not None:
                tags += [t for t in raw_page.tags.values() if t.code in CARRIED_RAW]
            copied = [(t.code, int(t.dtype), t.count, t.value) for t in tags]
    except Exception as exc:  # LibRaw read it; tifffile could not: describe it from LibRaw alone
        import warnings

        warnings.warn(f"{file}: DNG tags not carried over ({first_line(exc)})", stacklevel=3)
        return ()
    return tuple(tag for tag in copied if _fits(tag, shape))


NOISE_PROFILE = 51041  # DNG 1.3: (S, O) per colour plane, sigma^2 = S x + O on the [0, 1] linear signal


def noise_profile(file: Path, pattern: str) -> NoiseLevel | None:
    """A DNG's NoiseProfile as the noise level of each position of the 2x2 tile (row-major, as
    ``pattern``): one (S, O) pair for every plane, or one per colour plane (R, G, B). ``None`` for
    a file without one, or with one that is not two non-negative finite numbers per plane."""
    if file.suffix.lower() != ".dng":
        return None
    import tifffile

    try:
        with tifffile.TiffFile(file) as tif:
            main = tif.pages.first
            pages = [p for p in (_raw_page(tif, main), main) if p is not None]
            tag = next((p.tags[NOISE_PROFILE] for p in pages if NOISE_PROFILE in p.tags), None)
            values = None if tag is None else [float(v) for v in np.ravel(tag.value)]
    except Exception:  # LibRaw reads it; tifffile could not: no level from the file
        return None
    if not values or len(values) not in (2, 6) or not all(math.isfinite(v) and v >= 0 for v in values):
        return None
    pairs = [tuple(values[i:i + 2]) for i in range(0, len(values), 2)]
    per_position = [pairs[0] if len(pairs) == 1 else pairs["RGB".index(colour)] for colour in pattern]
    return NoiseLevel.from_shot_read([s for s, _ in per_position], [o for _, o in per_position], channels=4)


def _raw_page(tif: Any, main: Any) -> Any:
    """The IFD holding the CFA mosaic: the main one, or a SubIFD with NewSubfileType 0."""
    import tifffile

    if main.photometric == tifffile.PHOTOMETRIC.CFA:
        return main
    if "SubIFDs" not in main.tags:
        return None
    for page in tifffile.TiffPages(main):
        # TiffPages yields pages (a TiffFrame only when asked for frames, as this does not)
        if isinstance(page, tifffile.TiffPage) and page.photometric == tifffile.PHOTOMETRIC.CFA \
                and int(page.subfiletype) == 0:
            return page
    return None


def _fits(tag: tuple[int, int, int, Any], shape: tuple[int, int]) -> bool:
    """A default crop outside the written mosaic (LibRaw's visible area) is dropped."""
    code, _, _, value = tag
    if code in (50719, 50720):
        numbers = _rationals(value)
        return len(numbers) == 2 and all(0 <= n <= limit for n, limit in zip(numbers[::-1], shape))
    return True


def _rationals(value: Any) -> list[float]:
    values = list(value) if isinstance(value, (tuple, list)) else [value]
    if len(values) in (4,) and all(isinstance(v, int) for v in values) and values[1] and values[3]:
        return [values[0] / values[1], values[2] / values[3]]  # two RATIONALs, flat
    return [float(v) for v in values]
