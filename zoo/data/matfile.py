"""MATLAB files: one real numeric array from a v5 file (scipy.io) or a v7.3 file (HDF5, h5py),
whatever the file's kind, read whole or as a window of a 2-D array.

Arrays come back in MATLAB's axis order, as stored. Only data inside the file is read: a v7.3
file's links, external storage and virtual datasets are refused. Every problem is a one-line
:class:`~zoo.errors.ZooError` naming the file and what was expected. scipy.io and h5py are
imported when a file is read: they are heavy, and only ``.mat`` files need them.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.errors import ZooError, first_line

# MATLAB v7.3 bookkeeping groups beside the variables.
_HDF5_INTERNAL = ("#refs#", "#subsystem#")
_V73_HEADER = b"MATLAB 7.3 MAT-file"


@dataclass(frozen=True)
class Layout:
    """The axes an array must have, as the messages name them, and the challenge's shape."""

    axes: tuple[str, ...]
    example: tuple[int, ...] | None = None

    def __str__(self) -> str:
        text = f"shape ({', '.join(self.axes)})"
        return text + (f", e.g. {self.example}" if self.example else "")


#: ``(top, left, height, width)`` of a 2-D array, in MATLAB's axis order.
Window = tuple[int, int, int, int]


def read_mat_array(file: str | os.PathLike[str], variable: str, layout: Layout | None = None,
                   window: Window | None = None) -> np.ndarray:
    """One real numeric array from a MATLAB v5 or v7.3 file, in MATLAB's axis order, as stored.

    ``layout`` checks the number of axes and words the errors. ``window`` reads only that part
    of a 2-D array: from a v7.3 (HDF5) file nothing else is read; a v5 file is read whole.
    """
    path = _existing(file)
    import h5py  # only for v7.3 files; h5py finds the HDF5 signature after MATLAB's 512-byte header

    if h5py.is_hdf5(path):
        array = _read_hdf5(path, variable, layout, window)
    else:
        array = _read_v5(path, variable, layout)
        if window is not None and array.ndim == 2:
            top, left, height, width = window
            array = array[top:top + height, left:left + width]
    if layout is not None and array.ndim != len(layout.axes):
        raise ZooError(f"{path}: variable '{variable}' has shape {array.shape}, expected {layout}")
    if array.size == 0:
        raise ZooError(f"{path}: variable '{variable}' is empty (shape {array.shape})")
    return array


def mat_array_shape(file: str | os.PathLike[str], variable: str) -> tuple[int, ...]:
    """The shape of ``variable`` in MATLAB's axis order, without reading its values."""
    path = _existing(file)
    import h5py

    if not h5py.is_hdf5(path):
        import scipy.io

        try:
            shapes = {name: shape for name, shape, _ in scipy.io.whosmat(path)}
        except Exception as exc:  # foreign or damaged bytes
            raise ZooError(f"{path}: not a readable MATLAB file ({first_line(exc)})") from exc
        if variable not in shapes:
            raise ZooError(f"{path}: expected variable '{variable}', found {_listing(shapes)}")
        return tuple(shapes[variable])
    try:
        with h5py.File(path, "r") as handle:
            return tuple(reversed(_hdf5_variable(handle, path, variable, None).shape))
    except ZooError:
        raise
    except Exception as exc:
        raise ZooError(f"{path}: truncated or corrupt MATLAB v7.3 (HDF5) file ({first_line(exc)})") from exc


def _existing(file: str | os.PathLike[str]) -> Path:
    path = Path(file)
    if not path.is_file():
        raise ZooError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise ZooError(f"{path}: the file is empty")
    return path


