"""`zoo denoise` on camera raw files: DNG out, LibRaw developments, mosaics for pipelines, and the
one-line refusals when a file does not fit the model."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest
import tifffile

import zoo
from zoo.cli import main
from zoo.cli.imagejob import SRGB_MODEL, denoise_file
from zoo.ops.bayer import CFA_PATTERNS
from zoo.errors import ZooError
from zoo.raw import from_phase, to_phase

rawpy = pytest.importorskip("rawpy")

from rawfiles import WHITE, scene, write_dng  # noqa: E402
from zoo.imageio import read_image  # noqa: E402
from zoo.raw.develop import develop, open_raw  # noqa: E402
from zoo.raw.dng import to_raw_units  # noqa: E402
from zoo.raw.meta import noise_profile, read_meta  # noqa: E402
from zoo.raw.phase import MODEL_PATTERN  # noqa: E402

MODEL = "mwrcanet-demo"


@pytest.fixture(scope="module")
def model():
    return zoo.create_model(MODEL)


def expected_mosaic(model, path):
    """What the CLI must write: the file's mosaic denoised in RGGB phase, in the file's own phase,
    the network told the level of the file's NoiseProfile."""
    image = read_image(path)
    padded, offset = to_phase(image.data, image.cfa_pattern)
    return image, from_phase(zoo.denoise(model, padded, noise_level=noise_profile(path, MODEL_PATTERN)), offset)


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_dng_out_holds_the_denoised_mosaic_with_the_inputs_description(tmp_path, capsys, model, pattern):
    source = write_dng(tmp_path / "shot.dng", scene(40, 56), pattern, orientation=3, subifd=pattern == "BGGR", margin=2)
    assert main(["denoise", MODEL, str(source), "-o", str(tmp_path / "clean.dng")]) == 0, capsys.readouterr().err
    image, result = expected_mosaic(model, source)
    with open_raw(source) as raw:
        meta = read_meta(raw, source)
    with rawpy.imread(str(source)) as before, rawpy.imread(str(tmp_path / "clean.dng")) as after:
        assert after.raw_pattern.tolist() == before.raw_pattern.tolist()
        assert list(after.black_level_per_channel) == list(before.black_level_per_channel)
        assert after.white_level == before.white_level == WHITE and after.sizes.flip == before.sizes.flip == 3
        assert list(after.camera_whitebalance) == pytest.approx(list(before.camera_whitebalance), rel=1e-5)
        np.testing.assert_array_equal(after.raw_image_visible, to_raw_units(result, meta))
        assert not np.array_equal(after.raw_image_visible, before.raw_image_visible)  # denoised


def test_a_picture_out_is_developed_by_libraw_and_compare_shows_both(tmp_path, capsys, model):
    source = write_dng(tmp_path / "shot.dng", scene(40, 56), "GRBG", orientation=6)
    assert main(["denoise", MODEL, str(source), "-o", str(tmp_path / "shot.png")]) == 0, capsys.readouterr().err
    assert main(["denoise", MODEL, str(source), "-o", str(tmp_path / "both.tif"), "--compare"]) == 0
    assert main(["denoise", MODEL, str(source), "-o", str(tmp_path / "shot.jpg")]) == 0
    image, result = expected_mosaic(model, source)
    with open_raw(source) as raw:
        noisy, clean = develop(raw, [image.data, result], read_meta(raw, source))
    png = cv2.imread(str(tmp_path / "shot.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert png.dtype == np.uint16 and png.shape == (56, 40, 3)  # 16 bits, turned as the camera was
    np.testing.assert_array_equal(png, np.rint(np.moveaxis(clean, 0, -1) * 65535).astype(np.uint16))
    both = tifffile.imread(tmp_path / "both.tif")
    assert both.shape == (56, 80, 3)
    np.testing.assert_array_equal(both[:, :40], np.rint(np.moveaxis(noisy, 0, -1) * 65535).astype(np.uint16))
    np.testing.assert_array_equal(both[:, 40:], png)
    assert cv2.imread(str(tmp_path / "shot.jpg")).shape == (56, 40, 3)


def test_mosaics_stay_available_for_pipelines(tmp_path, capsys, model):
    source = write_dng(tmp_path / "shot.dng", scene(40, 56), "GBRG")
    out = tmp_path / "out"
    assert main(["denoise", MODEL, str(source), "-o", f"{out}/"]) == 0, capsys.readouterr().err
    assert (out / "shot.dng").exists()  # a folder: raw in, DNG out
    assert main(["denoise", MODEL, str(source), "-o", str(tmp_path / "m.tif"), "--raw-output", "mosaic"]) == 0
    assert main(["denoise", MODEL, str(source), "-o", str(tmp_path / "m.npy")]) == 0
    _, result = expected_mosaic(model, source)
    tif = tifffile.imread(tmp_path / "m.tif")
    assert tif.dtype == np.uint16 and tif.shape == (40, 56)
    np.testing.assert_array_equal(tif, np.rint(result.astype(np.float64) * 65535).astype(np.uint16))
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), result)


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR"])
def test_a_mosaic_png_is_taken_with_its_pattern(tmp_path, capsys, model, pattern):
    values = (np.random.default_rng(3).random((32, 48)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "mosaic.png"), values)
    assert main(["denoise", MODEL, str(tmp_path / "mosaic.png"), "--mosaic", pattern.lower(),
                 "-o", str(tmp_path / "out.png")]) == 0, capsys.readouterr().err
    data = read_image(tmp_path / "mosaic.png").data
    padded, offset = to_phase(data, pattern)
    expected = np.rint(from_phase(zoo.denoise(model, padded), offset).astype(np.float64) * 65535).astype(np.uint16)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED), expected)


def test_pictures_a_raw_model_cannot_take_are_one_line_naming_the_model_that_fits(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((32, 32), 100, np.uint8))
    cv2.imwrite(str(tmp_path / "photo.png"), np.full((32, 32, 3), 100, np.uint8))
    for name, words in (("grey.png", ["--mosaic", SRGB_MODEL]), ("photo.png", [SRGB_MODEL])):
        assert main(["denoise", MODEL, str(tmp_path / name), "-o", str(tmp_path / f"out-{name}")]) == 1
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("zoo: error")]
        assert len(errors) == 1 and all(word in errors[0] for word in words), errors
        assert not (tmp_path / f"out-{name}").exists()


def test_a_raw_file_for_an_srgb_model_names_a_raw_model(tmp_path):
    source = write_dng(tmp_path / "shot.dng", scene(24, 30), "RGGB")
    args = argparse.Namespace(mosaic=None, compare=False, raw_output="developed")
    with pytest.raises(ZooError, match="use a raw model .* mwrcanet-demo"):
        denoise_file(source, tmp_path / "out.dng", args, lambda x: x, in_channels=3, label="srgb-net")


@pytest.mark.parametrize("args, message", [
    (["shot.dng", "-o", "out.dng", "--compare"], "--compare writes a picture"),
    (["shot.dng", "-o", "out.jpg", "--raw-output", "mosaic"], "--raw-output mosaic writes .tif, .png or .npy"),
    (["grey.png", "-o", "out.dng"], "is not a camera raw file"),
    (["shot.dng", "-o", "out.cr2"], "camera raw formats are read-only"),
])
def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path, capsys, monkeypatch, args, message):
    write_dng(tmp_path / "shot.dng", scene(24, 30), "RGGB")
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((32, 32), 100, np.uint8))
    monkeypatch.chdir(tmp_path)
    assert main(["denoise", MODEL, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
