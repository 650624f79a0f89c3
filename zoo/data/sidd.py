"""The SIDD files the challenge used, as noisy/clean pairs (docs/sidd-protocol.md).

- SIDD raw validation (``load_sidd_val``): ``ValidationNoisyBlocksRaw.mat`` and
  ``ValidationGtBlocksRaw.mat``, variables of the same names, ``(images, blocks, H, W)``
  (40 x 32 x 256 x 256), float in [0, 1]. Pairs are named ``image-block`` (zero-based).
- SIDD+ validation (``load_siddplus_val``): ``siddplus_valid_noisy_raw.mat`` and
  ``siddplus_valid_gt_raw.mat``, variables of the same names, ``(blocks, H, W)`` (1024 x 256 x 256).
  Pairs are named by the block's (zero-based) number.
- SIDD-Medium raw (``load_sidd_medium``): ``*_NOISY_RAW_*.MAT`` beside ``*_GT_RAW_*.MAT``, each one
  image in the variable ``x``. Read on access: the full-size images do not all fit in memory.

The ``.mat`` files may be MATLAB v5 or v7.3 whatever their kind (:mod:`zoo.data.matfile`): the
challenge shipped v5 blocks and v7.3 images, but a re-saved file is read the same. Raw data is
returned as stored (float32), not clipped: the challenge scored against the ground truth as given.
Every problem with a file is a :class:`~zoo.errors.ZooError` naming the file and what was expected.
Folders of noisy/clean images are :mod:`zoo.data.folders`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.matfile import Layout, Window, mat_array_shape, read_mat_array
from zoo.data.pairs import LazyPairs, Pair, check_unique_names
from zoo.errors import ZooError

SIDD_VAL_FILES = ("ValidationNoisyBlocksRaw.mat", "ValidationGtBlocksRaw.mat")
SIDDPLUS_VAL_FILES = ("siddplus_valid_noisy_raw.mat", "siddplus_valid_gt_raw.mat")
SIDD_MEDIUM_VARIABLE = "x"
# Values this far outside [0, 1] mean another scale (0-1023, 0-65535), not noise around black.
_RANGE_TOLERANCE = 0.5
_NOISY_TOKEN = re.compile(r"(?<![a-z])noisy(?![a-z])", re.IGNORECASE)
_GT_TOKEN = re.compile(r"(?<![a-z])gt(?![a-z])", re.IGNORECASE)

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
    check_unique_names(names, noisy_files)
    return [MediumScene(name, noisy, clean) for name, (noisy, clean) in zip(names, files)]


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


def _is_mat(path: Path) -> bool:
    return path.suffix.lower() == ".mat" and path.is_file() and not path.name.startswith(".")
