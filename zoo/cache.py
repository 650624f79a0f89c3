"""zoo's cache (:func:`zoo.fileio.cache_dir`): what is in it, and a cap on its size.

The cache holds what zoo can rebuild: ONNX exports of models in memory (``onnx/``), OpenVINO's
compiled models (``openvino/``), TensorRT engines (``tensorrt/``), built-in test sets (``sets/``),
copies of ``zoo quantize``'s INT8 files (``int8/``), the engine measurements (``engines.json``) and
the precision losses measured for models without a card (``precision.json``). It is bounded: once it holds more than
:func:`cache_limit` bytes (:data:`DEFAULT_LIMIT`, 2 GiB; ``$ZOO_CACHE_LIMIT`` overrides it, e.g.
``500M``, ``4G``, or ``0`` for no cap), the entries used longest ago are removed first until it
fits again. An entry's last use is its newest file's modification time: zoo touches an export each
time it is used, and an OpenVINO compiled model made from an export is one entry with it (a
``.zoo-export`` note beside the blob names the export), so the two go together. The engine
measurements are never removed by the cap (a few kilobytes; ``zoo cache clear`` removes them).
``zoo cache list`` shows the entries, ``zoo cache clear`` empties the cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import warnings
from collections.abc import Iterable
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

from zoo.errors import DamagedFile, ZooError, first_line
from zoo.fileio import TEMP_SUFFIX, atomic_path, cache_dir
from zoo.reading import read_json_object

DEFAULT_LIMIT = 2 << 30  # bytes: a few full-size exports with their compiled models
LIMIT_ENV = "ZOO_CACHE_LIMIT"
LINK_SUFFIX = ".zoo-export"  # beside an OpenVINO blob: the name of the export it was compiled from
KEPT = ("engines.json", "precision.json")  # measurements: never removed by the cap
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}



def read_measurements(name: str) -> dict[str, Any]:
    """One of the cache's measurement tables (:data:`KEPT`), by key. Missing, it is empty;
    damaged, it is empty too, said in a warning (the reading policy for what zoo can make again:
    :func:`zoo.reading.read_json_object`), and its entries are measured and written anew."""
    try:
        return read_json_object(cache_dir() / name, f"zoo's measurements {name}", missing_ok=True) or {}
    except DamagedFile as exc:
        warnings.warn(f"{exc}; measuring again", RuntimeWarning, stacklevel=1)  # one place: said once per process
        return {}


def keep_measurement(name: str, key: str, entry: dict[str, Any], what: str) -> None:
    """Keep ``entry`` under ``key`` in the table ``name``; a cache that cannot be written costs a
    measurement next time (said in one line, ``what`` naming the measurement)."""
    data = read_measurements(name)
    data[key] = entry
    path = cache_dir() / name
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        print(f"zoo: warning: cannot keep {what} in {path}: {first_line(exc)}", file=sys.stderr)

@dataclass
class Entry:
    """One thing in the cache: a file, or an export with the compiled models made from it."""

    kind: str  # export, openvino, tensorrt, set, engines or other
    name: str  # its path below the cache folder
    files: list[Path] = field(default_factory=list)
    bytes: int = 0
    last_used: float = 0.0

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "bytes": self.bytes, "files": len(self.files),
                "last_used": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.last_used))}


def parse_size(text: str, what: str = LIMIT_ENV) -> int:
    """Bytes from ``123``, ``500M``, ``2G``, ``1.5GiB`` (powers of 1024); a mistake is one line."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not found:
        raise ZooError(f"{what}: {text!r} is not a size; give bytes, or a number with K, M, G or T (e.g. 2G)")
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def cache_limit() -> int | None:
    """The cap in bytes: ``$ZOO_CACHE_LIMIT``, else :data:`DEFAULT_LIMIT`; None for ``0`` (no cap)."""
    text = os.environ.get(LIMIT_ENV)
    limit = DEFAULT_LIMIT if text in (None, "") else parse_size(text)
    return limit or None


