"""Lossless JPEG (zoo.raw.ljpeg) and the compressed DNGs zoo writes with it, read back by LibRaw."""

from __future__ import annotations

import shutil
import subprocess
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile

from zoo.raw import ljpeg
from zoo.raw.dng import tile_shape, to_raw_units, write_dng
from zoo.raw.meta import D65, RawMeta
from zoo.raw.preview import from_mosaic


def meta_for(values: np.ndarray, pattern: str, black: int, white: int) -> RawMeta:
    return RawMeta(pattern=pattern, black_levels=(float(black),) * 4, white_level=float(white), shape=values.shape,
                   color_matrix=None, illuminant=D65, as_shot_neutral=None, orientation=1)


def write(path: Path, values: np.ndarray, pattern: str = "RGGB", *, black: int = 0, white: int = 65535,
          compress: bool = True, preview: bool = False) -> Path:
    """``values`` (raw units) through write_dng, which takes the mosaic normalised."""
    meta = meta_for(values, pattern, black, white)
    normalised = (values.astype(np.float64) - black) / (white - black)
    assert np.array_equal(to_raw_units(normalised, meta), values)  # the writer gets exactly these values
    return write_dng(path, normalised, meta, compress=compress,
                     preview=from_mosaic(np.clip(normalised, 0, 1), pattern) if preview else None)


def read_back(path: Path) -> np.ndarray:
    """The mosaic as LibRaw decodes it."""
    rawpy = pytest.importorskip("rawpy")
    with rawpy.imread(str(path)) as raw:
        return np.array(raw.raw_image_visible)


def smooth(height: int, width: int, bits: int, seed: int = 0, scale: float = 20.0) -> np.ndarray:
    """A smooth scene (features about ``scale`` pixels across) with a little noise, like a denoised
    mosaic, in ``bits``-bit values."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    top = (1 << bits) - 1
    scene = top * (0.45 + 0.35 * np.sin(x / scale) * np.cos(y / (0.8 * scale)))
    return np.clip(np.rint(scene + rng.normal(0, top / 2000, (height, width))), 0, top).astype(np.uint16)


def extremes(height: int, width: int) -> np.ndarray:
    """0 and 65535 side by side in each colour: differences of -65535, 32768 and 65535 (modulo 2**16),
    and a first sample of 0, whose difference from the first prediction, 2**15, is SSSS 16."""
    values = np.zeros((height, width), np.uint16)
    values[:, 2::4] = values[:, 3::4] = 65535
    values[1::3] = 32768 - values[1::3] // 2
    return values


def compression(path: Path) -> tuple[int, set[str]]:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        return int(page.compression), {tag.name for tag in page.tags}


@pytest.mark.parametrize(("height", "width", "bits", "kind", "pattern"), [
    (203, 301, 12, "random", "RGGB"),  # odd sizes: two 208x160 tiles, padded right and below
    (301, 517, 14, "smooth", "GRBG"),  # 3x2 tiles of 160x176
    (40, 56, 10, "random", "BGGR"),  # two 48x32 tiles
    (257, 512, 16, "random", "GBRG"),  # 176-wide tiles: 256 would be half the width, which LibRaw misreads
    (37, 30, 16, "extremes", "RGGB"),  # two 16-wide tiles (LibRaw opens 22 pixels and up)
    (23, 301, 16, "extremes", "GRBG"),
])
def test_a_compressed_dng_reads_back_bit_exact(tmp_path, height, width, bits, kind, pattern):
    rng = np.random.default_rng(height * width)
    if kind == "random":
        values = rng.integers(0, 1 << bits, (height, width), dtype=np.uint16)
    elif kind == "smooth":
        values = smooth(height, width, bits)
    else:
        values = extremes(height, width)
    path = write(tmp_path / "m.dng", values, pattern, white=(1 << bits) - 1)
    assert compression(path)[0] == 7
    assert {"TileWidth", "TileLength", "TileOffsets", "TileByteCounts"} <= compression(path)[1]
    assert not {"StripOffsets", "StripByteCounts", "RowsPerStrip"} & compression(path)[1]
    got = read_back(path)
    assert got.shape == values.shape
    np.testing.assert_array_equal(got, values)


def test_a_black_level_and_values_below_it_survive(tmp_path):
    values = smooth(130, 190, 14, seed=3)
    values[:4, :6] = np.arange(24, dtype=np.uint16).reshape(4, 6)  # below black: kept as written
    path = write(tmp_path / "m.dng", values, "BGGR", black=512, white=16383)
    np.testing.assert_array_equal(read_back(path), values)
    import rawpy

    with rawpy.imread(str(path)) as raw:
        assert list(raw.black_level_per_channel) == [512] * 4 and raw.white_level == 16383


def test_a_mosaic_under_16_columns_is_written_uncompressed(tmp_path):
    values = smooth(21, 14, 12)  # LibRaw opens nothing under 22 pixels: read with tifffile
    assert tile_shape(21, 14) is None
    path = write(tmp_path / "m.dng", values)
    assert compression(path)[0] == 1
    np.testing.assert_array_equal(tifffile.imread(path), values)


def test_compress_false_writes_the_uncompressed_dng_with_the_same_values(tmp_path):
    values = smooth(100, 150, 12)
    plain = write(tmp_path / "plain.dng", values, compress=False)
    assert compression(plain)[0] == 1
    np.testing.assert_array_equal(read_back(plain), values)


def test_a_smooth_mosaic_compresses_to_well_under_the_uncompressed_size(tmp_path):
    values = smooth(600, 900, 12, scale=150.0)
    packed = write(tmp_path / "packed.dng", values).stat().st_size
    plain = write(tmp_path / "plain.dng", values, compress=False).stat().st_size
    assert packed < 0.4 * plain, (packed, plain)  # 12 of 16 bits used, and smooth
    np.testing.assert_array_equal(read_back(tmp_path / "packed.dng"), values)
    detailed = write(tmp_path / "detailed.dng", smooth(600, 900, 12, scale=10.0)).stat().st_size
    assert packed < detailed < 0.7 * plain, (packed, detailed, plain)


@pytest.mark.parametrize(("height", "width", "want"), [
    (3000, 4000, (256, 256)), (600, 900, (208, 240)), (203, 301, (208, 160)), (40, 56, (48, 32)),
    (100, 512, (112, 176)), (100, 288, (112, 96)), (5, 16, (16, 16)), (10, 31, (16, 16)), (10, 32, (16, 32)),
    (10, 15, None),
])
def test_tiles_are_multiples_of_16_up_to_256_never_wider_than_the_mosaic_nor_half_its_width(height, width, want):
    tile = tile_shape(height, width)
    assert tile == want
    if tile is not None:
        assert all(side % 16 == 0 and side <= 256 for side in tile)
        assert tile[1] <= width and 2 * tile[1] != width


def test_exiftool_validates_a_compressed_dng(tmp_path):
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed")
    path = write(tmp_path / "m.dng", smooth(203, 301, 12), "GRBG", black=64, white=4095, preview=True)
    report = subprocess.run(["exiftool", "-validate", "-warning", "-error", "-a", str(path)],
                            capture_output=True, text=True, check=True).stdout
    assert "Validate                        : OK" in report, report
    assert "Warning" not in report and "Error" not in report, report


def stream_parts(stream: bytes) -> dict[int, bytes]:
    """The marker segments of a lossless JPEG up to SOS, by marker, and the scan's data under 0xFFDA."""
    assert stream[:2] == b"\xff\xd8" and stream[-2:] == b"\xff\xd9"
    parts, at = {}, 2
    while True:
        marker, length = struct.unpack(">HH", stream[at:at + 4])
        parts[marker] = stream[at + 4:at + 2 + length]
        at += 2 + length
        if marker == 0xFFDA:
            parts[0] = stream[at:-2]
            return parts


