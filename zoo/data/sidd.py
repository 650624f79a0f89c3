"""Loaders for the SIDD files the challenge used, and for folders of sRGB pairs.

- SIDD raw validation (``load_sidd_val``): ``ValidationNoisyBlocksRaw.mat`` and
  ``ValidationGtBlocksRaw.mat``, variables of the same names, ``(images, blocks, H, W)``
  (40 x 32 x 256 x 256), float in [0, 1]. Pairs are named ``image-block`` (zero-based).
- SIDD+ validation (``load_siddplus_val``): ``siddplus_valid_noisy_raw.mat`` and
  ``siddplus_valid_gt_raw.mat``, variables of the same names, ``(blocks, H, W)`` (1024 x 256 x 256).
  Pairs are named by the block's (zero-based) number.
- SIDD-Medium raw (``load_sidd_medium``): ``*_NOISY_RAW_*.MAT`` beside ``*_GT_RAW_*.MAT``, each one
  image in the variable ``x``. Read on access: the full-size images do not all fit in memory.
- sRGB pairs (``load_srgb_pairs``): a folder with ``noisy/`` and ``gt/`` (or ``clean/``) subfolders
  of PNG, TIFF or ``.npy`` images matched by file name. Read on access.

The ``.mat`` files may be MATLAB v5 (scipy.io) or v7.3 (HDF5, h5py) whatever their kind: the
challenge shipped v5 blocks and v7.3 images, but a re-saved file is read the same. Raw data is
returned as stored (float32), not clipped: the challenge scored against the ground truth as given.
Every problem with a file is a :class:`~zoo.errors.ZooError` naming the file and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.pairs import LazyPairs, Pair
from zoo.errors import ZooError, first_line
from zoo.imageio import read_image

SIDD_VAL_FILES = ("ValidationNoisyBlocksRaw.mat", "ValidationGtBlocksRaw.mat")
SIDDPLUS_VAL_FILES = ("siddplus_valid_noisy_raw.mat", "siddplus_valid_gt_raw.mat")
SIDD_MEDIUM_VARIABLE = "x"
SRGB_SUFFIXES = (".png", ".tif", ".tiff", ".npy")
_CLEAN_FOLDERS = ("gt", "clean")

# Values this far outside [0, 1] mean another scale (0-1023, 0-65535), not noise around black.
_RANGE_TOLERANCE = 0.5
# MATLAB v7.3 bookkeeping groups beside the variables.
_HDF5_INTERNAL = ("#refs#", "#subsystem#")
_V73_HEADER = b"MATLAB 7.3 MAT-file"
_NOISY_TOKEN = re.compile(r"(?<![a-z])noisy(?![a-z])", re.IGNORECASE)
_GT_TOKEN = re.compile(r"(?<![a-z])gt(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class Layout:
    """The axes an array must have, as the messages name them, and the challenge's shape."""

    axes: tuple[str, ...]
    example: tuple[int, ...] | None = None

    def __str__(self) -> str:
        text = f"shape ({', '.join(self.axes)})"
        return text + (f", e.g. {self.example}" if self.example else "")


SIDD_VAL_LAYOUT = Layout(("images", "blocks", "H", "W"), (40, 32, 256, 256))
SIDDPLUS_VAL_LAYOUT = Layout(("blocks", "H", "W"), (1024, 256, 256))
IMAGE_LAYOUT = Layout(("H", "W"))


@dataclass(frozen=True, eq=False)
class Blocks:
    """Noisy and clean blocks, each ``(num_blocks, H, W)`` float32, and where each block came from.

    ``index[i]`` is ``(image, block)``, zero-based, for files with an image axis (SIDD validation),
    ``(None, block)`` for files without (SIDD+): per-image reporting groups by ``image``.
    """

    noisy: np.ndarray
    clean: np.ndarray
    index: tuple[tuple[int | None, int], ...]

    @property
    def names(self) -> list[str]:
        """``image-block`` (e.g. ``07-31``) or ``block`` (``0123``), zero-padded so they sort."""
        images = [i for i, _ in self.index if i is not None]
        image_width = len(str(max(images, default=0)))
        block_width = len(str(max((b for _, b in self.index), default=0)))
        image_width, block_width = max(image_width, 2), max(block_width, 2)
        return [f"{b:0{block_width}d}" if i is None else f"{i:0{image_width}d}-{b:0{block_width}d}"
                for i, b in self.index]

    def pairs(self) -> list[Pair]:
        """One :class:`Pair` per block (views into the arrays, not copies)."""
        return [Pair(name, noisy, clean, raw=True) for name, noisy, clean in zip(self.names, self.noisy, self.clean)]


