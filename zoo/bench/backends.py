"""Benchmark backends: each turns a model into a Runner for ``zoo.denoise``, or says why not.

The exporting backends write their ONNX files into :func:`temporary_exports`' folder, and OpenVINO
keeps no compiled model: a benchmark's weights are random (or a file's, once), so its exports
would only fill zoo's cache (220 MB for one ``openvino`` run of a full-size model)."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.export import OrtRunner, cached_export
from zoo.export.onnxlib import require
from zoo.export.openvino import OpenVinoRunner, require_openvino
from zoo.infer.runner import Runner, TorchRunner


class BackendUnavailable(Exception):
    """This backend cannot run here; the message says why (shown as a note, not an error)."""


BackendFactory = Callable[[nn.Module, torch.dtype, torch.device], Runner]
_export_folder: list[Path] = []  # the innermost temporary_exports() folder, if any


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
    process and removed when it exits (a script calling the backends directly)."""
    if not _export_folder:
        folder = Path(tempfile.mkdtemp(prefix="zoo-bench-"))
        atexit.register(shutil.rmtree, folder, True)
        _export_folder.append(folder)
    return cached_export(model, fp16=fp16, cache_dir=_export_folder[-1])


def eager(model: nn.Module, dtype: torch.dtype, device: torch.device) -> Runner:
    """Plain PyTorch in the default NCHW layout, nothing fused: the straightforward baseline."""
    return TorchRunner(model, dtype=dtype, device=device, channels_last=False)


def channels_last(model: nn.Module, dtype: torch.dtype, device: torch.device) -> Runner:
    """zoo.denoise's default path: channels_last tensors and weights."""
    return TorchRunner(model, dtype=dtype, device=device, channels_last=True)


def compiled(model: nn.Module, dtype: torch.dtype, device: torch.device) -> Runner:
    """torch.compile (inductor) over the channels_last model; the first call compiles."""
    if device.type == "cpu" and not shutil.which(os.environ.get("CXX", "g++")):
        raise BackendUnavailable("torch.compile on CPU needs a C++ compiler (set CXX or install g++)")
    return TorchRunner(model, dtype=dtype, device=device, channels_last=True, compile=True)


def onnxruntime(model: nn.Module, dtype: torch.dtype, device: torch.device, *, fp16: bool = False,
                provider: str | None = None) -> Runner:
    """The model exported to ONNX (cached between runs) in onnxruntime: float32, or float16 on a
    GPU. ``provider`` None follows the device: the CPU's own, or TensorRT, else CUDA."""
    if dtype != torch.float32:
        raise BackendUnavailable("onnxruntime backends run their own export: pick an -fp16 one for float16")
    if device.type == "cpu" and (fp16 or provider not in (None, "cpu")):
        raise BackendUnavailable("needs a GPU")
    try:
        require("onnxruntime")
        path = _export(model, fp16=fp16)
        return OrtRunner(path, provider=provider or ("cpu" if device.type == "cpu" else None),
                         threads=torch.get_num_threads(), device_id=device.index or 0)
    except ZooError as exc:
        raise BackendUnavailable(str(exc)) from None


def openvino(model: nn.Module, dtype: torch.dtype, device: torch.device, *, precision: str = "float32") -> Runner:
    """The same export in OpenVINO on the CPU, in ``precision`` (its inference precision hint).
    Each runs in its own dtype only (``openvino-bf16`` with ``--dtype bfloat16``), so that its
    fraction of the conv peak and its PSNR against float32 are taken against the right reference."""
    if device.type != "cpu":
        raise BackendUnavailable("OpenVINO runs on the CPU here")
    if dtype != {"float32": torch.float32, "bfloat16": torch.bfloat16}[precision]:
        raise BackendUnavailable(f"runs {precision}: " + ("use --dtype bfloat16" if precision == "bfloat16"
                                                          else "pick openvino-bf16 for bfloat16"))
    try:
        require_openvino()  # before a long export, not after it
        return OpenVinoRunner(_export(model), dtype=precision, threads=torch.get_num_threads(), cache=False)
    except ZooError as exc:
        raise BackendUnavailable(str(exc)) from None