def touch(path: str | os.PathLike[str]) -> None:
    """Mark ``path`` as used now (a cache that cannot be touched only loses its ordering)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def link_blobs(export: Path, blobs: Iterable[Path]) -> None:
    """Note that the OpenVINO ``blobs`` were compiled from ``export``: one entry with it from now on."""
    for blob in blobs:
        with contextlib.suppress(OSError):
            blob.with_name(blob.name + LINK_SUFFIX).write_text(export.name + "\n")


def _files(root: Path) -> list[Path]:
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                continue  # a write in progress (or stranded: atomic_path sweeps those)
            found.append(Path(folder) / name)
    return found


def entries(root: Path | None = None) -> list[Entry]:
    """What the cache holds, most recently used first."""
    root = root or cache_dir()
    if not root.is_dir():
        return []
    found: dict[str, Entry] = {}
    links: dict[Path, str] = {}
    files = _files(root)
    for path in files:
        if path.name.endswith(LINK_SUFFIX):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                links[path.with_name(path.name.removesuffix(LINK_SUFFIX))] = path.read_text().strip()
    for path in files:
        try:
            info = path.stat()
        except OSError:
            continue  # removed meanwhile
        relative = path.relative_to(root)
        top = relative.parts[0] if len(relative.parts) > 1 else ""
        blob = path.with_name(path.name.removesuffix(LINK_SUFFIX)) if path.name.endswith(LINK_SUFFIX) else path
        if top == "openvino" and links.get(blob) and (root / "onnx" / links[blob]).is_file():
            key, kind = f"onnx/{links[blob]}", "export"
        elif top == "openvino" and path.name.endswith(LINK_SUFFIX):
            key, kind = str(blob.relative_to(root)), "openvino"
        elif top == "int8":  # an OpenVINO IR is its .xml with its .bin: one entry, removed together
            key, kind = str(relative.with_suffix(".onnx" if relative.suffix == ".onnx" else ".xml")), "int8"
        else:
            key = str(relative)
            kind = {"onnx": "export", "openvino": "openvino", "tensorrt": "tensorrt", "sets": "set"}.get(
                top, {"engines.json": "engines", "precision.json": "precision"}.get(key, "other"))
        entry = found.setdefault(key, Entry(kind, key))
        entry.files.append(path)
        entry.bytes += info.st_size
        if not path.name.endswith(LINK_SUFFIX):  # the note is written after the blob: it is no use
            entry.last_used = max(entry.last_used, info.st_mtime)
    return sorted(found.values(), key=lambda e: e.last_used, reverse=True)


def _remove(entry: Entry) -> None:
    for path in entry.files:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def prune(limit: int | None = None, *, keep: Iterable[str | os.PathLike[str]] = (), root: Path | None = None) -> list[Entry]:
    """Remove the entries used longest ago until the cache holds at most ``limit`` bytes
    (default :func:`cache_limit`); ``keep`` are files in use now, never removed. The removed entries."""
    limit = cache_limit() if limit is None else limit
    if limit is None:
        return []
    found = entries(root)
    total = sum(e.bytes for e in found)
    kept = {os.path.realpath(p) for p in keep}
    removed = []
    for entry in reversed(found):  # oldest use first
        if total <= limit:
            break
        if entry.kind == "engines" or entry.name in KEPT or any(os.path.realpath(p) in kept for p in entry.files):
            continue
        _remove(entry)
        total -= entry.bytes
        removed.append(entry)
    return removed


def clear(root: Path | None = None) -> list[Entry]:
    """Remove everything the cache holds; the removed entries."""
    root = root or cache_dir()
    found = entries(root)
    for entry in found:
        _remove(entry)
    if root.is_dir():
        for folder, subfolders, _ in os.walk(root, topdown=False):
            for name in subfolders:
                with contextlib.suppress(OSError):
                    (Path(folder) / name).rmdir()  # only empty ones: a file being written stays
    return found