def _read_v5(path: Path, variable: str, layout: Layout | None) -> np.ndarray:
    import scipy.io

    with open(path, "rb") as handle:
        header = handle.read(len(_V73_HEADER))
    if header == _V73_HEADER:  # h5py found no HDF5 signature after MATLAB's header
        raise ZooError(f"{path}: truncated or corrupt MATLAB v7.3 file (no HDF5 data after its header)")
    try:
        listing = scipy.io.whosmat(path)
    except Exception as exc:  # scipy raises ValueError, MatReadError, TypeError, ... for foreign bytes
        problem = "truncated or corrupt MATLAB file" if header.startswith(b"MATLAB") else "not a MATLAB file"
        raise ZooError(f"{path}: {problem} ({first_line(exc)})") from exc
    classes = {name: cls for name, _, cls in listing}
    if variable not in classes:
        raise ZooError(f"{path}: expected variable '{variable}'{_of(layout)}, found {_listing(classes)}")
    try:
        array = scipy.io.loadmat(path, variable_names=[variable])[variable]
    except Exception as exc:  # zlib errors, short reads: a truncated or damaged file
        raise ZooError(f"{path}: truncated or corrupt MATLAB file ({first_line(exc)})") from exc
    return _numeric(np.asarray(array), path, variable, classes[variable])


def _matlab_class(node) -> str:
    value = node.attrs.get("MATLAB_class", b"?")
    return value.decode() if isinstance(value, bytes) else str(value)


def _hdf5_variable(handle, path: Path, variable: str, layout: Layout | None):
    """The dataset of a numeric MATLAB variable in an open v7.3 file."""
    import h5py

    names = [name for name in handle if name not in _HDF5_INTERNAL]
    if variable not in names:
        raise ZooError(f"{path}: expected variable '{variable}'{_of(layout)}, found {_listing(names)}")
    # Only data inside this file is read: an external link, external storage or a virtual dataset
    # would read any file the user can (/etc/passwd was read, and its bytes shown in the error).
    # MATLAB writes none of them. The link is looked at before it is followed.
    link = handle.get(variable, getlink=True)
    if not isinstance(link, h5py.HardLink):
        kind = "an external link to another file" if isinstance(link, h5py.ExternalLink) else "a link"
        raise ZooError(f"{path}: variable '{variable}' is {kind}; zoo reads only data stored in the file itself")
    dataset = handle[variable]
    if isinstance(dataset, h5py.Dataset) and (dataset.external or dataset.is_virtual):
        kind = "external storage (another file's bytes)" if dataset.external else "a virtual dataset (other files' data)"
        raise ZooError(f"{path}: variable '{variable}' uses {kind}; zoo reads only data stored in the file itself")
    if not isinstance(dataset, h5py.Dataset) or dataset.attrs.get("MATLAB_empty", 0):
        raise ZooError(f"{path}: variable '{variable}' is a MATLAB {_matlab_class(dataset)}, expected a numeric array")
    return dataset


def _read_hdf5(path: Path, variable: str, layout: Layout | None, window: Window | None = None) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            dataset = _hdf5_variable(handle, path, variable, layout)
            matlab_class = _matlab_class(dataset)
            # MATLAB writes its column-major arrays as they lie in memory, so HDF5 sees the axes
            # reversed: a window (top, left, height, width) is [left:..., top:...] there.
            if window is not None and dataset.ndim == 2:
                top, left, height, width = window
                stored = dataset[left:left + width, top:top + height]
            else:
                stored = dataset[()]
    except ZooError:
        raise
    except Exception as exc:  # h5py raises OSError (and others) for truncated or damaged files
        raise ZooError(f"{path}: truncated or corrupt MATLAB v7.3 (HDF5) file ({first_line(exc)})") from exc
    return _numeric(np.asarray(stored).T, path, variable, matlab_class)


def _numeric(array: np.ndarray, path: Path, variable: str, matlab_class: str) -> np.ndarray:
    if array.dtype.kind not in "biuf":  # structs, cells, strings (and complex: compound in HDF5)
        kind = "complex" if array.dtype.kind == "c" or array.dtype.names else matlab_class
        raise ZooError(f"{path}: variable '{variable}' is {kind}, expected a real numeric array")
    return array


def _of(layout: Layout | None) -> str:
    return f" of {layout}" if layout else ""


def _listing(variables: Collection[str]) -> str:
    return ", ".join(f"'{name}'" for name in variables) if variables else "no variables (truncated?)"
