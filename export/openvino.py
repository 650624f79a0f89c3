"""``OpenVinoRunner``: a ``zoo export`` ONNX file, or a model in memory through the same export, in
OpenVINO on the CPU, as a Runner for ``zoo.denoise`` (the same tiling and self-ensemble as every
other backend). ``pip install "zoo-denoise[openvino]"``.

Measured on this project's 2-core AMD EPYC (benchmarks/results/engines-cpu-amd-epyc-2t.md),
OpenVINO's CPU plugin runs the full-size mwrcanet at 0.95 (float32) and 0.94 (bfloat16) of the
3x3-conv peak, zoo's PyTorch path at 0.92 and 0.89; on the small demo models PyTorch is as fast
or faster. ``--engine auto`` picks whichever measures fastest (:mod:`zoo.export.engines`,
``docs/engines.md``).
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from zoo.errors import ZooError, first_line
from zoo.export.cache import cached_export
from zoo.export.onnxlib import INPUT_NAME, OUTPUT_NAME, run_in_fixed_batches
from zoo.export.runner import _metadata_int, file_channels  # the same rules for zoo.* metadata as onnxruntime's runner
from zoo.fileio import cache_dir
from zoo.infer.runner import DTYPES
from zoo.install import require
from zoo.limits import check_threads
from zoo.terminal import printable

# zoo's precision names -> OpenVINO's inference precision hint. The hint must always be given:
# on a CPU with bfloat16 instructions OpenVINO's default is bf16, so "float32" would silently not be.
PRECISIONS = {"float32": "f32", "bfloat16": "bf16"}


def require_openvino() -> ModuleType:
    """Import openvino, or say in one line how to install it."""
    return require("openvino", extra="openvino")


def openvino_installed() -> bool:
    """Whether openvino can be imported, without importing it (it takes about a second)."""
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def openvino_cache_dir() -> Path:
    """Where OpenVINO keeps compiled models between runs: ``openvino/`` in zoo's cache."""
    return cache_dir() / "openvino"


