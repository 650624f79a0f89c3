"""Noisy/clean pairs from a folder of your own: ``noisy/`` beside ``gt/`` (or ``clean/``), images
matched by file name. The data spec ``pairs:DIR`` (also ``sidd-srgb:DIR``), for ``zoo eval`` and
``zoo train`` alike.

PNG, TIFF or ``.npy`` images, read through :func:`zoo.imageio.read_image` as float32 in [0, 1]:
``(C, H, W)`` for colour, ``(H, W)`` for one channel. Named by the file's stem, sorted, and read
on access. Every problem is a one-line :class:`~zoo.errors.ZooError`; an image name that is not a
regular file (a FIFO, a device, a folder, a broken link) is refused when the folder is listed and
again before it is read, never skipped (the set would be scored without it, exit 0) nor opened (a
FIFO blocks the read).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from zoo.data.pairs import LazyPairs, Pair, check_unique_names
from zoo.errors import ZooError
from zoo.imageio import read_image
from zoo.reading import check_regular

PAIR_SUFFIXES = (".png", ".tif", ".tiff", ".npy")
_CLEAN_FOLDERS = ("gt", "clean")


def load_folder_pairs(folder: str | os.PathLike[str]) -> Sequence[Pair]:
    """Pairs from ``folder/noisy`` and ``folder/gt`` (or ``folder/clean``), matched by file name.

    PNG, TIFF or ``.npy`` (through :func:`zoo.imageio.read_image`): float32 in [0, 1], ``(C, H, W)``
    or ``(H, W)``. Named by the file's stem, sorted; read on access.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ZooError(f"image pairs not found: {root} is not a folder (expected one with noisy/ and gt/ inside)")
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
        raise ZooError(f"image pairs in {root} are matched by file name: {'; '.join(parts)}")
    if not noisy_files:
        raise ZooError(f"no images in {noisy_dir} or {clean_dir} (expected {', '.join(PAIR_SUFFIXES)} files)")
    file_names = sorted(noisy_files)
    names = [Path(name).stem for name in file_names]
    check_unique_names(names, [noisy_files[name] for name in file_names])

    def read(i: int) -> Pair:
        noisy_file, clean_file = noisy_files[file_names[i]], clean_files[file_names[i]]
        for path in (noisy_file, clean_file):  # again: replaced by a FIFO since it was listed, it would block
            check_regular(path, "image pair file")
        noisy, clean = read_image(noisy_file).data, read_image(clean_file).data
        if noisy.shape != clean.shape:
            raise ZooError(f"{noisy_file} and {clean_file} differ in shape: {noisy.shape} vs {clean.shape}")
        return Pair(names[i], noisy, clean)

    return LazyPairs(names, read)


def _subfolder(root: Path, names: Sequence[str]) -> Path:
    matches = sorted(entry for entry in root.iterdir() if entry.is_dir() and entry.name.lower() in names)
    if not matches:
        raise ZooError(f"image pairs: {root} has no {' or '.join(n + '/' for n in names)} folder "
                       "(expected noisy/ and gt/ or clean/)")
    if len(matches) > 1:
        raise ZooError(f"image pairs: {root} has both {' and '.join(m.name + '/' for m in matches)}; keep one")
    return matches[0]


def _images_in(folder: Path) -> dict[str, Path]:
    """Image files by name; hidden files and other suffixes are not images of the set. An image
    name that is not a regular file is a one-line error naming it, checked by ``stat`` alone."""
    images = {entry.name: entry for entry in folder.iterdir()
              if not entry.name.startswith(".") and entry.suffix.lower() in PAIR_SUFFIXES}
    for path in images.values():
        check_regular(path, "image pair file")
    return images


def _some(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... {len(names) - limit} more" if len(names) > limit else "")
