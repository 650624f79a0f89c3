"""JPEG photographs in `zoo denoise`: read as 8-bit sRGB, written back as PNG unless asked."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import zoo
from zoo.cli import main
from zoo.errors import ZooError
from zoo.imageio import read_image, write_image


def _photo(path, grey: bool = False):
    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3)).astype(np.uint8), (0, 0), 2)
    rgb[:, :20] = (250, 20, 10)  # a red band: checks the channel order
    stored = rgb[..., 0] if grey else rgb[..., ::-1]
    assert cv2.imwrite(str(path), stored, [cv2.IMWRITE_JPEG_QUALITY, 98])
    return rgb


def test_a_jpeg_reads_as_rgb_channels_first(tmp_path):
    _photo(tmp_path / "shot.jpg")
    image = read_image(tmp_path / "shot.jpg")
    assert image.format == "jpeg" and image.bit_depth == 8 and image.data.shape == (3, 48, 64)
    red = image.data[:, :, :20].mean(axis=(1, 2))
    assert red[0] > 0.9 and red[1] < 0.2 and red[2] < 0.2
    _photo(tmp_path / "grey.JPEG", grey=True)
    assert read_image(tmp_path / "grey.JPEG").data.shape == (48, 64)


def test_a_renamed_or_broken_jpeg_is_one_line(tmp_path):
    cv2.imwrite(str(tmp_path / "real.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "fake.jpg").write_bytes((tmp_path / "real.png").read_bytes())
    with pytest.raises(ZooError, match="not a JPEG file"):
        read_image(tmp_path / "fake.jpg")
    _photo(tmp_path / "cut.jpg")
    data = (tmp_path / "cut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:20])
    with pytest.raises(ZooError, match="corrupt or truncated"):
        read_image(tmp_path / "cut.jpg")


def test_writing_a_jpeg_by_name_gives_8_bits(tmp_path):
    _photo(tmp_path / "shot.jpg")
    image = read_image(tmp_path / "shot.jpg")
    write_image(tmp_path / "out.jpg", image.data, like=image)
    again = read_image(tmp_path / "out.jpg")
    assert again.data.shape == image.data.shape
    assert np.abs(again.data - image.data).mean() < 2 / 255  # quality 95
    sixteen = tmp_path / "deep.png"
    cv2.imwrite(str(sixteen), np.full((8, 8), 40000, np.uint16))
    write_image(tmp_path / "from16.jpg", read_image(sixteen).data, like=read_image(sixteen))
    assert read_image(tmp_path / "from16.jpg").bit_depth == 8


def test_zoo_denoise_writes_a_jpegs_result_as_png_in_a_folder(tmp_path, capsys):
    torch.manual_seed(0)
    weights = zoo.save(zoo.create_model("mwrcanet", in_channels=3, widths=(8, 16, 16), depth=1),
                       tmp_path / "srgb.safetensors")
    _photo(tmp_path / "shot.jpg")
    out = tmp_path / "out"
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(tmp_path / "shot.jpg"), "-o", f"{out}/"]) == 0
    written = read_image(out / "shot.png")
    assert written.format == "png" and written.bit_depth == 8 and written.data.shape == (3, 48, 64)
    want = zoo.denoise(zoo.load(weights), read_image(tmp_path / "shot.jpg").data)
    assert np.abs(written.data - want).max() <= 0.5 / 255 + 1e-6
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(tmp_path / "shot.jpg"),
                 "-o", str(tmp_path / "asked.jpg")]) == 0
    assert read_image(tmp_path / "asked.jpg").format == "jpeg"
