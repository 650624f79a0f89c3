"""Camera raw out of zoo: CFA phase, DNG writing read back by rawpy, LibRaw development."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import zoo
from zoo.ops.bayer import CFA_PATTERNS
from zoo.errors import ZooError
from zoo.raw import MODEL_PATTERN, from_phase, phase_offset, to_phase

rawpy = pytest.importorskip("rawpy")

from rawfiles import BLACK, NEUTRAL, WHITE, scene, write_dng  # noqa: E402  (tests/ is on the path)
from zoo.imageio import read_image  # noqa: E402
from zoo.raw.develop import develop, open_raw  # noqa: E402
from zoo.raw.dng import write_dng as write_denoised_dng  # noqa: E402
from zoo.raw.meta import read_meta  # noqa: E402


def red_position(pattern: str) -> tuple[int, int]:
    return divmod(pattern.index("R"), 2)


class PhaseScale(nn.Module):
    """Scales each pixel by its position in the 2x2 tile: a model that sees the CFA phase exactly."""

    in_channels = 1
    GAINS = torch.tensor([[0.9, 0.5], [0.6, 0.3]])  # R, G1 / G2, B of an RGGB mosaic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return x * self.GAINS.repeat((h + 1) // 2, (w + 1) // 2)[:h, :w].to(x)


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_every_pattern_is_denoised_in_the_models_phase(pattern):
    rng = np.random.default_rng(0)
    height, width = 10, 14
    rggb = rng.random((height + 2, width + 2)).astype(np.float32)  # one scene, RGGB from its corner
    ry, rx = red_position(pattern)
    mosaic = rggb[ry:ry + height, rx:rx + width]  # the same scene as a `pattern` file sees it
    model = PhaseScale()
    padded, offset = to_phase(mosaic, pattern)
    assert offset == phase_offset(pattern) and padded.shape == (height + offset[0], width + offset[1])
    got = from_phase(zoo.denoise(model, padded), offset)
    expected = zoo.denoise(model, rggb)[ry:ry + height, rx:rx + width]  # denoising the RGGB-phased equivalent
    np.testing.assert_array_equal(got, expected)
    # Lossless: the file's own pixels come back untouched, shape and all.
    np.testing.assert_array_equal(from_phase(padded, offset), mosaic)


def test_phase_offsets_and_refusals():
    assert {p: phase_offset(p) for p in CFA_PATTERNS} == {"RGGB": (0, 0), "GRBG": (0, 1), "GBRG": (1, 0), "BGGR": (1, 1)}
    assert MODEL_PATTERN == "RGGB"
    with pytest.raises(ZooError, match="2x2 Bayer"):
        phase_offset("GRBGBR" * 6)  # an X-Trans tile
    with pytest.raises(ZooError, match="2x2 Bayer"):
        phase_offset(None)


def read_back(path):
    with rawpy.imread(str(path)) as raw:
        desc = bytes(raw.color_desc).decode()
        return {
            "pattern": "".join(desc[c] for c in np.asarray(raw.raw_colors_visible)[:2, :2].flat),
            "black": list(raw.black_level_per_channel), "white": raw.white_level,
            "wb": list(raw.camera_whitebalance)[:3], "flip": raw.sizes.flip,
            "rgb_cam": np.asarray(raw.color_matrix)[:, :3].copy(), "pixels": raw.raw_image_visible.copy(),
            "shutter": raw.other.shutter_speed, "aperture": raw.other.aperture,
        }


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
@pytest.mark.parametrize("layout", ["main", "subifd"])
@pytest.mark.parametrize("carry", [True, False], ids=["dng-tags", "libraw-only"])
def test_written_dng_reads_back_with_the_inputs_description(tmp_path, pattern, layout, carry):
    values = scene(24, 36)
    source = write_dng(tmp_path / "in.dng", values, pattern, orientation=6, subifd=layout == "subifd",
                       margin=4 if layout == "subifd" else 0)
    image = read_image(source)
    with open_raw(source) as raw:
        meta = read_meta(raw, source, carry_dng=carry)  # off: built from what LibRaw reports, as for a NEF
    target = write_denoised_dng(tmp_path / "out.dng", image.data, meta)
    before, after = read_back(source), read_back(target)
    assert after["pattern"] == before["pattern"] == pattern
    assert after["black"] == before["black"] and after["white"] == before["white"] == WHITE
    assert after["flip"] == before["flip"] == 6
    np.testing.assert_allclose(after["wb"], [1 / NEUTRAL[0], 1, 1 / NEUTRAL[2]], rtol=1e-5)
    np.testing.assert_allclose(after["rgb_cam"], before["rgb_cam"], atol=2e-3)
    assert after["shutter"] == pytest.approx(1 / 250) and after["aperture"] == pytest.approx(2.8)
    np.testing.assert_array_equal(after["pixels"], values)  # the input's raw units, exactly
    assert after["pixels"].shape == values.shape  # the visible area: the masked border is not written


def test_a_denoised_mosaic_is_written_in_raw_units(tmp_path):
    values = scene(24, 30)
    source = write_dng(tmp_path / "in.dng", values, "BGGR")
    with open_raw(source) as raw:
        meta = read_meta(raw, source)
    half = np.full(values.shape, 0.5, np.float32)
    pixels = read_back(write_denoised_dng(tmp_path / "out.dng", half, meta))["pixels"]
    expected = np.array(BLACK, float).reshape(2, 2) + 0.5 * (WHITE - np.array(BLACK, float).reshape(2, 2))
    np.testing.assert_array_equal(pixels[:2, :2], np.rint(expected))


def test_carried_tags_leave_out_what_described_the_noisy_data(tmp_path):
    import tifffile

    source = write_dng(tmp_path / "in.dng", scene(24, 30), "RGGB", subifd=True)
    with open_raw(source) as raw:
        meta = read_meta(raw, source)
    target = write_denoised_dng(tmp_path / "out.dng", read_image(source).data, meta)
    with tifffile.TiffFile(target) as tif:
        tags = tif.pages.first.tags
        assert "NoiseProfile" not in tags and "ActiveArea" not in tags
        assert tags["BaselineExposure"].value == (-5, 10) and tags["UniqueCameraModel"].value == "Zoo Testcam"
        assert tags["NoiseReductionApplied"].value == (1, 1)


def test_development_is_libraws_own(tmp_path):
    values = scene(40, 60)
    source = write_dng(tmp_path / "in.dng", values, "GRBG", orientation=6)
    image = read_image(source)
    with open_raw(source) as raw:
        meta = read_meta(raw, source)
        reference = raw.postprocess(use_camera_wb=True, output_bps=16)  # LibRaw's defaults, auto brightness
        smooth = np.clip(image.data * 0.5 + 0.25, 0, 1)
        noisy, other = develop(raw, [image.data, smooth], meta)
    assert noisy.shape == (3, 60, 40)  # orientation 6: turned
    np.testing.assert_allclose(np.moveaxis(noisy, 0, -1), reference / 65535, atol=2 / 65535)
    assert not np.allclose(noisy, other)


def test_a_raw_file_without_rawpy_names_the_package(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_rawpy(name, *args, **kwargs):
        if name == "rawpy":
            raise ImportError("No module named 'rawpy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rawpy)
    with pytest.raises(ZooError, match="pip install rawpy"):
        with open_raw(tmp_path / "shot.nef"):
            pass