def int8(model: nn.Module, dtype: torch.dtype, device: torch.device, *, engine: str) -> Runner:
    """The export quantized to INT8 for ``engine`` (NNCF for OpenVINO, static QDQ for onnxruntime),
    calibrated on :data:`CALIBRATION_BLOCKS` blocks of the built-in validation set for the model's
    channel count (random images for another count), the head and tail kept in float (as ``zoo
    quantize`` most often chooses); its own precision whatever ``--dtype`` says."""
    from zoo.export.quantize import SUFFIXES, int8_runner, write_card
    from zoo.export.quantizers import nncf_quantize, onnx_ops, openvino_ops, ort_quantize, scopes

    if device.type != "cpu":
        raise BackendUnavailable("INT8 runs on the CPU here")
    try:
        require("onnxruntime")
        if engine == "openvino":
            require_openvino()
            from zoo.export.quantizers import require_nncf

            require_nncf()
        source = _export(model)
        target = source.with_name(f"{source.stem}-int8{SUFFIXES[engine]}")
        if not target.is_file():
            if engine == "openvino":
                import openvino as ov

                keep = scopes(openvino_ops(ov.Core().read_model(str(source))))["head+tail"]
                nncf_quantize(source, _calibration(model), keep, target)
            else:
                import onnx

                ort_quantize(source, _calibration(model), scopes(onnx_ops(onnx.load(str(source))))["head+tail"], target)
            write_card(target, {"precision": "int8", "engine": engine, "made_by": "zoo bench (head+tail kept in float)"}, engine)
        return int8_runner(target, engine=engine, threads=torch.get_num_threads(), cache=False)
    except ZooError as exc:
        raise BackendUnavailable(str(exc)) from None


CALIBRATION_BLOCKS = 8


def _calibration(model: nn.Module) -> list:
    """Calibration batches for a benchmark's INT8 backends (see :func:`int8`)."""
    import numpy as np

    from zoo.contract import input_channels
    from zoo.data.crossdomain import BY_CHANNELS

    channels = input_channels(model)
    validation = BY_CHANNELS["validation"]
    if channels in validation:
        from zoo.data.specs import load_data
        from zoo.export.quantize import as_batch

        return [as_batch(pair) for pair in list(load_data(validation[channels]))[:CALIBRATION_BLOCKS]]
    rng = np.random.default_rng(0)
    return [rng.random((1, channels, 128, 128), dtype=np.float32) for _ in range(CALIBRATION_BLOCKS)]


BACKENDS: dict[str, BackendFactory] = {"eager": eager, "channels_last": channels_last, "compile": compiled}
for _provider in (None, "cuda", "tensorrt"):
    for _fp16 in (False, True):
        _name = "-".join(["onnxruntime", *([_provider] if _provider else []), *(["fp16"] if _fp16 else [])])
        BACKENDS[_name] = functools.partial(onnxruntime, fp16=_fp16, provider=_provider)
BACKENDS["openvino"] = functools.partial(openvino, precision="float32")
BACKENDS["openvino-bf16"] = functools.partial(openvino, precision="bfloat16")
BACKENDS["openvino-int8"] = functools.partial(int8, engine="openvino")
BACKENDS["onnxruntime-int8"] = functools.partial(int8, engine="onnxruntime")
DEFAULT_BACKENDS = ("eager", "channels_last")
# The precision a backend runs whatever --dtype says (the others follow --dtype): its row's
# fraction is of its own precision's peak (zoo.bench.peaks).
PRECISIONS = {**{name: "float16" if name.endswith("fp16") else "float32" for name in BACKENDS if name.startswith("onnxruntime")},
              "openvino": "float32", "openvino-bf16": "bfloat16", "openvino-int8": "int8", "onnxruntime-int8": "int8"}


def engine_of(name: str) -> str:
    """The engine a backend runs on: torch, onnxruntime or openvino."""
    return next((engine for engine in ("onnxruntime", "openvino") if name.startswith(engine)), "torch")
