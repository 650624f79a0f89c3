"""The engines ``zoo bench`` times: each name a row of the one table,
:data:`zoo.export.engine_table.TABLE` (``channels_last`` is its ``torch``), built for a benchmark.

A benchmark's exports go into :func:`temporary_exports`' folder, and OpenVINO keeps no compiled
model: a benchmark's weights are random (or a file's, once), so its exports would only fill zoo's
cache (220 MB for one ``openvino`` run of a full-size model). Each row runs in its own precision
where it names one (``openvino-bf16`` with ``--dtype bfloat16``; ``openvino`` is float32's in
``zoo bench``), so that its fraction of the conv peak and its PSNR against float32 are taken
against the right reference.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from zoo.export import cached_export, engine_table
from zoo.export.engine_table import EngineUnavailable
from zoo.infer.runner import Runner

EngineFactory = Callable[[nn.Module, torch.dtype, torch.device], Runner]
_export_folder: list[Path] = []  # the innermost temporary_exports() folder, if any
# zoo bench's names, in the table's order: channels_last is the table's torch.
NAMES = ("eager", "channels_last", "compile", *(name for name in engine_table.TABLE if name not in ("torch", "eager", "compile")))
PINNED = {"openvino": "float32"}  # zoo bench's openvino row has always been float32's (openvino-bf16 is bfloat16's)
DEFAULT_ENGINES = ("eager", "channels_last")


@contextlib.contextmanager
def temporary_exports() -> Iterator[Path]:
    """A folder for the exports of one benchmark, removed with everything in it afterwards."""
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as folder:
        _export_folder.append(Path(folder))
        try:
            yield Path(folder)
        finally:
            _export_folder.pop()


def _export(model: nn.Module, fp16: bool = False) -> Path:
    """The model's export for a benchmark: in the open temporary folder, else in one made for this
    process and removed when it exits (a script calling the engines directly)."""
    if not _export_folder:
        folder = Path(tempfile.mkdtemp(prefix="zoo-bench-"))
        atexit.register(shutil.rmtree, folder, True)
        _export_folder.append(folder)
    return cached_export(model, fp16=fp16, cache_dir=_export_folder[-1])


def build(name: str, model: nn.Module, dtype: torch.dtype, device: torch.device) -> Runner:
    """``name``'s runner for a benchmark (:func:`zoo.export.engine_table.build`); one that cannot
    run here raises :class:`EngineUnavailable`, shown as a note."""
    return engine_table.build(name, model, dtype=dtype, device=device, threads=torch.get_num_threads(), export=_export,
                              keep_compiled=False, precision=PINNED.get(name))


ENGINES: dict[str, EngineFactory] = {name: functools.partial(build, name) for name in NAMES}


def _precision(name: str) -> str | None:
    row = engine_table.row(name)
    return PINNED.get(name) or row.precision or ("float32" if row.engine == "onnxruntime" else None)


# The precision a row runs whatever --dtype says (the others follow --dtype): its fraction is of
# its own precision's peak (zoo.bench.peaks).
PRECISIONS = {name: precision for name in NAMES if (precision := _precision(name))}


def engine_of(name: str) -> str:
    """The engine a row runs on: torch, onnxruntime or openvino."""
    return engine_table.row(name).engine if name in NAMES else "torch"


# The older names, still accepted.
BACKENDS = ENGINES
DEFAULT_BACKENDS = DEFAULT_ENGINES
BackendUnavailable = EngineUnavailable
