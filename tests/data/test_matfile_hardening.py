"""Issue 17, data files: a MATLAB v7.3 (HDF5) file reads only its own bytes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from zoo.errors import ZooError

try:  # the MATLAB reader moves out of sidd.py in the core refactor (issue 14)
    from zoo.data.matfile import mat_array_shape, read_mat_array
except ImportError:
    from zoo.data.sidd import mat_array_shape, read_mat_array


def _secret(tmp_path: Path) -> Path:
    """Another file's bytes that look like valid data: a reader that follows the file would
    load them silently."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.full((8, 8), 0.5, np.float32).tobytes())
    return secret


def _hdf5(path: Path, build) -> Path:
    with h5py.File(path, "w") as handle:
        build(handle)
    return path


def test_external_storage_is_refused(tmp_path):
    secret = _secret(tmp_path)
    mat = _hdf5(tmp_path / "ext.mat", lambda h: h.create_dataset(
        "x", shape=(8, 8), dtype=np.float32, external=[(str(secret), 0, secret.stat().st_size)]))
    with h5py.File(mat) as handle:  # h5py alone follows it
        assert float(handle["x"][0, 0]) == 0.5
    for read in (lambda: read_mat_array(mat, "x"), lambda: mat_array_shape(mat, "x"),
                 lambda: read_mat_array(mat, "x", window=(0, 0, 2, 2))):
        with pytest.raises(ZooError, match="uses external storage .*zoo reads only data stored in the file itself"):
            read()


def test_a_virtual_dataset_is_refused(tmp_path):
    source = _hdf5(tmp_path / "source.h5", lambda h: h.create_dataset("x", data=np.full((8, 8), 0.5, np.float32)))
    layout = h5py.VirtualLayout(shape=(8, 8), dtype=np.float32)
    layout[:] = h5py.VirtualSource(str(source), "x", shape=(8, 8))
    mat = _hdf5(tmp_path / "virtual.mat", lambda h: h.create_virtual_dataset("x", layout))
    with pytest.raises(ZooError, match="virtual dataset"):
        read_mat_array(mat, "x")


def test_links_are_refused_before_they_are_followed(tmp_path):
    source = _hdf5(tmp_path / "source.h5", lambda h: h.create_dataset("x", data=np.full((8, 8), 0.5, np.float32)))

    def links(handle):
        handle["x"] = h5py.ExternalLink(str(source), "/x")
        handle.create_dataset("inside", data=np.zeros((8, 8), np.float32))
        handle["soft"] = h5py.SoftLink("/inside")

    mat = _hdf5(tmp_path / "links.mat", links)
    with pytest.raises(ZooError, match="external link to another file"):
        read_mat_array(mat, "x")
    with pytest.raises(ZooError, match="'soft' is a link"):
        mat_array_shape(mat, "soft")
    assert read_mat_array(mat, "inside").shape == (8, 8)  # data in the file itself reads as before
