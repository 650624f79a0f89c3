"""``OrtRunner``: an .onnx file in onnxruntime, as a Runner for ``zoo.denoise`` (the same tiling
and self-ensemble as the PyTorch backend)."""

from __future__ import annotations

import contextlib
import glob
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from zoo.terminal import printable
from zoo.errors import ZooError, first_line
from zoo.export.onnxlib import INPUT_NAME, OUTPUT_NAME, run_in_fixed_batches, require
from zoo.fileio import cache_dir
from zoo.limits import check_threads
from zoo.waiting import no_spinning

PROVIDERS = {"tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}
PREFERENCE = ("tensorrt", "cuda", "cpu")


def gpu_present() -> bool | None:
    """Whether an NVIDIA GPU is visible to this process (None: cannot tell on this system)."""
    if not sys.platform.startswith("linux"):
        return None
    return bool(glob.glob("/dev/nvidia[0-9]*")) or bool(glob.glob("/proc/driver/nvidia/gpus/*"))


@contextlib.contextmanager
def _silenced(ort, quiet: bool) -> Iterator[None]:
    """onnxruntime reports a GPU provider that cannot start (missing CUDA, cuDNN or TensorRT
    libraries) in many lines of its log and on stdout; the runner says it in one line instead."""
    if not quiet:
        yield
        return
    ort.set_default_logger_severity(4)  # fatal only
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        ort.set_default_logger_severity(3)  # errors, as for every session the runner opens


def _provider_options(name: str, device_id: int, cache_dir: Path) -> dict[str, str]:
    if name == "cuda":
        # Exhaustive cuDNN algorithm search with the largest workspace: the fastest kernels for
        # these fixed 3x3 convolutions, found once per input shape.
        return {"device_id": str(device_id), "cudnn_conv_algo_search": "EXHAUSTIVE",
                "cudnn_conv_use_max_workspace": "1", "do_copy_in_default_stream": "1"}
    if name == "tensorrt":
        # Engines take minutes to build for the full-size networks: keep them between runs.
        return {"device_id": str(device_id), "trt_engine_cache_enable": "True",
                "trt_engine_cache_path": str(cache_dir / "tensorrt"), "trt_timing_cache_enable": "True",
                "trt_timing_cache_path": str(cache_dir / "tensorrt")}
    return {}


def default_cache_dir() -> Path:
    """Where exported graphs and TensorRT engines are kept (:func:`zoo.fileio.cache_dir`)."""
    return cache_dir()


# Element types onnxruntime names; the runner feeds float32 and reads back any float.
_FLOAT_OUTPUTS = ("tensor(float)", "tensor(float16)", "tensor(double)", "tensor(bfloat16)")
_MAX_DECLARED = 1 << 16  # a channel count or size multiple beyond this is not a real model's


def _check_graph(session, path: Path) -> tuple[list, list]:
    """The input's and the output's shapes, once the graph is found to take and give what zoo.denoise needs: one
    float32 ``(N, C, H, W)`` input named as the exporter names it and a float output of rank 4.
    A graph casting its output to int32 gave an all-zero image with exit 0."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    found = {i.name: i for i in inputs}
    if INPUT_NAME not in found or len(inputs) != 1:
        raise ZooError(f"{path}: expected one input named '{INPUT_NAME}' (a file from zoo export), "
                       f"found {', '.join(repr(n) for n in found) or 'none'}")
    graph_input = found[INPUT_NAME]
    if graph_input.type != "tensor(float)" or len(graph_input.shape or ()) != 4:
        raise ZooError(f"{path}: input '{INPUT_NAME}' must be a float32 (N, C, H, W) tensor, got "
                       f"{graph_input.type} of rank {len(graph_input.shape or ())}")
    output = next((o for o in outputs if o.name == OUTPUT_NAME), None)
    if output is None:
        raise ZooError(f"{path}: expected an output named '{OUTPUT_NAME}' (a file from zoo export), "
                       f"found {', '.join(repr(o.name) for o in outputs) or 'none'}")
    if output.type not in _FLOAT_OUTPUTS or len(output.shape or ()) != 4:
        raise ZooError(f"{path}: output '{OUTPUT_NAME}' must be a float (N, C, H, W) tensor, got {output.type} "
                       f"of rank {len(output.shape or ())}")
    return list(graph_input.shape), list(output.shape)


def _metadata_int(metadata: dict[str, str], key: str, path: Path) -> int | None:
    """A positive int from the file's ``zoo.*`` metadata; None when absent."""
    text = metadata.get(key)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= _MAX_DECLARED:
        raise ZooError(f"{path}: its metadata '{key}' must be a whole number from 1 to {_MAX_DECLARED}, got {text[:40]!r}")
    return value


def file_channels(metadata: dict[str, str], graph_in: int | None, graph_out: int | None, path: Path) -> tuple[int | None, int]:
    """The image channels a file takes and its noise-map channels (0: blind), from its ``zoo.*``
    metadata and its graph's channel counts (None: dynamic).

    A noise-aware file (``zoo.noise_channels``: a noise-aware model's export, :mod:`zoo.infer.conditioning`
    builds its map) takes ``in_channels + noise_channels`` and gives ``in_channels``: a graph that says
    otherwise would fail at the first image, or give the noise map back as image, so it is refused here."""
    noise = _metadata_int(metadata, "zoo.noise_channels", path) or 0
    declared = _metadata_int(metadata, "zoo.in_channels", path)
    if not noise:
        return declared or graph_in, 0
    channels = declared or (graph_in - noise if graph_in is not None and graph_in > noise else None)
    if channels is None:
        raise ZooError(f"{path}: its metadata says it is noise-aware ({noise} noise channels), but not how many image "
                       "channels it takes (zoo.in_channels), and its graph does not tell")
    if graph_in is not None and graph_in != channels + noise:
        raise ZooError(f"{path}: its metadata says {channels} image + {noise} noise channels, but its input "
                       f"'{INPUT_NAME}' takes {graph_in}")
    if graph_out is not None and graph_out != channels:
        raise ZooError(f"{path}: its metadata says it gives {channels} image channels, but its output "
                       f"'{OUTPUT_NAME}' has {graph_out}")
    return channels, noise


class OrtRunner:
    """Runs an .onnx file written by :func:`zoo.export.export_onnx` (float32 NCHW in and out).

    ``provider`` None tries TensorRT, then CUDA, then the CPU, and keeps the first that starts;
    naming one (``tensorrt``, ``cuda``, ``cpu``) makes its failure an error. ``provider_used``
    and ``device`` say what actually runs. On a GPU, input and output live in device memory
    (I/O binding). ``threads`` sets the CPU threads (default: as many as torch uses).
    """

    def __init__(self, path: str | os.PathLike[str], *, provider: str | None = None, threads: int | None = None,
                 device_id: int = 0) -> None:
        ort = require("onnxruntime")
        self.path = Path(path)
        if not self.path.is_file():
            raise ZooError(f"{self.path}: no such ONNX file")
        check_threads(threads, "threads")
        if provider is not None and provider not in PROVIDERS:
            raise ZooError(f"unknown provider '{provider}'; choose from {', '.join(PROVIDERS)}")
        self.device_id = device_id
        self.notes: list[str] = []  # why preferred providers were passed over, in words
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        no_spinning(options)  # beside other busy processes, spinning threads take the cores from the working ones
        options.log_severity_level = 3  # our own one-line notes replace onnxruntime's log
        self.session = self._open(ort, options, provider)
        self.provider_used = next(k for k, v in PROVIDERS.items() if v == self.session.get_providers()[0])
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.metadata = dict(metadata)
        shape, out_shape = _check_graph(self.session, self.path)
        # in_channels: the image's (what zoo.denoise reads); a noise-aware file's input also takes
        # noise_channels of the map that zoo.infer.conditioning.Conditioned appends per batch.
        self.in_channels, self.noise_channels = file_channels(
            metadata, shape[1] if isinstance(shape[1], int) else None,
            out_shape[1] if isinstance(out_shape[1], int) else None, self.path)
        self.size_multiple = _metadata_int(metadata, "zoo.size_multiple", self.path) or 1  # tiles on the model's grid
        self.fixed_batch: int | None = shape[0] if isinstance(shape[0], int) else None
        precision = printable(metadata.get("zoo.precision", "float32"), one_line=True)  # the file's words, on a terminal
        where = "cpu" if self.provider_used == "cpu" else f"cuda:{device_id}"
        self.device = f"onnxruntime {PROVIDERS[self.provider_used]} ({where}, {precision})"
        self._on_gpu = self.provider_used != "cpu"

    def _open(self, ort, options, provider: str | None):
        available = set(ort.get_available_providers())
        candidates = [provider] if provider else list(PREFERENCE)
        gpu = gpu_present()
        for name in candidates:
            if PROVIDERS[name] not in available:
                self.notes.append(f"{name}: not in this onnxruntime build (pip install onnxruntime-gpu)")
                continue
            if name != "cpu" and gpu is False:
                self.notes.append(f"{name}: no NVIDIA GPU found")
                continue
            cache_dir = default_cache_dir()
            session_providers: list[str | tuple[str, dict[str, str]]] = [
                (PROVIDERS[name], _provider_options(name, self.device_id, cache_dir))]
            if name == "tensorrt":  # CUDA for any node TensorRT does not take, as onnxruntime advises
                session_providers.append((PROVIDERS["cuda"], _provider_options("cuda", self.device_id, cache_dir)))
            if name != "cpu":
                session_providers.append(PROVIDERS["cpu"])  # for the few nodes a GPU provider lacks
            try:
                with _silenced(ort, quiet=name != "cpu"):
                    if name != "cpu" and hasattr(ort, "preload_dlls"):
                        ort.preload_dlls()  # CUDA and cuDNN from pip's nvidia-* wheels, when they are there
                    session = ort.InferenceSession(str(self.path), options, providers=session_providers)
            except Exception as exc:
                message = first_line(exc).removeprefix("[ONNXRuntimeError] : ")
                if name == "cpu" or "INVALID_PROTOBUF" in message or "INVALID_GRAPH" in message:
                    raise ZooError(f"{self.path}: onnxruntime cannot load it as a model ({message[:200]})") from None
                self.notes.append(f"{name}: {message[:200]}")
                continue
            if session.get_providers()[0] == PROVIDERS[name]:
                return session
            self.notes.append(f"{name}: could not start (CUDA, cuDNN or TensorRT libraries missing?)")
        if provider:
            raise ZooError(f"onnxruntime provider '{provider}' is not usable here: {self.notes[-1].split(': ', 1)[1]}")
        raise ZooError(f"no onnxruntime provider could run {self.path}: {'; '.join(self.notes)}")

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(run_in_fixed_batches(x, self.fixed_batch, self._run))

    def _run(self, x: np.ndarray) -> np.ndarray:
        if not self._on_gpu:
            return self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
        import onnxruntime as ort

        binding = self.session.io_binding()
        binding.bind_ortvalue_input(INPUT_NAME, ort.OrtValue.ortvalue_from_numpy(x, "cuda", self.device_id))
        binding.bind_output(OUTPUT_NAME, "cuda", self.device_id)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]
