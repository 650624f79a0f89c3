"""The one table from an engine's name to the runner that runs a model on it.

Every name ``--engine`` takes (``torch``, ``onnxruntime``, ``openvino``: :data:`ENGINES`) and every
name ``zoo bench --engines`` times (``eager``, ``channels_last``, ``compile``, the onnxruntime
providers, ``openvino-bf16``, the INT8 files) is a row here: its engine (torch, onnxruntime or
openvino), the precision it runs whatever ``--dtype`` says (None: the one asked for), and what
builds its runner. :func:`build` makes the runner; :func:`zoo.export.engines.make_runner` (what
``--engine`` picks) and :mod:`zoo.bench.engines` (what ``zoo bench`` times) both call it, the one
with zoo's export cache, the other with a temporary folder.

An engine that cannot run here raises :class:`EngineUnavailable`: a :class:`~zoo.errors.ZooError`
that says why in one line (an error for ``--engine``, a note for ``zoo bench``).
"""

from __future__ import annotations

import functools
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoo.cache import link_blobs, prune
from zoo.contract import input_channels, noise_channels
from zoo.data.crossdomain import BY_CHANNELS
from zoo.data.specs import load_data
from zoo.errors import ZooError
from zoo.export.cache import cached_export
from zoo.export.onnxlib import require
from zoo.export.openvino import OpenVinoRunner, openvino_cache_dir, require_openvino
from zoo.export.quantize import SUFFIXES, as_batch, int8_runner, write_card
from zoo.infer.conditioning import network_input
from zoo.export.quantizers import nncf_quantize, onnx_ops, openvino_ops, ort_quantize, require_nncf, scopes
from zoo.export.runner import OrtRunner
from zoo.infer.runner import Runner, TorchRunner, parse_device, resolve_dtype
from zoo.precision import DTYPES

ENGINES = ("torch", "onnxruntime", "openvino")  # what --engine names (zoo denoise, zoo ort, zoo eval)
CALIBRATION_BLOCKS = 8  # the INT8 rows' calibration set


class EngineUnavailable(ZooError):
    """This engine cannot run here; the message says why (one line)."""


def _zoo_export(model: nn.Module, fp16: bool = False) -> Path:
    return cached_export(model, fp16=fp16)


@dataclass(frozen=True)
class Setting:
    """What a runner is built for: the dtype asked (``dtype``) and what it resolves to on the
    device (``compute``), the threads, where the ONNX export goes, and whether OpenVINO keeps its
    compiled model in zoo's cache."""

    dtype: torch.dtype | str | None
    compute: torch.dtype
    device: torch.device
    threads: int | None = None
    export: Callable[[nn.Module, bool], Path] = _zoo_export
    keep_compiled: bool = True

    @property
    def precision(self) -> str:
        return next(name for name, value in DTYPES.items() if value == self.compute)


Builder = Callable[[nn.Module, Setting], Runner]


@dataclass(frozen=True)
class Row:
    engine: str  # torch, onnxruntime or openvino
    build: Builder
    precision: str | None = None  # what it runs whatever --dtype says; None: the dtype asked for


def torch_runner(model: nn.Module, s: Setting, *, channels_last: bool = True, compile: bool = False) -> Runner:
    """PyTorch: channels_last (zoo.denoise's path), plain NCHW (``eager``), or ``torch.compile``."""
    if compile and s.device.type == "cpu" and not shutil.which(os.environ.get("CXX", "g++")):
        raise EngineUnavailable("torch.compile on CPU needs a C++ compiler (set CXX or install g++)")
    return TorchRunner(model, dtype=s.dtype, device=s.device, channels_last=channels_last, compile=compile)


def onnxruntime_runner(model: nn.Module, s: Setting, *, fp16: bool = False, provider: str | None = None) -> Runner:
    """The model's float32 export (float16 on a GPU) in onnxruntime; ``provider`` None follows the
    device: the CPU's own, or TensorRT, else CUDA."""
    if s.compute != torch.float32:
        raise EngineUnavailable(f"onnxruntime runs the float32 export here, not {s.precision}: " +
                                ("pick an onnxruntime -fp16 engine for float16 on a GPU" if s.precision == "float16"
                                 else "use --engine openvino (bfloat16 on a CPU) or torch"))
    if s.device.type == "cpu" and (fp16 or provider not in (None, "cpu")):
        raise EngineUnavailable("needs a GPU")
    try:
        require("onnxruntime")
        return OrtRunner(s.export(model, fp16), provider=provider or ("cpu" if s.device.type == "cpu" else None),
                         threads=s.threads, device_id=s.device.index or 0)
    except ZooError as exc:
        raise EngineUnavailable(str(exc)) from None


def openvino_runner(model: nn.Module, s: Setting) -> Runner:
    """The same export in OpenVINO on the CPU, in the precision asked (its inference precision hint)."""
    if s.device.type != "cpu":
        raise EngineUnavailable("OpenVINO runs on the CPU here: use --device cpu, or --engine torch or onnxruntime on a GPU")
    try:
        require_openvino()  # before a long export, not after it
        export = s.export(model, False)
        if not s.keep_compiled:
            return OpenVinoRunner(export, dtype=s.compute, threads=s.threads, cache=False)
        blobs = openvino_cache_dir()
        before = set(blobs.glob("*.blob"))
        runner = OpenVinoRunner(export, dtype=s.compute, threads=s.threads)
    except ZooError as exc:
        raise EngineUnavailable(str(exc)) from None
    made = set(blobs.glob("*.blob")) - before
    if made:  # compiled now: one cache entry with its export, and the cache kept to its cap
        link_blobs(export, made)
        prune(keep=[export, *made])
    return runner