def load_sidd_val(folder: str | os.PathLike[str]) -> list[Pair]:
    """The SIDD raw validation blocks in ``folder``, one pair per block, ``(H, W)`` each."""
    return read_sidd_val_blocks(folder).pairs()


def load_siddplus_val(folder: str | os.PathLike[str]) -> list[Pair]:
    """The SIDD+ (NTIRE 2020) raw validation blocks in ``folder``, one pair per block."""
    return read_siddplus_val_blocks(folder).pairs()


def read_sidd_val_blocks(folder: str | os.PathLike[str]) -> Blocks:
    """SIDD raw validation as :class:`Blocks`; ``index`` holds each block's (image, block)."""
    noisy, clean = _read_block_files(folder, SIDD_VAL_FILES, SIDD_VAL_LAYOUT, "SIDD raw validation")
    images, blocks = noisy.shape[:2]
    index = tuple((i, b) for i in range(images) for b in range(blocks))
    shape = (images * blocks, *noisy.shape[2:])
    return Blocks(noisy.reshape(shape), clean.reshape(shape), index)


def read_siddplus_val_blocks(folder: str | os.PathLike[str]) -> Blocks:
    """SIDD+ raw validation as :class:`Blocks`; the files do not say which image a block is from."""
    noisy, clean = _read_block_files(folder, SIDDPLUS_VAL_FILES, SIDDPLUS_VAL_LAYOUT, "SIDD+ raw validation")
    return Blocks(noisy, clean, tuple((None, b) for b in range(noisy.shape[0])))