def test_the_stream_is_a_two_component_predictor_1_lossless_jpeg_with_stuffed_ff_bytes():
    rng = np.random.default_rng(1)
    tile = rng.integers(0, 65536, (32, 48), dtype=np.uint16)  # 16-bit noise: many 0xFF bytes
    parts = stream_parts(ljpeg.encode(tile.reshape(32, 24, 2)))
    precision, rows, columns, components = struct.unpack(">BHHB", parts[0xFFC3][:6])
    assert (precision, rows, columns, components) == (16, 32, 24, 2)
    assert parts[0xFFDA][-3:] == bytes((1, 0, 0))  # predictor 1, no point transform
    scan = np.frombuffer(parts[0], np.uint8)
    after_ff = scan[np.flatnonzero(scan[:-1] == 0xFF) + 1]
    assert after_ff.size > 0 and not after_ff.any()  # every 0xFF is followed by a stuffed zero
    assert scan[-1] != 0xFF


def test_huffman_codes_are_at_most_16_bits_prefix_free_and_never_all_ones():
    fibonacci = [1, 1]
    while len(fibonacci) < 17:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])  # plain Huffman codes of up to 17 bits: folded to 16
    for counts in (fibonacci, [5] + [0] * 16, [0] * 16 + [3], [1] * 17, [10**9] + [1] * 16):
        bits, values = ljpeg.huffman_table(np.asarray(counts))
        assert len(bits) == 16 and sorted(values) == [s for s, n in enumerate(counts) if n]
        assert sum(bits) == len(values)
        codes, sizes = ljpeg.canonical_codes(bits, values)
        words = [format(int(codes[s]), f"0{sizes[s]}b") for s in values]
        assert all(1 <= len(word) <= 16 for word in words)
        assert not any(set(word) == {"1"} for word in words)
        assert not any(a != b and b.startswith(a) for a in words for b in words)
        # more frequent symbols never get longer codes
        for a in values:
            for b in values:
                if counts[a] > counts[b]:
                    assert sizes[a] <= sizes[b]


def test_encode_refuses_what_a_lossless_jpeg_cannot_hold():
    with pytest.raises(ValueError, match="integer samples"):
        ljpeg.encode(np.full((4, 4), 70000, np.int32))
    with pytest.raises(ValueError, match="integer samples"):
        ljpeg.encode(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="components"):
        ljpeg.encode(np.zeros((4, 4, 5), np.uint16))
    with pytest.raises(ValueError, match="rows and columns"):
        ljpeg.encode(np.zeros((0, 4), np.uint16))
