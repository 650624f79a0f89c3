"""Issue 17, images: what integer arrays mean, no planes dropped, and a pixel limit read from the
header before decoding (zoo.denoise refusing data on another scale: tests/infer/test_denoise_hardening.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo import limits
from zoo.errors import ZooError
from zoo.imageio import read_image
from hardening import refusal

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SIGNED = [np.int8, np.int16, np.int32, np.int64]
UNSIGNED = [np.uint8, np.uint16, np.uint32, np.uint64]
shapes = st.one_of(st.tuples(st.integers(1, 9), st.integers(1, 9)),
                   st.tuples(st.sampled_from([1, 3]), st.integers(1, 9), st.integers(1, 9)))


# --- integer arrays ---------------------------------------------------------------------------------

@FAST
@given(dtype=st.sampled_from(SIGNED), shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_signed_integer_npy_is_refused_naming_its_dtype(tmp_path, dtype, shape, seed):
    # int64 0..999 came out with values up to 1.4e16; int8 was clipped silently.
    info = np.iinfo(dtype)
    values = np.random.default_rng(seed).integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    np.save(tmp_path / "a.npy", values)
    assert f"{np.dtype(dtype).name} data has no defined scale" in refusal(read_image, tmp_path / "a.npy")


@FAST
@given(dtype=st.sampled_from(UNSIGNED), shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_unsigned_integer_npy_is_scaled_by_its_maximum(tmp_path, dtype, shape, seed):
    info = np.iinfo(dtype)
    values = np.random.default_rng(seed).integers(0, info.max, size=shape, dtype=dtype, endpoint=True)
    np.save(tmp_path / "a.npy", values)
    image = read_image(tmp_path / "a.npy")
    assert image.data.dtype == np.float32 and image.data.shape == shape
    expected = values.astype(np.float64) / float(info.max)
    assert np.allclose(image.data, expected, atol=1e-7, rtol=1e-6)
    assert image.data.min() >= 0 and image.data.max() <= 1


def test_boolean_npy_is_refused(tmp_path):
    np.save(tmp_path / "b.npy", np.ones((4, 4), bool))
    assert "unsigned integer or float" in refusal(read_image, tmp_path / "b.npy")


@FAST
@given(planes=st.integers(2, 6), photometric=st.sampled_from(["minisblack", "rgb"]))
def test_tiff_extra_planes_are_refused_not_dropped(tmp_path, planes, photometric):
    if photometric == "rgb" and planes < 3:
        return
    path = tmp_path / "planes.tif"
    tifffile.imwrite(path, np.zeros((planes, 8, 8), np.uint16), photometric=photometric, planarconfig="separate")
    extra = planes - (3 if photometric == "rgb" else 1)
    if photometric == "rgb" and extra == 1:  # tifffile marks a fourth RGB plane as alpha: dropped, as before
        assert read_image(path).data.shape == (3, 8, 8)
    elif extra:
        assert f"the TIFF has {planes} samples per pixel" in refusal(read_image, path)


def test_gray_with_alpha_tiff_still_reads(tmp_path):
    path = tmp_path / "ga.tif"
    data = np.arange(128, dtype=np.uint16).reshape(8, 8, 2)
    tifffile.imwrite(path, data, photometric="minisblack", extrasamples=["unassalpha"])
    assert np.array_equal(read_image(path).data, data[..., 0] / np.float32(65535))


# --- the pixel limit, read from the header ----------------------------------------------------------

def _png(path: Path, height: int, width: int) -> Path:
    ok, encoded = cv2.imencode(".png", np.zeros((height, width), np.uint8))
    path.write_bytes(encoded.tobytes())
    return path


def _jpeg(path: Path, height: int, width: int) -> Path:
    ok, encoded = cv2.imencode(".jpg", np.zeros((height, width, 3), np.uint8))
    path.write_bytes(encoded.tobytes())
    return path


def _tiff(path: Path, height: int, width: int) -> Path:
    tifffile.imwrite(path, np.zeros((height, width), np.uint8))
    return path


def _npy(path: Path, height: int, width: int) -> Path:
    np.save(path, np.zeros((height, width), np.float32))
    return path


WRITERS = {".png": _png, ".jpg": _jpeg, ".tif": _tiff, ".npy": _npy}


@FAST
@given(suffix=st.sampled_from(list(WRITERS)), height=st.integers(8, 40), width=st.integers(8, 40))
def test_an_image_above_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch, suffix, height, width):
    path = WRITERS[suffix](tmp_path / f"img{suffix}", height, width)
    limit = height * width - 1
    with monkeypatch.context() as patch:
        def no_decoding(*args, **kwargs):
            raise AssertionError("decoded before the size was checked")

        patch.setattr(cv2, "imdecode", no_decoding)
        patch.setattr(tifffile.TiffPage, "asarray", no_decoding)
        with limits.override(max_pixels=limit):
            message = refusal(read_image, path)
    assert f"is {width}x{height}" in message and "above the limit" in message and "ZOO_MAX_PIXELS" in message
    assert "--tile" not in message  # tiling would not help: the whole image is decoded first
    with limits.override(max_pixels=height * width):
        assert read_image(path).data.shape[-2:] == (height, width)


def test_a_small_png_that_claims_30000x30000_is_refused_from_its_header(tmp_path):
    data = bytearray(_png(tmp_path / "small.png", 8, 8).read_bytes())
    data[16:24] = (30000).to_bytes(4, "big") * 2  # IHDR width and height
    (tmp_path / "bomb.png").write_bytes(bytes(data))
    message = refusal(read_image, tmp_path / "bomb.png")
    assert "30000x30000 (900 megapixels), above the limit of 268 megapixels" in message


def test_the_pixel_limit_follows_the_environment(tmp_path, monkeypatch):
    path = _png(tmp_path / "a.png", 20, 20)
    monkeypatch.setenv("ZOO_MAX_PIXELS", "399")
    assert "above the limit" in refusal(read_image, path)
    monkeypatch.setenv("ZOO_MAX_PIXELS", "0")  # no limit
    assert read_image(path).data.shape == (20, 20)
    monkeypatch.setenv("ZOO_MAX_PIXELS", "lots")
    assert "$ZOO_MAX_PIXELS must be a number" in refusal(read_image, path)


def test_limit_overrides_are_checked():
    with pytest.raises(ZooError, match="unknown limit max_pixel"):
        with limits.override(max_pixel=3):
            pass
    with pytest.raises(ZooError, match="non-negative int"):
        with limits.override(max_pixels=-1):
            pass