@dataclass(frozen=True)
class MediumScene:
    """One SIDD-Medium raw pair on disk, read whole (:meth:`read`) or a window at a time
    (:meth:`window`: training patches, without the full-size image in memory)."""

    name: str
    noisy_file: Path
    clean_file: Path

    def shape(self) -> tuple[int, int]:
        """``(H, W)``, from the files' headers; both files must agree."""
        shapes = [mat_array_shape(f, SIDD_MEDIUM_VARIABLE) for f in (self.noisy_file, self.clean_file)]
        for file, shape in zip((self.noisy_file, self.clean_file), shapes):
            if len(shape) != 2:
                raise ZooError(f"{file}: variable '{SIDD_MEDIUM_VARIABLE}' has shape {shape}, expected {IMAGE_LAYOUT}")
        if shapes[0] != shapes[1]:
            raise ZooError(f"{self.noisy_file.name} and {self.clean_file.name} differ in shape: {shapes[0]} vs {shapes[1]}")
        return shapes[0][0], shapes[0][1]

    def window(self, window: Window | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Noisy and clean ``(H, W)`` float32, whole or the ``window`` (top, left, height, width)."""
        noisy, clean = (_normalised(read_mat_array(f, SIDD_MEDIUM_VARIABLE, IMAGE_LAYOUT, window), f, SIDD_MEDIUM_VARIABLE)
                        for f in (self.noisy_file, self.clean_file))
        if noisy.shape != clean.shape:
            raise ZooError(f"{self.noisy_file.name} and {self.clean_file.name} differ in shape: {noisy.shape} vs {clean.shape}")
        return noisy, clean

    def read(self) -> Pair:
        return Pair(self.name, *self.window(), raw=True)


def load_sidd_medium(folder_or_file: str | os.PathLike[str]) -> Sequence[Pair]:
    """SIDD-Medium raw pairs (see :func:`sidd_medium_scenes`), read on access as ``(H, W)`` float32."""
    scenes = sidd_medium_scenes(folder_or_file)
    return LazyPairs([scene.name for scene in scenes], lambda i: scenes[i].read())


def sidd_medium_scenes(folder_or_file: str | os.PathLike[str]) -> list[MediumScene]:
    """Every ``*NOISY*.MAT`` under a folder (recursively) with the ``*GT*.MAT`` beside it, or the
    one pair of a given NOISY (or GT) file. Named by the noisy file's name without ``NOISY``
    (``0001_RAW_010``). Nothing is read but the folder listing."""
    path = Path(folder_or_file)
    if path.is_dir():
        noisy_files = sorted(p for p in path.rglob("*") if _is_mat(p) and _NOISY_TOKEN.search(p.stem))
        if not noisy_files:
            raise ZooError(f"no SIDD-Medium raw pairs in {path}: expected files named like 0001_NOISY_RAW_010.MAT "
                           "beside 0001_GT_RAW_010.MAT")
    elif path.is_file():
        if not _is_mat(path) or not (_NOISY_TOKEN.search(path.stem) or _GT_TOKEN.search(path.stem)):
            raise ZooError(f"{path}: expected a SIDD-Medium raw file named like 0001_NOISY_RAW_010.MAT or "
                           "0001_GT_RAW_010.MAT")
        noisy_files = [path if _NOISY_TOKEN.search(path.stem) else _counterpart(path, _GT_TOKEN, "NOISY")]
    else:
        raise ZooError(f"SIDD-Medium raw data not found: {path} is neither a folder nor a file")
    files = [(noisy, _counterpart(noisy, _NOISY_TOKEN, "GT")) for noisy in noisy_files]
    names = [_NOISY_TOKEN.sub("", noisy.stem).replace("__", "_").strip("_") for noisy in noisy_files]
    _check_unique(names, noisy_files)
    return [MediumScene(name, noisy, clean) for name, (noisy, clean) in zip(names, files)]


def load_srgb_pairs(folder: str | os.PathLike[str]) -> Sequence[Pair]:
    """Pairs from ``folder/noisy`` and ``folder/gt`` (or ``folder/clean``), matched by file name.

    PNG, TIFF or ``.npy`` (through :func:`zoo.imageio.read_image`): float32 in [0, 1], ``(C, H, W)``
    or ``(H, W)``. Named by the file's stem, sorted; read on access.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ZooError(f"sRGB pairs not found: {root} is not a folder (expected one with noisy/ and gt/ inside)")
    noisy_dir = _subfolder(root, ("noisy",))
    clean_dir = _subfolder(root, _CLEAN_FOLDERS)
    noisy_files, clean_files = _images_in(noisy_dir), _images_in(clean_dir)
    unmatched_noisy = sorted(set(noisy_files) - set(clean_files))
    unmatched_clean = sorted(set(clean_files) - set(noisy_files))
    if unmatched_noisy or unmatched_clean:
        parts = []
        if unmatched_noisy:
            parts.append(f"{len(unmatched_noisy)} in {noisy_dir.name}/ without a match ({_some(unmatched_noisy)})")
        if unmatched_clean:
            parts.append(f"{len(unmatched_clean)} in {clean_dir.name}/ without a match ({_some(unmatched_clean)})")
        raise ZooError(f"sRGB pairs in {root} are matched by file name: {'; '.join(parts)}")
    if not noisy_files:
        raise ZooError(f"no images in {noisy_dir} or {clean_dir} (expected {', '.join(SRGB_SUFFIXES)} files)")
    file_names = sorted(noisy_files)
    names = [Path(name).stem for name in file_names]
    _check_unique(names, [noisy_files[name] for name in file_names])

    def read(i: int) -> Pair:
        noisy_file, clean_file = noisy_files[file_names[i]], clean_files[file_names[i]]
        noisy, clean = read_image(noisy_file).data, read_image(clean_file).data
        if noisy.shape != clean.shape:
            raise ZooError(f"{noisy_file} and {clean_file} differ in shape: {noisy.shape} vs {clean.shape}")
        return Pair(names[i], noisy, clean)

    return LazyPairs(names, read)


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


def _read_block_files(folder: str | os.PathLike[str], names: tuple[str, str], layout: Layout,
                      what: str) -> tuple[np.ndarray, np.ndarray]:
    files = _find_files(Path(folder), names, what)
    # Each variable is named as the file's expected name, whatever the case of the file found.
    noisy, clean = (_normalised(read_mat_array(file, Path(name).stem, layout), file, Path(name).stem)
                    for file, name in zip(files, names))
    noisy_file, clean_file = files
    if noisy.shape != clean.shape:
        raise ZooError(f"{noisy_file.name} and {clean_file.name} differ in shape: {noisy.shape} vs {clean.shape}")
    return noisy, clean


def _find_files(folder: Path, names: Sequence[str], what: str) -> list[Path]:
    """Each of ``names`` in ``folder``, the exact name first, else one differing only in case."""
    expected = " and ".join(names)
    if not folder.is_dir():
        raise ZooError(f"{what} not found: {folder} is not a folder (expected one holding {expected})")
    entries = {entry.name.lower(): entry for entry in sorted(folder.iterdir()) if entry.is_file()}
    found: list[Path] = []
    missing: list[str] = []
    for name in names:
        file = folder / name if (folder / name).is_file() else entries.get(name.lower())
        if file is None:
            missing.append(name)
        else:
            found.append(file)
    if missing:
        raise ZooError(f"{what} not found in {folder}: expected {expected} (missing {', '.join(missing)})")
    return found


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


def _normalised(array: np.ndarray, path: Path, variable: str) -> np.ndarray:
    """As C-contiguous float32, checked to be float data normalised to [0, 1] (not clipped)."""
    if array.dtype.kind != "f":
        raise ZooError(f"{path}: variable '{variable}' holds {array.dtype} values; expected float data normalised "
                       "to [0, 1] (integer raw needs the camera's black and white levels)")
    data = np.ascontiguousarray(array, dtype=np.float32)
    low, high = float(data.min()), float(data.max())  # NaN propagates into both
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ZooError(f"{path}: variable '{variable}' contains NaN or infinity")
    if low < -_RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
        raise ZooError(f"{path}: variable '{variable}' must be normalised to [0, 1], "
                       f"found values in [{low:g}, {high:g}]")
    return data


def _counterpart(file: Path, token: re.Pattern[str], replacement: str) -> Path:
    """The file beside ``file`` with ``token`` replaced (any case: SIDD writes .MAT, copies .mat)."""
    name = token.sub(replacement, file.name, count=1)
    candidate = file.with_name(name)
    if candidate.is_file():
        return candidate
    for entry in file.parent.iterdir():
        if entry.name.lower() == name.lower() and entry.is_file():
            return entry
    raise ZooError(f"{file}: its pair {name} is not beside it")


def _subfolder(root: Path, names: Sequence[str]) -> Path:
    matches = sorted(entry for entry in root.iterdir() if entry.is_dir() and entry.name.lower() in names)
    if not matches:
        raise ZooError(f"sRGB pairs: {root} has no {' or '.join(n + '/' for n in names)} folder "
                       "(expected noisy/ and gt/ or clean/)")
    if len(matches) > 1:
        raise ZooError(f"sRGB pairs: {root} has both {' and '.join(m.name + '/' for m in matches)}; keep one")
    return matches[0]


def _images_in(folder: Path) -> dict[str, Path]:
    """Image files by name; hidden files and other suffixes are not images of the set."""
    return {entry.name: entry for entry in folder.iterdir()
            if entry.is_file() and not entry.name.startswith(".") and entry.suffix.lower() in SRGB_SUFFIXES}


def _check_unique(names: Sequence[str], files: Sequence[Path]) -> None:
    seen: dict[str, Path] = {}
    for name, file in zip(names, files):
        if name in seen:
            raise ZooError(f"two pairs would both be named '{name}': {seen[name]} and {file}")
        seen[name] = file


def _is_mat(path: Path) -> bool:
    return path.suffix.lower() == ".mat" and path.is_file() and not path.name.startswith(".")


def _of(layout: Layout | None) -> str:
    return f" of {layout}" if layout else ""


def _listing(variables: Collection[str]) -> str:
    return ", ".join(f"'{name}'" for name in variables) if variables else "no variables (truncated?)"


def _some(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... {len(names) - limit} more" if len(names) > limit else "")