@functools.cache
def cpu_capabilities() -> tuple[str, ...]:
    """OpenVINO's CPU optimisation capabilities here (e.g. ``FP32``, ``BF16``, ``WINOGRAD``)."""
    return tuple(require_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def resolve_precision(dtype: torch.dtype | str | None) -> str:
    """zoo's name of the inference precision (``float32`` or ``bfloat16``) for ``dtype``."""
    if isinstance(dtype, torch.dtype):
        dtype = next((name for name, value in DTYPES.items() if value == dtype), str(dtype))
    name = dtype or "float32"
    if name == "float16":
        raise ZooError("float16 inference needs a GPU; on a CPU use bfloat16")
    if name not in PRECISIONS:
        raise ZooError(f"unknown dtype '{name}' for OpenVINO; choose from {', '.join(PRECISIONS)}")
    if name == "bfloat16" and "BF16" not in cpu_capabilities():
        warnings.warn("this CPU has no bfloat16 support: running in float32", RuntimeWarning, stacklevel=3)
        return "float32"
    return name


class OpenVinoRunner:
    """Runs a file written by :func:`zoo.export.export_onnx` (float32 NCHW in and out) on the CPU.

    ``source`` is that file, or an ``nn.Module`` exported first through
    :func:`zoo.export.cached_export` (kept between runs; needs the ``onnx`` extra). ``dtype``
    ``bfloat16`` sets OpenVINO's inference precision hint (its convolutions in bf16);
    ``threads`` the CPU threads (default: as many as torch uses); one inference at a time runs on
    all of them (OpenVINO's latency mode: its throughput mode, a batch spread over parallel
    streams, gained nothing measurable here and was removed, docs/engines.md). ``static_shapes`` compiles the graph again for
    each input shape it meets (as tiles all of one size are), instead of running one graph of
    dynamic size. Compiled models are kept in :func:`openvino_cache_dir` (``cache=False``: not),
    so a second start skips compilation.
    """

    def __init__(self, source: str | os.PathLike[str] | nn.Module, *, dtype: torch.dtype | str | None = None,
                 threads: int | None = None, static_shapes: bool = False, cache: bool = True) -> None:
        ov = require_openvino()
        check_threads(threads, "threads")
        self.precision = resolve_precision(dtype)
        self.path = _onnx_file(source)
        self.threads, self.static_shapes = threads or torch.get_num_threads(), static_shapes
        self._core = ov.Core()
        try:
            self._model = self._core.read_model(str(self.path))
        except Exception as exc:
            raise ZooError(f"{self.path}: OpenVINO cannot read it as a model ({first_line(exc)[:200]})") from None
        shape, out_shape = _check_graph(self._model, self.path)  # the interface first: then what the file says of itself
        self.metadata = _metadata(self._model)
        # in_channels: the image's; a noise-aware file also takes noise_channels of the map
        # (zoo.infer.conditioning.Conditioned appends it per batch), as OrtRunner reads it.
        self.in_channels, self.noise_channels = file_channels(
            self.metadata, shape[1].get_length() if shape[1].is_static else None,
            out_shape[1].get_length() if out_shape[1].is_static else None, self.path)
        self.size_multiple = _metadata_int(self.metadata, "zoo.size_multiple", self.path) or 1  # tiles on the model's grid
        self.fixed_batch: int | None = shape[0].get_length() if shape[0].is_static else None
        self.config: dict[str, object] = {
            "INFERENCE_PRECISION_HINT": PRECISIONS[self.precision],
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": "LATENCY",
        }
        if cache:
            self.config["CACHE_DIR"] = str(openvino_cache_dir())
        # Compiled from the model read above, not from its path: OpenVINO keys a path's cache entry
        # on its name, size and mtime in seconds, so a file re-exported in the same second with other
        # weights would load the old blob; a model is keyed on a hash of its graph and weights.
        self._compiled: dict[tuple[int, ...] | None, tuple] = {}
        self.compiled = self._compile(None)
        self.loaded_from_cache = bool(cache and self.compiled.get_property("LOADED_FROM_CACHE"))
        file_precision = printable(self.metadata.get("zoo.precision", "float32"), one_line=True)  # printed
        details = [self.precision, "latency"]
        details += [f"{self.threads} threads"] + (["static shapes"] if static_shapes else [])
        details += [f"{file_precision} file"] if file_precision != "float32" else []
        self.device = f"OpenVINO {ov.__version__.split('-')[0]} CPU ({', '.join(details)})"

    def _compile(self, shape: tuple[int, ...] | None):
        """The compiled model for inputs of ``shape`` (None: any shape), compiled on first use."""
        if shape in self._compiled:
            return self._compiled[shape][0]
        model = self._model
        if shape:  # a fixed input size: OpenVINO plans memory and picks kernels for it once
            model = model.clone()
            model.reshape({0: list(shape)})
        try:
            compiled = self._core.compile_model(model, "CPU", self.config)
        except Exception as exc:
            raise ZooError(f"{self.path}: OpenVINO cannot compile it for the CPU ({first_line(exc)[:200]})") from None
        self._compiled[shape] = (compiled, compiled.create_infer_request())
        return compiled

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(run_in_fixed_batches(x, self.fixed_batch, self._run))

    def _run(self, x: np.ndarray) -> np.ndarray:
        key = tuple(x.shape) if self.static_shapes else None
        self._compile(key)
        _, request = self._compiled[key]
        # share_inputs: no copy of the input; the output is copied (the request reuses its buffer).
        return request.infer({0: x}, share_inputs=True)[OUTPUT_NAME].copy()


def _onnx_file(source: str | os.PathLike[str] | nn.Module) -> Path:
    """The ONNX file to run: ``source`` itself, or its cached export."""
    if isinstance(source, nn.Module):
        return cached_export(source)
    path = Path(source)
    if not path.is_file():
        raise ZooError(f"{path}: no such ONNX file")
    return path


_FLOAT_TYPES = ("f32", "f16", "f64", "bf16")


def _check_graph(model, path: Path):
    """The input's and the output's partial shapes, once the graph is found to take and give what zoo.denoise needs
    (as :class:`~zoo.export.OrtRunner` checks): one float32 ``(N, C, H, W)`` input named as the
    exporter names it, and a float output of rank 4 named so too."""
    inputs = model.inputs
    names = [sorted(port.get_names()) for port in inputs]
    if len(inputs) != 1 or INPUT_NAME not in names[0]:
        raise ZooError(f"{path}: expected one input named '{INPUT_NAME}' (a file from zoo export), "
                       f"found {', '.join(repr(n[0]) for n in names if n) or 'none'}")
    shape, kind = inputs[0].get_partial_shape(), inputs[0].get_element_type().get_type_name()
    if kind != "f32" or shape.rank.is_dynamic or shape.rank.get_length() != 4:
        raise ZooError(f"{path}: input '{INPUT_NAME}' must be a float32 (N, C, H, W) tensor, got {kind} of rank {shape.rank}")
    output = next((port for port in model.outputs if OUTPUT_NAME in port.get_names()), None)
    if output is None:
        raise ZooError(f"{path}: expected an output named '{OUTPUT_NAME}' (a file from zoo export), found "
                       f"{', '.join(repr(sorted(p.get_names())[0]) for p in model.outputs if p.get_names()) or 'none'}")
    out_shape, out_kind = output.get_partial_shape(), output.get_element_type().get_type_name()
    if out_kind not in _FLOAT_TYPES or out_shape.rank.is_dynamic or out_shape.rank.get_length() != 4:
        raise ZooError(f"{path}: output '{OUTPUT_NAME}' must be a float (N, C, H, W) tensor, got {out_kind} "
                       f"of rank {out_shape.rank}")
    return shape, out_shape


def _metadata(model) -> dict[str, str]:
    """The ``zoo.*`` metadata the exporter wrote (OpenVINO keeps ONNX metadata under ``framework``).

    A file without metadata has no ``framework`` entry, and OpenVINO then hands back an empty
    value whose every use raised AttributeError: the keys are looked at first, and anything
    OpenVINO cannot convert counts as no metadata."""
    try:
        info = model.get_rt_info()
        if "framework" not in list(info.keys()):
            return {}
        framework = info["framework"]
        if not isinstance(framework, dict):
            return {}
        return {str(key): str(value.astype(str)) for key, value in framework.items()}
    except Exception:  # noqa: BLE001 - OpenVINO's bindings raise several types for odd metadata
        return {}
