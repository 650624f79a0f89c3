"""`zoo denoise`: files in, files out at their bit depth, per-image failures, --force, raw files."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

import zoo
from zoo.cli import main
from zoo.imageio import read_image

SMALL = {"widths": (8, 16, 16), "depth": 1}


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    return zoo.save(zoo.create_model("mwrcanet", **SMALL), tmp_path / "small.safetensors")


def expected(weights_path, data: np.ndarray) -> np.ndarray:
    return zoo.denoise(zoo.load(weights_path), data)


def test_one_16_bit_tiff_keeps_its_depth(tmp_path, weights, capsys):
    clean = np.random.default_rng(0).integers(0, 65536, (40, 56), dtype=np.uint16)
    source = tmp_path / "in.tif"
    tifffile.imwrite(source, clean)
    target = tmp_path / "out.tif"
    # A grey TIFF is a mosaic for a raw model only when said so (tests/raw/test_raw_workflow_cli.py).
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(source), "-o", str(target), "--mosaic", "RGGB"]) == 0
    written = tifffile.imread(target)
    assert written.dtype == np.uint16 and written.shape == clean.shape
    want = np.round(expected(weights, clean.astype(np.float32) / 65535) * 65535)
    assert np.abs(written.astype(np.int64) - want).max() <= 1
    assert "on cpu" in capsys.readouterr().err


def test_folder_output_failures_continue_and_existing_files_are_kept(tmp_path, weights, capsys):
    rng = np.random.default_rng(1)
    good = tmp_path / "good.npy"
    np.save(good, rng.random((32, 40), dtype=np.float32))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    rgb = tmp_path / "rgb.npy"  # a 1-channel raw model cannot take 3 channels
    np.save(rgb, rng.random((3, 16, 16), dtype=np.float32))
    out = tmp_path / "out"
    code = main(["denoise", "mwrcanet", "--weights", str(weights), str(corrupt), str(rgb), str(good), "-o", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert "corrupt.png" in err and "takes 1-channel images, got 3" in err and "2 of 3 images failed" in err
    assert "Traceback" not in err
    result = np.load(out / "good.npy")
    np.testing.assert_allclose(result, expected(weights, np.load(good)), atol=1e-6)

    sentinel = np.zeros((32, 40), np.float32)
    np.save(out / "good.npy", sentinel)
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(good), "-o", str(out) + "/"]) == 1
    assert "exists (use --force" in capsys.readouterr().err
    assert np.array_equal(np.load(out / "good.npy"), sentinel)
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(good), "-o", str(out) + "/", "--force"]) == 0
    assert not np.array_equal(np.load(out / "good.npy"), sentinel)


def test_tiles_ensemble_and_format_options(tmp_path, weights):
    source = tmp_path / "big.npy"
    np.save(source, np.random.default_rng(2).random((100, 90), dtype=np.float32))
    out = tmp_path / "out"
    out.mkdir()
    args = ["denoise", "mwrcanet", "--weights", str(weights), str(source), "-o", str(out), "--format", "tif"]
    assert main(args + ["--tile", "48", "--overlap", "16", "--ensemble"]) == 0
    written = tifffile.imread(out / "big.tif")
    model = zoo.load(weights)
    want = zoo.denoise(model, np.load(source), tile=48, overlap=16, ensemble=True)
    assert np.abs(written - want).max() < 1e-5  # float input: float32 TIFF


def test_camera_raw_gives_a_16_bit_mosaic_when_asked(tmp_path, weights):
    pytest.importorskip("rawpy")
    from tests.core.test_imageio import raw_mosaic, write_dng

    source = write_dng(tmp_path / "shot.dng", raw_mosaic(32, 48))
    out = tmp_path / "out"
    # DNG out and LibRaw developments: tests/raw/test_raw_workflow_cli.py
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(source), "-o", str(out) + "/",
                 "--format", "tif", "--raw-output", "mosaic"]) == 0
    written = tifffile.imread(out / "shot.tif")
    assert written.dtype == np.uint16 and written.shape == (32, 48)
    want = np.round(expected(weights, read_image(source).data) * 65535)
    assert np.abs(written.astype(np.int64) - want).max() <= 1


def test_user_mistakes_are_one_line(tmp_path, weights, capsys):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    for path in (a, b):
        np.save(path, np.zeros((16, 16), np.float32))
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert main(["denoise", "mwrcanet", str(a), str(b), "-o", str(blocker)]) == 2
    assert capsys.readouterr().err.strip().endswith("with several inputs -o must be a folder")
    assert main(["denoise", "nosuchmodel", str(a), "-o", str(tmp_path / "o.npy")]) == 2
    capsys.readouterr()
    # An output name that cannot be written is refused before any image is denoised.
    for name in ("result", "result.gif"):  # (.jpg is writable: a JPEG by name)
        assert main(["denoise", "mwrcanet", "--weights", str(weights), str(a), "-o", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "unknown image suffix" in err and " on cpu" not in err


def test_any_failure_on_one_image_lets_the_others_finish(tmp_path, weights, capsys, monkeypatch):
    import zoo.cli.denoise as command

    real = command.denoise

    def out_of_memory_on_big(runner, data, **kwargs):
        if data.size > 10_000:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(runner, data, **kwargs)

    monkeypatch.setattr(command, "denoise", out_of_memory_on_big)
    big, small = tmp_path / "big.npy", tmp_path / "small.npy"
    np.save(big, np.zeros((200, 200), np.float32))
    np.save(small, np.zeros((16, 16), np.float32))
    out = tmp_path / "out"
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(big), str(small), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "big.npy: OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB; try --tile" in err
    assert (out / "small.npy").exists() and not (out / "big.npy").exists()


def test_inputs_that_would_share_an_output_are_refused_before_any_work(tmp_path, capsys):
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "x.npy", np.zeros((16, 16), np.float32))
    out = tmp_path / "out"
    assert main(["denoise", "mwrcanet", str(tmp_path / "d1" / "x.npy"), str(tmp_path / "d2" / "x.npy"), "-o", str(out)]) == 2
    assert "several inputs would be written to" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("tile, overlap", [("16", "32"), ("0", "32"), ("64", "-5")])
def test_bad_tiling_is_a_usage_error(tmp_path, capsys, tile, overlap):
    source = tmp_path / "a.npy"
    np.save(source, np.zeros((16, 16), np.float32))
    assert main(["denoise", "mwrcanet", str(source), "-o", str(tmp_path / "b.npy"), "--tile", tile, "--overlap", overlap]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_folders_are_inputs_with_a_naming_template(tmp_path, weights, capsys):
    rng = np.random.default_rng(5)
    shots = tmp_path / "shots"
    (shots / "day2").mkdir(parents=True)
    np.save(shots / "a.npy", rng.random((24, 32), dtype=np.float32))
    np.save(shots / "day2" / "b.npy", rng.random((24, 32), dtype=np.float32))
    (shots / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    run = ["denoise", "mwrcanet", "--weights", str(weights), str(shots), "-o", str(out)]
    assert main(run + ["--name", "{stem}-zoo.{ext}"]) == 0, capsys.readouterr().err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npy")) == ["a-zoo.npy"]  # one level
    assert main(run + ["--name", "{stem}-zoo.{ext}", "--recursive"]) == 1  # a-zoo.npy exists: kept, reported
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npy")) == ["a-zoo.npy", "day2/b-zoo.npy"]
    np.testing.assert_allclose(np.load(out / "day2" / "b-zoo.npy"), expected(weights, np.load(shots / "day2" / "b.npy")),
                               atol=1e-6)
    capsys.readouterr()
    assert main(run + ["--name", "{stem}-{model}.{ext}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--name" in err[0] and "{stem} and {ext}" in err[0]
    (tmp_path / "empty").mkdir()
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(tmp_path / "empty"), "-o", str(out)]) == 2
    assert "no image files" in capsys.readouterr().err