def int8_file_runner(model: nn.Module, s: Setting, *, engine: str) -> Runner:
    """The export quantized to INT8 for ``engine`` (NNCF for OpenVINO, static QDQ for onnxruntime),
    calibrated on :data:`CALIBRATION_BLOCKS` blocks of the built-in validation set for the model's
    channel count (random images for another count), the head and tail kept in float (as ``zoo
    quantize`` most often chooses); its own precision whatever ``--dtype`` says."""
    if s.device.type != "cpu":
        raise EngineUnavailable("INT8 runs on the CPU here")
    try:
        require("onnxruntime")
        if engine == "openvino":
            ov = require_openvino()
            require_nncf()
        source = s.export(model, False)
        target = source.with_name(f"{source.stem}-int8{SUFFIXES[engine]}")
        if not target.is_file():
            if engine == "openvino":
                keep = scopes(openvino_ops(ov.Core().read_model(str(source))))["head+tail"]
                nncf_quantize(source, _calibration(model), keep, target)
            else:
                onnx = require("onnx")
                ort_quantize(source, _calibration(model), scopes(onnx_ops(onnx.load(str(source))))["head+tail"], target)
            write_card(target, {"precision": "int8", "engine": engine, "made_by": "zoo bench (head+tail kept in float)"}, engine)
        return int8_runner(target, engine=engine, threads=s.threads, cache=s.keep_compiled)
    except ZooError as exc:
        raise EngineUnavailable(str(exc)) from None


def _calibration(model: nn.Module) -> list:
    """Calibration batches for the INT8 rows (see :func:`int8_file_runner`)."""
    channels, noise = input_channels(model), noise_channels(model)  # a noise-aware model takes its map too
    validation = BY_CHANNELS["validation"]
    if channels in validation:
        return [as_batch(pair, noise) for pair in list(load_data(validation[channels]))[:CALIBRATION_BLOCKS]]
    rng = np.random.default_rng(0)
    images = [rng.random((channels, 128, 128), dtype=np.float32) for _ in range(CALIBRATION_BLOCKS)]
    return [network_input(image) if noise else image[None] for image in images]


TABLE: dict[str, Row] = {
    "torch": Row("torch", torch_runner),
    "eager": Row("torch", functools.partial(torch_runner, channels_last=False)),
    "compile": Row("torch", functools.partial(torch_runner, compile=True)),
}
for _provider in (None, "cuda", "tensorrt"):
    for _fp16 in (False, True):
        _name = "-".join(["onnxruntime", *([_provider] if _provider else []), *(["fp16"] if _fp16 else [])])
        TABLE[_name] = Row("onnxruntime", functools.partial(onnxruntime_runner, fp16=_fp16, provider=_provider),
                           "float16" if _fp16 else None)  # float32 asked: the builder refuses another
TABLE["openvino"] = Row("openvino", openvino_runner)
TABLE["openvino-bf16"] = Row("openvino", openvino_runner, "bfloat16")
TABLE["openvino-int8"] = Row("openvino", functools.partial(int8_file_runner, engine="openvino"), "int8")
TABLE["onnxruntime-int8"] = Row("onnxruntime", functools.partial(int8_file_runner, engine="onnxruntime"), "int8")
ALIASES = {"channels_last": "torch"}  # zoo bench's name for zoo.denoise's PyTorch path


def row(name: str) -> Row:
    found = TABLE.get(ALIASES.get(name, name))
    if found is None:
        raise ZooError(f"unknown engine '{name}'; choose from {', '.join(TABLE)}")
    return found


def build(name: str, model: nn.Module, *, dtype: torch.dtype | str | None = None, device: torch.device | str | None = None,
          threads: int | None = None, export: Callable[[nn.Module, bool], Path] = _zoo_export,
          keep_compiled: bool = True, precision: str | None = None) -> Runner:
    """A runner for ``model`` on the engine ``name`` (a row of :data:`TABLE`, or an alias).
    ``precision`` pins what it must run in (a row's own pins it too): a ``--dtype`` that asks for
    another precision is :class:`EngineUnavailable`, naming the row that runs it."""
    entry = row(name)
    torch_device = parse_device(device)
    with warnings.catch_warnings():
        if entry.engine == "torch":  # TorchRunner resolves the dtype itself, and warns once
            warnings.simplefilter("ignore")
        compute = resolve_dtype(dtype, torch_device)
    pinned = precision or (entry.precision if entry.precision in ("float32", "bfloat16") else None)
    asked = next(key for key, value in DTYPES.items() if value == compute)
    if pinned and pinned != asked:
        other = next((key for key, other in TABLE.items() if other.engine == entry.engine and other.precision == asked), None)
        raise EngineUnavailable(f"runs {pinned}: " + (f"use --dtype {pinned}" if pinned != "float32" or not other
                                                      else f"pick {other} for {asked}"))
    setting = Setting(dtype if entry.engine == "torch" else compute, compute, torch_device, threads, export, keep_compiled)
    return entry.build(model, setting)
