"""Opening a camera raw file with LibRaw (rawpy): the one place that does.

:func:`zoo.imageio.read_image` (the normalised mosaic) and the raw workflow's development
(:mod:`zoo.raw.develop`, the CLI's DNG and developed outputs) both open files here, so both
refuse a file LibRaw would identify by its size alone, name the ``raw`` extra when rawpy is
missing, and turn LibRaw's errors into one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zoo.errors import ZooError, first_line
from zoo.install import require
from zoo.raw.mosaic import refuse_headerless


@contextmanager
def open_raw(file: Path, *, what: str = "camera raw file") -> Iterator[Any]:
    """A ``rawpy.RawPy`` for ``file``; its errors as one-line :class:`ZooError`s. ``what`` starts
    the missing-rawpy line (``WHAT FILE needs rawpy: ...``). A file without a raw header is refused
    (:func:`zoo.raw.mosaic.refuse_headerless`)."""
    rawpy = require("rawpy", f"{what} {file}", extra="raw")  # optional and heavy: imported here
    refuse_headerless(file)
    try:
        with rawpy.imread(str(file)) as raw:
            yield raw
    except rawpy.LibRawError as exc:
        raise ZooError(f"cannot read {file}: LibRaw cannot decode it ({first_line(exc)})") from exc
