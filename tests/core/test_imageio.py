"""Image files: exact round trips, channel order, depths, raw normalisation, clear errors, atomic writes.

Written files are checked with an independent reader where one exists (tifffile for TIFF, OpenCV
for PNG with its BGR order spelled out, hand-built PNG bytes), so a symmetric bug in reading and
writing cannot cancel out.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import tifffile

from zoo import imageio
from zoo.errors import ZooError
from zoo.imageio import Image, read_image, write_image

RNG = np.random.default_rng(20200614)


def like(fmt: str, bit_depth: int, dtype: str | None = None) -> Image:
    dtype = dtype or ("float32" if bit_depth == 32 else f"uint{bit_depth}")
    return Image(np.zeros((1, 1), np.float32), fmt, bit_depth, dtype)  # type: ignore[arg-type]


def sample(shape: tuple[int, ...]) -> np.ndarray:
    """Random floats with the edge cases: exact 0 and 1, and values outside [0, 1] to be clipped."""
    data = RNG.uniform(-0.2, 1.2, size=shape)
    data.flat[:4] = [0.0, 1.0, -3.0, 7.0]
    return data


def expected_levels(data: np.ndarray, bits: int) -> np.ndarray:
    top = 2**bits - 1
    return np.rint(np.clip(np.asarray(data, np.float64), 0, 1) * top).astype(f"uint{bits}")


def png_bytes(pixels: np.ndarray, colour_type: int) -> bytes:
    """A PNG built by hand (no filtering): pixels (H, W) or (H, W, S), uint8 or uint16."""
    height, width = pixels.shape[:2]
    depth = 16 if pixels.dtype == np.uint16 else 8
    rows = pixels.astype(">u2" if depth == 16 else "u1").reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def error_line(call, *args) -> str:
    """The ZooError's message, checked to be one line."""
    with pytest.raises(ZooError) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message and message
    return message


# --- PNG and TIFF: exact round trips ---------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("shape", [(13, 17), (3, 13, 17)], ids=["gray", "rgb"])
def test_round_trip_is_exact(tmp_path, suffix, bits, shape):
    data = sample(shape)
    levels = expected_levels(data, bits)
    path = write_image(tmp_path / f"out{suffix}", data, like("png", bits))

    # What is on disk, read independently of zoo.
    if suffix == ".png":
        stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if stored.ndim == 3:
            stored = stored[..., ::-1]  # OpenCV gives BGR
    else:
        stored = tifffile.imread(path)
    hwc = levels if levels.ndim == 2 else np.moveaxis(levels, 0, -1)
    assert stored.dtype == levels.dtype and np.array_equal(stored, hwc)

    image = read_image(path)
    assert image.format == ("png" if suffix == ".png" else "tiff")
    assert image.bit_depth == bits and image.dtype == f"uint{bits}"
    assert image.data.dtype == np.float32 and image.data.shape == shape
    assert np.array_equal(image.data, levels.astype(np.float32) / (2**bits - 1))

    # Writing what was read stores the very same levels again.
    again = read_image(write_image(tmp_path / f"again{suffix}", image.data, image))
    assert np.array_equal(again.data, image.data)


