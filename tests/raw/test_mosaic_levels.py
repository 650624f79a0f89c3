"""Mosaics read right or refused: a headerless raw file needs its geometry, a 10-bit mosaic in a
16-bit PNG is scaled by its white level, a packed RGGB (H, W, 4) .npy is a mosaic, and a PNG or
.npy mosaic becomes a DNG when its pattern and levels are given."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile

import zoo
from zoo.cli import main
from zoo.raw import from_phase, to_phase
from zoo.raw.mosaic import pack, unpack

MODEL = "mwrcanet-demo"


@pytest.fixture(scope="module")
def model():
    return zoo.create_model(MODEL)


def ten_bit_scene(height=32, width=48, black=64, white=1023, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 400 + 250 * np.sin(x / 5.0) * np.cos(y / 4.0)
    return np.clip(np.rint(base + rng.normal(0, 25, base.shape)), black, white).astype(np.uint16)


def denoised(model, mosaic01, pattern):
    padded, offset = to_phase(mosaic01, pattern)
    return from_phase(zoo.denoise(model, padded), offset)


def zoo_denoise(*args) -> int:
    return main(["denoise", MODEL, *map(str, args)])


def one_error(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("zoo: error")]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_10_bit_png_mosaic_is_scaled_by_its_white_level(tmp_path, capsys, model):
    values = ten_bit_scene()
    cv2.imwrite(str(tmp_path / "m.png"), values)
    assert zoo_denoise(tmp_path / "m.png", "--mosaic", "GRBG", "--bit-depth", "10", "--black-level", "64",
                       "-o", tmp_path / "out.png") == 0, capsys.readouterr().err
    normalised = np.clip((values - 64.0) / (1023 - 64), 0, 1).astype(np.float32)
    want = np.rint(64 + denoised(model, normalised, "GRBG").astype(np.float64) * (1023 - 64))
    written = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.max() <= 1023  # back in the file's own 10-bit units
    assert np.abs(written.astype(np.int64) - want).max() <= 1
    # The model saw the 10-bit range, not 1/64 of the 16-bit one: the texture is not wiped flat.
    assert written.std() > 0.5 * values.std()


def test_a_10_bit_mosaic_without_levels_is_flagged_and_levels_above_the_data_refused(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "m.png"), ten_bit_scene())
    assert zoo_denoise(tmp_path / "m.png", "--mosaic", "RGGB", "-o", tmp_path / "out.png") == 0
    assert "--bit-depth 10" in capsys.readouterr().err
    assert zoo_denoise(tmp_path / "m.png", "--mosaic", "RGGB", "--bit-depth", "8", "-o", tmp_path / "o8.png") == 1
    assert "above the white level 255" in one_error(capsys) and not (tmp_path / "o8.png").exists()


def test_a_headerless_raw_is_refused_unless_its_geometry_is_given(tmp_path, capsys, model):
    values = ten_bit_scene(512, 768, black=0, white=16383) * 16  # 16-bit samples, a 768x512 RGGB dump
    values.astype("<u2").tofile(tmp_path / "dump.raw")
    assert zoo_denoise(tmp_path / "dump.raw", "-o", tmp_path / "out.dng") == 1
    error = one_error(capsys)
    assert "no raw header" in error and "--raw-geometry" in error and not (tmp_path / "out.dng").exists()

    assert zoo_denoise(tmp_path / "dump.raw", "--raw-geometry", "768x512", "--mosaic", "RGGB",
                       "-o", tmp_path / "out.npy") == 0, capsys.readouterr().err
    want = denoised(model, (values / 65535).astype(np.float32), "RGGB")
    np.testing.assert_allclose(np.load(tmp_path / "out.npy").astype(np.float64) / 65535, want, atol=1 / 65535)
    assert zoo_denoise(tmp_path / "dump.raw", "--raw-geometry", "512x512", "--mosaic", "RGGB",
                       "-o", tmp_path / "bad.npy") == 1
    assert "check --raw-geometry" in one_error(capsys)


def test_a_packed_rggb_npy_is_a_mosaic_and_written_back_packed(tmp_path, capsys, model):
    mosaic = (ten_bit_scene() / 1023).astype(np.float32)
    np.save(tmp_path / "packed.npy", pack(mosaic))
    assert pack(mosaic).shape == (16, 24, 4) and np.array_equal(unpack(pack(mosaic)), mosaic)
    assert np.array_equal(pack(mosaic)[..., 3], mosaic[1::2, 1::2])  # channel 3: the tile's bottom-right (B)
    assert zoo_denoise(tmp_path / "packed.npy", "-o", tmp_path / "out.npy") == 0, capsys.readouterr().err
    written = np.load(tmp_path / "out.npy")
    assert written.shape == (16, 24, 4)
    np.testing.assert_allclose(unpack(written), denoised(model, mosaic, "RGGB"), atol=1e-6)


@pytest.mark.parametrize("source", ["png", "npy"])
def test_a_described_mosaic_becomes_a_dng(tmp_path, capsys, model, source):
    rawpy = pytest.importorskip("rawpy")
    values = ten_bit_scene()
    path = tmp_path / f"m.{source}"
    if source == "png":
        cv2.imwrite(str(path), values)
    else:
        np.save(path, values)
    assert zoo_denoise(path, "-o", tmp_path / "x.dng", "--mosaic", "BGGR") == 1
    assert "--bit-depth or --white-level" in one_error(capsys)
    assert zoo_denoise(path, "-o", tmp_path / "out.dng", "--mosaic", "BGGR", "--bit-depth", "10",
                       "--black-level", "64") == 0, capsys.readouterr().err
    normalised = np.clip((values - 64.0) / (1023 - 64), 0, 1).astype(np.float32)
    want = np.rint(64 + denoised(model, normalised, "BGGR").astype(np.float64) * (1023 - 64))
    with rawpy.imread(str(tmp_path / "out.dng")) as raw:
        desc = bytes(raw.color_desc).decode()
        assert "".join(desc[c] for c in raw.raw_colors_visible[:2, :2].flat) == "BGGR"
        assert raw.white_level == 1023 and list(raw.black_level_per_channel) == [64] * 4
        assert np.abs(raw.raw_image_visible.astype(np.int64) - want).max() <= 1
        np.testing.assert_allclose(np.asarray(raw.color_matrix)[:, :3], np.eye(3), atol=2e-3)  # develops as sRGB
    with tifffile.TiffFile(tmp_path / "out.dng") as tif:
        tags = tif.pages.first.tags
        assert len(tags["ColorMatrix1"].value) == 18  # a colour matrix: editors do not render it grey
        assert "linear sRGB" in tags["ProfileName"].value  # marked as zoo's assumption


def test_a_grey_png_is_not_a_dng_without_its_pattern(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "g.png"), ten_bit_scene())
    assert zoo_denoise(tmp_path / "g.png", "-o", tmp_path / "g.dng") == 2
    assert "give --mosaic PATTERN" in capsys.readouterr().err


def test_a_dng_has_its_exif_in_the_exif_ifd_a_preview_and_passes_exiftool(tmp_path, capsys):
    import shutil
    import subprocess

    pytest.importorskip("rawpy")
    from rawfiles import scene, write_dng

    source = write_dng(tmp_path / "in.dng", scene(40, 56), "GRBG", orientation=6, subifd=True, margin=2)
    assert zoo_denoise(source, "-o", tmp_path / "out.dng") == 0, capsys.readouterr().err
    with tifffile.TiffFile(tmp_path / "out.dng") as tif:
        main_ifd = tif.pages.first.tags
        assert main_ifd["ExifTag"].value["ExposureTime"] == (1, 250) and "ExposureTime" not in main_ifd
        assert main_ifd["Make"].value == "Zoo" and main_ifd["Software"].value.startswith("zoo ")
        preview = tif.pages.first.pages[0]  # the SubIFD
        assert int(preview.subfiletype) == 1 and preview.shape[2] == 3 and preview.dtype == np.uint8
        assert preview.asarray().std() > 0
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed")
    report = subprocess.run(["exiftool", "-validate", "-warning", "-a", str(tmp_path / "out.dng")],
                            capture_output=True, text=True, check=True).stdout
    assert "Validate                        : OK" in report, report
