"""zoo.data.sidd: the challenge's file layouts, written here in small sizes, and clear errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from zoo.data import folders, matfile, sidd
from zoo.data.pairs import Pair
from zoo.errors import ZooError
from zoo.imageio import Image, write_image

NOISY_VAL, GT_VAL = sidd.SIDD_VAL_FILES
NOISY_PLUS, GT_PLUS = sidd.SIDDPLUS_VAL_FILES


def blocks(shape: tuple[int, ...], seed: int, dtype: type = np.float32) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(dtype)


def write_v5(path: Path, variable: str, array: np.ndarray, **options) -> Path:
    scipy.io.savemat(path, {variable: array}, **options)
    return path


def write_v73(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """As MATLAB's ``save -v7.3``: HDF5 after a 512-byte text header, each array's axes reversed."""
    with h5py.File(path, "w", userblock_size=512) as handle:
        for name, array in arrays.items():
            dataset = handle.create_dataset(name, data=np.ascontiguousarray(array.T))
            dataset.attrs["MATLAB_class"] = np.bytes_("single" if array.dtype == np.float32 else "double")
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Wed Jan  1 00:00:00 2020 HDF5 schema 1.00 ."
    header = text.ljust(116, b" ") + bytes(8) + b"\x00\x02IM"  # subsystem offset, version, endian mark
    with open(path, "r+b") as handle:
        handle.write(header.ljust(512, b"\x00"))
    return path


def truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.fixture
def val_folder(tmp_path):
    noisy, clean = blocks((2, 3, 16, 16), 0), blocks((2, 3, 16, 16), 1)
    write_v5(tmp_path / NOISY_VAL, Path(NOISY_VAL).stem, noisy)
    write_v5(tmp_path / GT_VAL, Path(GT_VAL).stem, clean)
    return tmp_path, noisy, clean


def test_sidd_val_blocks_keep_values_and_image_block_index(val_folder):
    folder, noisy, clean = val_folder
    read = sidd.read_sidd_val_blocks(folder)
    assert read.noisy.shape == read.clean.shape == (6, 16, 16)
    assert read.noisy.dtype == np.float32 and read.noisy.flags.c_contiguous
    np.testing.assert_array_equal(read.noisy, noisy.reshape(6, 16, 16))
    np.testing.assert_array_equal(read.clean, clean.reshape(6, 16, 16))
    assert read.index == ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2))
    pairs = sidd.load_sidd_val(str(folder))
    assert [p.name for p in pairs] == ["00-00", "00-01", "00-02", "01-00", "01-01", "01-02"]
    assert all(isinstance(p, Pair) and p.noise is None for p in pairs)
    np.testing.assert_array_equal(pairs[4].noisy, noisy[1, 1])  # image 1, block 1, MATLAB's axis order
    np.testing.assert_array_equal(pairs[4].clean, clean[1, 1])


def test_double_precision_and_v73_block_files_read_the_same(tmp_path):
    noisy, clean = blocks((1, 2, 12, 20), 2, np.float64), blocks((1, 2, 12, 20), 3, np.float64)
    write_v5(tmp_path / NOISY_VAL, Path(NOISY_VAL).stem, noisy)
    write_v73(tmp_path / GT_VAL, {Path(GT_VAL).stem: clean})
    read = sidd.read_sidd_val_blocks(tmp_path)
    np.testing.assert_array_equal(read.noisy, noisy.reshape(2, 12, 20).astype(np.float32))
    np.testing.assert_array_equal(read.clean, clean.reshape(2, 12, 20).astype(np.float32))


def test_siddplus_blocks_and_names(tmp_path):
    noisy, clean = blocks((5, 16, 8), 4), blocks((5, 16, 8), 5)
    write_v5(tmp_path / NOISY_PLUS, Path(NOISY_PLUS).stem, noisy, do_compression=True)
    write_v5(tmp_path / GT_PLUS, Path(GT_PLUS).stem, clean)
    read = sidd.read_siddplus_val_blocks(tmp_path)
    np.testing.assert_array_equal(read.noisy, noisy)
    assert read.index == tuple((None, b) for b in range(5))
    pairs = sidd.load_siddplus_val(tmp_path)
    assert [p.name for p in pairs] == ["00", "01", "02", "03", "04"]
    np.testing.assert_array_equal(pairs[3].clean, clean[3])


def test_file_names_are_found_whatever_their_case(tmp_path):
    write_v5(tmp_path / NOISY_PLUS.upper(), Path(NOISY_PLUS).stem, blocks((2, 8, 8), 0))
    write_v5(tmp_path / GT_PLUS, Path(GT_PLUS).stem, blocks((2, 8, 8), 1))
    assert len(sidd.load_siddplus_val(tmp_path)) == 2


def test_missing_files_name_what_was_expected(tmp_path):
    with pytest.raises(ZooError, match=f"expected {NOISY_VAL} and {GT_VAL} \\(missing {NOISY_VAL}, {GT_VAL}\\)"):
        sidd.load_sidd_val(tmp_path)
    write_v5(tmp_path / NOISY_PLUS, Path(NOISY_PLUS).stem, blocks((2, 8, 8), 0))
    with pytest.raises(ZooError, match=f"missing {GT_PLUS}\\)$"):
        sidd.load_siddplus_val(tmp_path)
    with pytest.raises(ZooError, match="not a folder"):
        sidd.load_sidd_val(tmp_path / "nowhere")


def test_wrong_variable_name_lists_what_is_there(val_folder):
    folder, noisy, _ = val_folder
    write_v5(folder / NOISY_VAL, "foo", noisy)
    message = (f"{NOISY_VAL}: expected variable 'ValidationNoisyBlocksRaw' of shape (images, blocks, H, W), "
               "e.g. (40, 32, 256, 256), found 'foo'")
    with pytest.raises(ZooError, match=rf"{NOISY_VAL}: expected variable") as info:
        sidd.load_sidd_val(folder)
    assert str(info.value).endswith(message)


def test_wrong_shape_dtype_or_scale_are_refused(val_folder, tmp_path):
    folder, noisy, _ = val_folder
    variable = Path(NOISY_VAL).stem
    write_v5(folder / NOISY_VAL, variable, noisy[0])  # (blocks, H, W): the SIDD+ layout
    with pytest.raises(ZooError, match=r"has shape \(3, 16, 16\), expected shape \(images, blocks, H, W\)"):
        sidd.load_sidd_val(folder)
    write_v5(folder / NOISY_VAL, variable, (noisy * 1023).astype(np.uint16))
    with pytest.raises(ZooError, match="holds uint16 values; expected float data normalised to \\[0, 1\\]"):
        sidd.load_sidd_val(folder)
    write_v5(folder / NOISY_VAL, variable, noisy * 1023)
    with pytest.raises(ZooError, match="must be normalised to \\[0, 1\\], found values in"):
        sidd.load_sidd_val(folder)
    broken = noisy.copy()
    broken[0, 0, 0, 0] = np.nan
    write_v5(folder / NOISY_VAL, variable, broken)
    with pytest.raises(ZooError, match="NaN"):
        sidd.load_sidd_val(folder)
    write_v5(folder / NOISY_VAL, variable, {"a": noisy})  # a MATLAB struct
    with pytest.raises(ZooError, match="expected a real numeric array"):
        sidd.load_sidd_val(folder)
    write_v5(folder / NOISY_VAL, variable, noisy[:1, :2])  # (1, 2, 16, 16) against gt's (2, 3, 16, 16)
    with pytest.raises(ZooError, match="differ in shape"):
        sidd.load_sidd_val(folder)


@pytest.mark.parametrize("keep", [0.0, 0.05, 0.3, 0.6, 0.99])
@pytest.mark.parametrize("compressed", [False, True])
def test_truncated_v5_files_are_clear_errors(val_folder, keep, compressed):
    folder, noisy, _ = val_folder
    write_v5(folder / NOISY_VAL, Path(NOISY_VAL).stem, noisy, do_compression=compressed)
    truncate(folder / NOISY_VAL, keep)
    with pytest.raises(ZooError, match=f"{NOISY_VAL}: .*(empty|truncated)"):
        sidd.load_sidd_val(folder)


def test_foreign_files_are_not_matlab_files(val_folder):
    folder, _, _ = val_folder
    (folder / GT_VAL).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    with pytest.raises(ZooError, match=f"{GT_VAL}: not a MATLAB file"):
        sidd.load_sidd_val(folder)


def test_v73_reader_undoes_matlab_axis_order(tmp_path):
    image = blocks((6, 10), 6, np.float64)  # not square: a missed transpose cannot go unseen
    file = write_v73(tmp_path / "a.mat", {"x": image, "other": np.zeros((2, 3))})
    assert file.read_bytes().startswith(b"MATLAB 7.3 MAT-file")
    with h5py.File(file, "r") as handle:
        assert handle["x"].shape == (10, 6)  # what h5py alone gives
    read = matfile.read_mat_array(file, "x", sidd.IMAGE_LAYOUT)
    assert read.shape == (6, 10)
    np.testing.assert_array_equal(read, image)
    four_d = blocks((2, 3, 4, 5), 7)
    np.testing.assert_array_equal(matfile.read_mat_array(write_v73(tmp_path / "b.mat", {"v": four_d}), "v"), four_d)
    # HDF5 lists the names sorted.
    with pytest.raises(ZooError, match="expected variable 'y' of shape \\(H, W\\), found 'other', 'x'"):
        matfile.read_mat_array(file, "y", sidd.IMAGE_LAYOUT)


def scene(root: Path, folder: str, number: str, noisy: np.ndarray, clean: np.ndarray) -> Path:
    directory = root / folder
    directory.mkdir(parents=True)
    write_v73(directory / f"{number}_NOISY_RAW_010.MAT", {"x": noisy})
    write_v73(directory / f"{number}_GT_RAW_010.MAT", {"x": clean})
    write_v73(directory / f"{number}_METADATA_RAW_010.MAT", {"metadata": np.zeros((1, 1))})  # ignored
    return directory


def test_sidd_medium_pairs_from_a_folder_or_a_file(tmp_path):
    noisy_a, clean_a = blocks((8, 12), 8, np.float64), blocks((8, 12), 9, np.float64)
    noisy_b, clean_b = blocks((10, 6), 10, np.float64), blocks((10, 6), 11, np.float64)
    scene(tmp_path / "Data", "0002_001_GP_00800_00350_5500_N", "0002", noisy_b, clean_b)
    first = scene(tmp_path / "Data", "0001_001_S6_00100_00060_3200_L", "0001", noisy_a, clean_a)
    pairs = sidd.load_sidd_medium(tmp_path)
    assert len(pairs) == 2 and [p.name for p in pairs] == ["0001_RAW_010", "0002_RAW_010"]
    assert pairs[1].noisy.shape == (10, 6) and pairs[1].noisy.dtype == np.float32
    np.testing.assert_array_equal(pairs[0].noisy, noisy_a.astype(np.float32))
    np.testing.assert_array_equal(pairs[-1].clean, clean_b.astype(np.float32))
    assert [p.name for p in pairs] == [p.name for p in list(pairs)]  # re-iterable
    for given in (first / "0001_NOISY_RAW_010.MAT", first / "0001_GT_RAW_010.MAT"):
        (one,) = sidd.load_sidd_medium(given)
        np.testing.assert_array_equal(one.clean, clean_a.astype(np.float32))


def test_sidd_medium_errors(tmp_path):
    with pytest.raises(ZooError, match="no SIDD-Medium raw pairs"):
        sidd.load_sidd_medium(tmp_path)
    directory = scene(tmp_path, "0001_scene", "0001", blocks((8, 8), 0), blocks((8, 8), 1))
    (directory / "0001_GT_RAW_010.MAT").unlink()
    with pytest.raises(ZooError, match="its pair 0001_GT_RAW_010.MAT is not beside it"):
        sidd.load_sidd_medium(tmp_path)
    write_v73(directory / "0001_GT_RAW_010.MAT", {"y": blocks((8, 8), 1)})
    pairs = sidd.load_sidd_medium(tmp_path)
    with pytest.raises(ZooError, match="0001_GT_RAW_010.MAT: expected variable 'x' of shape \\(H, W\\), found 'y'"):
        pairs[0]
    write_v73(directory / "0001_GT_RAW_010.MAT", {"x": blocks((8, 9), 1)})
    with pytest.raises(ZooError, match="differ in shape"):
        sidd.load_sidd_medium(tmp_path)[0]
    write_v73(directory / "0001_GT_RAW_010.MAT", {"x": blocks((8, 8), 1)})
    truncate(directory / "0001_GT_RAW_010.MAT", 0.5)
    with pytest.raises(ZooError, match="truncated or corrupt MATLAB v7.3"):
        sidd.load_sidd_medium(tmp_path)[0]
    truncate(directory / "0001_GT_RAW_010.MAT", 0.05)  # only part of MATLAB's text header is left
    with pytest.raises(ZooError, match="truncated or corrupt MATLAB"):
        sidd.load_sidd_medium(tmp_path)[0]
    with pytest.raises(ZooError, match="expected a SIDD-Medium raw file"):
        sidd.load_sidd_medium(directory / "0001_METADATA_RAW_010.MAT")


def write_srgb(folder: Path, name: str, data: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder / name, data, Image(data, "png", 16, "uint16"))


def test_srgb_pairs_matched_by_name(tmp_path):
    rng = np.random.default_rng(12)
    images = {name: rng.random((3, 9, 7)) for name in ("b.png", "a.png", "c.tif")}
    for name, data in images.items():
        write_srgb(tmp_path / "noisy", name, data)
        write_srgb(tmp_path / "gt", name, data * 0.5)
    (tmp_path / "gt" / "notes.txt").write_text("not an image")
    (tmp_path / "noisy" / ".hidden.png").write_bytes(b"")
    pairs = folders.load_folder_pairs(tmp_path)
    assert [p.name for p in pairs] == ["a", "b", "c"]
    first = pairs[0]
    assert first.noisy.shape == first.clean.shape == (3, 9, 7) and first.noisy.dtype == np.float32
    np.testing.assert_allclose(first.noisy, images["a.png"], atol=1 / 65535)
    np.testing.assert_allclose(first.clean, images["a.png"] * 0.5, atol=1 / 65535)


def test_srgb_clean_folder_may_be_called_clean(tmp_path):
    write_srgb(tmp_path / "Noisy", "x.png", np.zeros((4, 4)))
    write_srgb(tmp_path / "clean", "x.png", np.ones((4, 4)))
    (pair,) = folders.load_folder_pairs(tmp_path)
    assert pair.noisy.shape == (4, 4) and pair.clean.max() == 1.0


def test_srgb_errors(tmp_path):
    with pytest.raises(ZooError, match="not a folder"):
        folders.load_folder_pairs(tmp_path / "missing")
    write_srgb(tmp_path / "noisy", "a.png", np.zeros((4, 4)))
    with pytest.raises(ZooError, match="has no gt/ or clean/ folder"):
        folders.load_folder_pairs(tmp_path)
    for name in ("a.png", "b.png"):
        write_srgb(tmp_path / "gt", name, np.zeros((4, 4)))
    write_srgb(tmp_path / "noisy", "c.png", np.zeros((4, 4)))
    with pytest.raises(ZooError, match=r"matched by file name: 1 in noisy/ without a match \(c.png\); "
                                       r"1 in gt/ without a match \(b.png\)"):
        folders.load_folder_pairs(tmp_path)
    (tmp_path / "clean").mkdir()
    with pytest.raises(ZooError, match="has both clean/ and gt/"):
        folders.load_folder_pairs(tmp_path)
    (tmp_path / "clean").rmdir()
    (tmp_path / "noisy" / "c.png").unlink()
    write_srgb(tmp_path / "noisy", "b.png", np.zeros((3, 4, 4)))  # RGB against gray
    pairs = folders.load_folder_pairs(tmp_path)
    with pytest.raises(ZooError, match="differ in shape"):
        pairs[1]