@pytest.mark.parametrize("bits", [8, 16])
def test_quantisation_rounds_to_nearest(tmp_path, bits):
    top = 2**bits - 1
    levels = np.arange(0, top, max(1, top // 250))[:200].astype(np.float64)
    data = np.concatenate([(levels + 0.49) / top, (levels + 0.51) / top]).reshape(2, -1)
    image = read_image(write_image(tmp_path / "q.png", data, like("png", bits)))
    got = np.rint(image.data.astype(np.float64) * top)
    assert np.array_equal(got[0], levels) and np.array_equal(got[1], levels + 1)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("bits", [8, 16])
def test_red_stays_red(tmp_path, suffix, bits):
    red = np.zeros((3, 4, 5), np.float32)
    red[0] = 1.0
    path = write_image(tmp_path / f"red{suffix}", red, like("png", bits))
    top = 2**bits - 1
    if suffix == ".png":
        bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert (bgr[..., 2] == top).all() and (bgr[..., :2] == 0).all()
    else:
        rgb = tifffile.imread(path)
        assert (rgb[..., 0] == top).all() and (rgb[..., 1:] == 0).all()
    assert np.array_equal(read_image(path).data, red)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_hand_built_png_channels(tmp_path, dtype):
    top = np.iinfo(dtype).max
    rgb = RNG.integers(0, top, size=(4, 6, 3), endpoint=True).astype(dtype)
    rgb[0, 0] = (top, 0, 0)
    (tmp_path / "rgb.png").write_bytes(png_bytes(rgb, colour_type=2))
    image = read_image(tmp_path / "rgb.png")
    assert image.bit_depth == np.dtype(dtype).itemsize * 8
    assert np.array_equal(image.data, np.moveaxis(rgb, -1, 0).astype(np.float32) / top)
    assert image.data[:, 0, 0].tolist() == [1.0, 0.0, 0.0]

    # RGBA: the alpha channel is dropped, the colours kept.
    rgba = np.concatenate([rgb, np.full((4, 6, 1), top // 3, dtype)], axis=-1)
    (tmp_path / "rgba.png").write_bytes(png_bytes(rgba, colour_type=6))
    assert np.array_equal(read_image(tmp_path / "rgba.png").data, image.data)

    # Gray + alpha stays one channel (OpenCV would hand back four).
    gray_alpha = np.stack([rgb[..., 1], rgb[..., 2]], axis=-1)
    (tmp_path / "ga.png").write_bytes(png_bytes(gray_alpha, colour_type=4))
    gray = read_image(tmp_path / "ga.png")
    assert gray.data.shape == (4, 6)
    assert np.array_equal(gray.data, rgb[..., 1].astype(np.float32) / top)


def test_float_tiff_keeps_float(tmp_path):
    data = RNG.uniform(0, 1, (3, 9, 11)).astype(np.float32)
    tifffile.imwrite(tmp_path / "in.tif", np.moveaxis(data, 0, -1), photometric="rgb")
    image = read_image(tmp_path / "in.tif")
    assert (image.format, image.bit_depth, image.dtype) == ("tiff", 32, "float32")
    assert np.array_equal(image.data, data)

    out = write_image(tmp_path / "out.tif", image.data, image)
    assert tifffile.imread(out).dtype == np.float32
    assert np.array_equal(read_image(out).data, data)
    # PNG cannot hold floats: the deepest PNG, 16-bit, is written.
    png = read_image(write_image(tmp_path / "out.png", image.data, image))
    assert png.bit_depth == 16


def test_lzw_tiff_reads_exactly(tmp_path):
    # OpenCV writes LZW, which tifffile decodes only with imagecodecs; both paths must be exact.
    rgb = RNG.integers(0, 65535, size=(10, 12, 3), endpoint=True).astype(np.uint16)
    ok, encoded = cv2.imencode(".tiff", rgb[..., ::-1].copy())
    assert ok
    (tmp_path / "lzw.tif").write_bytes(encoded.tobytes())
    assert tifffile.TiffFile(tmp_path / "lzw.tif").pages.first.compression == tifffile.COMPRESSION.LZW
    image = read_image(tmp_path / "lzw.tif")
    assert image.bit_depth == 16
    assert np.array_equal(image.data, np.moveaxis(rgb, -1, 0).astype(np.float32) / 65535)


def test_tiff_gray_with_alpha_and_planar_rgb(tmp_path):
    gray = RNG.integers(0, 255, size=(5, 7), endpoint=True).astype(np.uint8)
    ga = np.stack([gray, np.full_like(gray, 9)], axis=-1)
    tifffile.imwrite(tmp_path / "ga.tif", ga, photometric="minisblack", extrasamples=["unassalpha"])
    assert np.array_equal(read_image(tmp_path / "ga.tif").data, gray / np.float32(255))

    planar = RNG.integers(0, 255, size=(3, 5, 7), endpoint=True).astype(np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", planar, photometric="rgb", planarconfig="separate")
    assert np.array_equal(read_image(tmp_path / "planar.tif").data, planar / np.float32(255))


# --- .npy -----------------------------------------------------------------------------------------


def test_npy_float_round_trip(tmp_path):
    data = RNG.uniform(0, 1, (3, 8, 9)).astype(np.float32)
    np.save(tmp_path / "in.npy", data)
    image = read_image(tmp_path / "in.npy")
    assert (image.format, image.bit_depth, image.dtype) == ("npy", 32, "float32")
    assert np.array_equal(image.data, data)
    out = write_image(tmp_path / "out.npy", image.data, image)
    stored = np.load(out)
    assert stored.dtype == np.float32 and np.array_equal(stored, data)


def test_npy_float_small_overshoot_is_clipped_far_is_refused(tmp_path):
    np.save(tmp_path / "noisy.npy", np.array([[-0.02, 0.5], [1.03, 1.0]]))
    image = read_image(tmp_path / "noisy.npy")
    assert image.dtype == "float64"
    assert image.data.tolist() == [[0.0, 0.5], [1.0, 1.0]]

    np.save(tmp_path / "bytes.npy", np.array([[0.0, 128.0], [255.0, 3.0]], np.float32))
    assert "normalised to [0, 1]" in error_line(read_image, tmp_path / "bytes.npy")
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan]], np.float32))
    assert "NaN" in error_line(read_image, tmp_path / "nan.npy")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_npy_integers_scaled_by_dtype_max(tmp_path, dtype):
    top = np.iinfo(dtype).max
    stored = np.array([[0, 1, top // 2], [top - 1, top, 7]], dtype)
    np.save(tmp_path / "int.npy", stored)
    image = read_image(tmp_path / "int.npy")
    assert image.bit_depth == np.dtype(dtype).itemsize * 8 and image.dtype == np.dtype(dtype).name
    assert np.array_equal(image.data, stored.astype(np.float32) / np.float32(top))
    # Written back as .npy: the same dtype and the same levels.
    again = np.load(write_image(tmp_path / "again.npy", image.data, image))
    assert again.dtype == dtype and np.array_equal(again, stored)


def test_npy_signed_integers_have_no_scale_and_are_refused(tmp_path):
    # Issue 17: int16 values were clipped at 0, int64 ones scaled by 2^63 (then written back wrong).
    np.save(tmp_path / "neg.npy", np.array([[-5, 0], [32767, 100]], np.int16))
    assert "int16 data has no defined scale" in error_line(read_image, tmp_path / "neg.npy")


def test_png_in_npy_out_keeps_depth(tmp_path):
    data = sample((6, 5))
    out = write_image(tmp_path / "out.npy", data, like("png", 16))
    stored = np.load(out)
    assert stored.dtype == np.uint16 and np.array_equal(stored, expected_levels(data, 16))


def test_npy_layouts(tmp_path):
    np.save(tmp_path / "hwc.npy", np.zeros((20, 30, 3), np.float32))
    assert "channels-last" in error_line(read_image, tmp_path / "hwc.npy")
    np.save(tmp_path / "four.npy", np.zeros((1, 2, 3, 4), np.float32))
    assert "(C, H, W)" in error_line(read_image, tmp_path / "four.npy")
    np.save(tmp_path / "bool.npy", np.zeros((4, 4), bool))
    assert "dtype bool" in error_line(read_image, tmp_path / "bool.npy")
    np.save(tmp_path / "one.npy", np.full((1, 4, 5), 0.25, np.float32))
    assert read_image(tmp_path / "one.npy").data.shape == (1, 4, 5)


# --- errors ---------------------------------------------------------------------------------------


def test_missing_file_and_unknown_suffix(tmp_path):
    message = error_line(read_image, tmp_path / "absent.png")
    assert "not found" in message and "absent.png" in message
    (tmp_path / "photo.webp").write_bytes(b"RIFF\x00\x00\x00\x00WEBP")  # JPEG is read since; WebP is not
    message = error_line(read_image, tmp_path / "photo.webp")
    assert "photo.webp" in message and "'.webp'" in message and ".png" in message
    message = error_line(write_image, tmp_path / "out.bmp", np.zeros((2, 2)), like("png", 8))
    assert "out.bmp" in message and "'.bmp'" in message
    assert "read-only" in error_line(write_image, tmp_path / "out.dng", np.zeros((2, 2)), like("raw", 16))
    assert not list(tmp_path.glob("out.*"))


def test_corrupt_and_truncated_files(tmp_path):
    good = write_image(tmp_path / "good.png", sample((3, 40, 50)), like("png", 8)).read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    assert "corrupt or truncated" in error_line(read_image, tmp_path / "truncated.png")
    (tmp_path / "garbage.png").write_bytes(b"this is not an image at all")
    assert "not a PNG" in error_line(read_image, tmp_path / "garbage.png")
    ok, jpeg = cv2.imencode(".jpg", np.zeros((8, 8), np.uint8))
    (tmp_path / "renamed.png").write_bytes(jpeg.tobytes())
    assert "not a PNG" in error_line(read_image, tmp_path / "renamed.png")

    tiff = write_image(tmp_path / "good.tif", sample((3, 40, 50)), like("tiff", 16)).read_bytes()
    (tmp_path / "truncated.tif").write_bytes(tiff[: len(tiff) // 2])
    message = error_line(read_image, tmp_path / "truncated.tif")
    assert "truncated.tif" in message and "TIFF" in message
    (tmp_path / "garbage.tif").write_bytes(b"this is not an image at all")
    assert "TIFF" in error_line(read_image, tmp_path / "garbage.tif")

    np.save(tmp_path / "good.npy", np.zeros((40, 50), np.float32))
    npy = (tmp_path / "good.npy").read_bytes()
    (tmp_path / "truncated.npy").write_bytes(npy[: len(npy) // 2])
    assert "truncated.npy" in error_line(read_image, tmp_path / "truncated.npy")


def test_unsupported_tiff_layouts(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((4, 8, 8), np.uint8), photometric="minisblack")
    assert "stack of 4" in error_line(read_image, tmp_path / "stack.tif")
    tifffile.imwrite(tmp_path / "u32.tif", np.zeros((8, 8), np.uint32))
    assert "uint32" in error_line(read_image, tmp_path / "u32.tif")
    tifffile.imwrite(tmp_path / "cfa.tif", np.zeros((8, 8), np.uint16), photometric=32803)
    assert ".dng" in error_line(read_image, tmp_path / "cfa.tif")


def test_bad_data_to_write(tmp_path):
    assert "float" in error_line(write_image, tmp_path / "a.png", np.zeros((2, 2), np.uint8), like("png", 8))
    assert "NaN" in error_line(write_image, tmp_path / "a.png", np.full((2, 2), np.nan), like("png", 8))
    assert "(3, H, W)" in error_line(write_image, tmp_path / "a.png", np.zeros((4, 2, 2)), like("png", 8))
    assert "(C, H, W)" in error_line(write_image, tmp_path / "a.npy", np.zeros(5), like("npy", 32))
    assert not list(tmp_path.iterdir())


# --- atomic writes --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif", ".npy"])
def test_write_leaves_only_the_target(tmp_path, suffix):
    write_image(tmp_path / f"out{suffix}", sample((3, 5, 6)), like("png", 16))
    write_image(tmp_path / f"out{suffix}", sample((3, 5, 6)), like("png", 16))  # overwrite
    assert [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]


@pytest.mark.parametrize("suffix", [".tif", ".npy"])
def test_failed_write_keeps_old_file(tmp_path, monkeypatch, suffix):
    target = tmp_path / f"out{suffix}"
    target.write_bytes(b"the previous result")

    def half_written(file, *args, **kwargs):
        if hasattr(file, "write"):
            file.write(b"partial")
        else:
            Path(file).write_bytes(b"partial")
        raise OSError(28, "disk full")

    if suffix == ".tif":
        monkeypatch.setattr(imageio.tifffile, "imwrite", half_written)
    else:
        monkeypatch.setattr(imageio.np, "save", half_written)
    message = error_line(write_image, target, sample((5, 6)), like("tiff", 16))
    assert "disk full" in message and target.name in message
    assert target.read_bytes() == b"the previous result"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_unwritable_or_unreadable_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    message = error_line(write_image, blocker / "out.png", np.zeros((2, 2)), like("png", 8))
    assert "out.png" in message
    (tmp_path / "folder.png").mkdir()
    assert "not a regular file" in error_line(read_image, tmp_path / "folder.png")


# --- camera raw -----------------------------------------------------------------------------------

PATTERNS = {"RGGB": (0, 1, 1, 2), "BGGR": (2, 1, 1, 0), "GRBG": (1, 0, 2, 1), "GBRG": (1, 2, 0, 1)}
BLACK = (60, 64, 66, 68)  # per position of the 2x2 tile, row-major
WHITE = 4095


def write_dng(path: Path, mosaic: np.ndarray, pattern: str = "RGGB", active_area=None) -> Path:
    """A minimal uncompressed CFA DNG that LibRaw accepts (it wants at least 22x22 pixels)."""
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "zoo test camera", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, PATTERNS[pattern], True),  # CFAPattern (0 = R, 1 = G, 2 = B)
        (50713, "H", 2, (2, 2), True),  # BlackLevelRepeatDim
        (50714, "H", 4, BLACK, True),  # BlackLevel
        (50717, "H", 1, WHITE, True),  # WhiteLevel
    ]
    if active_area is not None:
        tags.append((50829, "I", 4, active_area, True))  # ActiveArea: top, left, bottom, right
    tifffile.imwrite(path, mosaic, photometric=32803, subfiletype=0, extratags=tags, metadata=None)
    return path


def raw_mosaic(height: int = 32, width: int = 48) -> np.ndarray:
    mosaic = RNG.integers(0, WHITE + 200, size=(height, width)).astype(np.uint16)
    mosaic.flat[:3] = [0, WHITE, WHITE + 150]  # below black, at white, above white
    return mosaic


def expected_normalised(mosaic: np.ndarray) -> np.ndarray:
    black = np.tile(np.array(BLACK, np.float64).reshape(2, 2), (mosaic.shape[0] // 2, mosaic.shape[1] // 2))
    return np.clip((mosaic - black) / (WHITE - black), 0, 1)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_dng_through_rawpy(tmp_path, pattern):
    pytest.importorskip("rawpy")
    mosaic = raw_mosaic()
    image = read_image(write_dng(tmp_path / "shot.dng", mosaic, pattern))
    assert (image.format, image.cfa_pattern, image.white_level) == ("raw", pattern, WHITE)
    assert image.black_level == BLACK
    assert image.data.dtype == np.float32 and image.data.shape == mosaic.shape
    np.testing.assert_allclose(image.data, expected_normalised(mosaic), rtol=0, atol=1e-6)
    assert image.data.flat[0] == 0.0 and image.data.flat[1] == 1.0 and image.data.flat[2] == 1.0


def test_dng_visible_area_only(tmp_path):
    pytest.importorskip("rawpy")
    full = raw_mosaic(36, 52)
    image = read_image(write_dng(tmp_path / "margins.dng", full, active_area=(2, 2, 34, 50)))
    visible = full[2:34, 2:50]
    assert image.data.shape == visible.shape and image.cfa_pattern == "RGGB"
    np.testing.assert_allclose(image.data, expected_normalised(visible), rtol=0, atol=1e-6)


def test_raw_results_written_as_16_bit_mosaic_or_float_npy(tmp_path):
    pytest.importorskip("rawpy")
    image = read_image(write_dng(tmp_path / "shot.dng", raw_mosaic()))
    tif = write_image(tmp_path / "out.tif", image.data, image)
    stored = tifffile.imread(tif)
    assert stored.dtype == np.uint16 and stored.shape == image.data.shape
    assert np.array_equal(stored, expected_levels(image.data, 16))
    npy = np.load(write_image(tmp_path / "out.npy", image.data, image))
    assert npy.dtype == np.float32 and np.array_equal(npy, image.data)


def test_raw_errors(tmp_path):
    pytest.importorskip("rawpy")
    (tmp_path / "garbage.nef").write_bytes(b"not a raw file" * 10)
    message = error_line(read_image, tmp_path / "garbage.nef")
    assert "garbage.nef" in message and "LibRaw" in message and "b'" not in message

    dng = write_dng(tmp_path / "shot.dng", raw_mosaic()).read_bytes()
    (tmp_path / "truncated.dng").write_bytes(dng[: len(dng) // 2])
    assert "truncated.dng" in error_line(read_image, tmp_path / "truncated.dng")

    linear = RNG.integers(0, WHITE, size=(32, 48, 3)).astype(np.uint16)
    tags = [(50706, "B", 4, (1, 4, 0, 0), True), (50717, "H", 1, WHITE, True)]
    tifffile.imwrite(tmp_path / "linear.dng", linear, photometric=34892, extratags=tags, metadata=None)
    assert "no colour-filter-array mosaic" in error_line(read_image, tmp_path / "linear.dng")


def test_non_bayer_pattern_on_a_stand_in():
    # No X-Trans file can be made here; a stand-in with rawpy.RawPy's attributes checks that
    # patterns larger than 2x2 and their black levels follow LibRaw's colour map.
    xtrans = ["GGRGGB", "GGBGGR", "BRGRBG", "GGBGGR", "GGRGGB", "RBGBRG"]
    tile = np.array([["RGB".index(c) for c in row] for row in xtrans])
    colours = np.tile(tile, (2, 3))
    mosaic = RNG.integers(0, 1100, size=colours.shape).astype(np.uint16)
    raw = SimpleNamespace(
        raw_pattern=tile, raw_image_visible=mosaic, raw_colors_visible=colours,
        black_level_per_channel=[10, 20, 30, 20], white_level=1000, color_desc=b"RGBG",
    )
    image = imageio._normalise_mosaic(raw, Path("shot.raf"))
    assert image.cfa_pattern == "".join(xtrans)
    black = np.array([10, 20, 30])[colours]
    np.testing.assert_allclose(image.data, np.clip((mosaic - black) / (1000 - black), 0, 1), atol=1e-6)
    assert image.black_level == tuple(float(b) for b in np.array([10, 20, 30])[tile].flat)


def test_missing_rawpy_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "shot.cr2").write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "rawpy", None)  # makes `import rawpy` raise ImportError
    message = error_line(read_image, tmp_path / "shot.cr2")
    assert "pip install rawpy" in message and "shot.cr2" in message


def test_rawpy_is_imported_lazily():
    code = "import sys, zoo.imageio; print('rawpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("dtype", [np.uint64, np.uint32])
def test_wide_integer_npy_keeps_its_extremes(tmp_path, dtype):
    source = tmp_path / "wide.npy"
    np.save(source, np.array([[0, np.iinfo(dtype).max]], dtype=dtype))
    image = read_image(source)
    write_image(tmp_path / "out.npy", np.array([[0.0, 1.0]]), like=image)
    written = np.load(tmp_path / "out.npy")
    assert written.dtype == dtype and written[0, 0] == 0 and written[0, 1] > np.iinfo(dtype).max // 2
