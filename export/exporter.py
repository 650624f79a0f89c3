"""PyTorch model -> ONNX file: dynamic sizes, the model's own padding in the graph, metadata."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoo.contract import input_channels, model_config, model_name, noise_channels, size_multiple
from zoo.errors import ZooError, first_line
from zoo.export.onnxlib import INPUT_NAME, OUTPUT_NAME, require
from zoo.export.runner import OrtRunner
from zoo.fileio import atomic_path
from zoo.version import __version__

DEFAULT_OPSET = 18
MIN_OPSET = 18  # torch's exporter writes opset 18 and up; converting down fails on this graph (Pad)
# Traced at a size that is not a multiple of 8, so the graph keeps the padding path (for a size
# that needs none it pads by zero); checked at two sizes that differ from it and each other.
EXAMPLE_SIZE = (37, 101)
CHECK_SIZES = ((45, 67), (64, 48))
FP32_TOLERANCE = 1e-4
# float16 keeps 11 significant bits; measured max |fp16 - fp32| on [0, 1] inputs is about 6e-4
# for the full-size mwrcanet and mwresnet (random weights), so 1e-2 flags a broken graph, not
# rounding.
FP16_TOLERANCE = 1e-2


class _FloatBoundary(nn.Module):
    """float32 in and out, whatever precision the network runs in, so callers need not care."""

    def __init__(self, network: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.network, self.dtype = network, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x.to(self.dtype)).float()


def _leaky_relu_for_shared_prelu(module: nn.Module) -> None:
    """A one-slope PReLU is a LeakyReLU with a constant slope: onnxruntime fuses that into the
    convolution before it (12% faster on CPU for mwrcanet), but not a PRelu node."""
    for name, child in module.named_children():
        if isinstance(child, nn.PReLU) and child.weight.numel() == 1:
            setattr(module, name, nn.LeakyReLU(float(child.weight)))
        else:
            _leaky_relu_for_shared_prelu(child)


def prepare_for_export(model: nn.Module, fp16: bool = False) -> nn.Module:
    """An eval-mode float32-boundary copy of ``model`` ready to trace; ``model`` is untouched."""
    network = copy.deepcopy(model).eval().requires_grad_(False).cpu().float()
    _leaky_relu_for_shared_prelu(network)
    dtype = torch.float16 if fp16 else torch.float32
    return _FloatBoundary(network.to(dtype), dtype)


def model_metadata(model: nn.Module, fp16: bool) -> dict[str, str]:
    """What a reader of the .onnx file needs to use it right, as ONNX metadata properties. A
    noise-aware model's file says how many noise-map channels follow the ``zoo.in_channels`` image
    channels of its input (``zoo.noise_channels``): its runners report it, and ``zoo.denoise`` then
    builds the map beside the graph (:class:`zoo.infer.conditioning.Conditioned`)."""
    noise = noise_channels(model)
    return {
        "zoo.model": model_name(model),
        "zoo.config": json.dumps(model_config(model), sort_keys=True, default=str),
        "zoo.version": __version__,
        "zoo.input_layout": "NCHW",
        "zoo.value_range": "[0, 1]",
        "zoo.in_channels": str(input_channels(model)),
        "zoo.size_multiple": str(size_multiple(model)),
        "zoo.precision": "float16" if fp16 else "float32",
        **({"zoo.noise_channels": str(noise)} if noise else {}),
    }


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter narrates its steps on stdout, logs and warns about its own internals (e.g.
    torchvision ops it skips): none of it is the user's business; a failure is raised."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@dataclass
class ExportResult:
    path: Path
    metadata: dict[str, str]
    opset: int = DEFAULT_OPSET  # of the default ONNX domain, as written in the file
    max_abs_diff: dict[str, float] = field(default_factory=dict)  # per checked input shape
    tolerance: float | None = None


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    fp16: bool = False,
    batch: int | None = None,
    check: bool = True,
) -> ExportResult:
    """Write ``model`` as ONNX to ``path`` (atomically) and return what was written.

    Height and width are always dynamic, and so is the batch unless ``batch`` fixes it. The graph
    holds the model's own padding, so it takes any size. ``fp16`` runs the network in float16
    between float32 input and output. ``check`` runs the file in onnxruntime on two input
    sizes against PyTorch and raises when they differ by more than the tolerance
    (:data:`FP32_TOLERANCE`, or :data:`FP16_TOLERANCE` for ``fp16``).
    """
    onnx = require("onnx")
    require("onnxscript")  # torch's ONNX exporter needs it
    if batch is not None and batch < 1:
        raise ZooError(f"batch must be positive or dynamic, got {batch}")
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ZooError(f"opset {opset} is not available: torch's exporter writes {MIN_OPSET} to {newest} here")
    channels = input_channels(model) + noise_channels(model)  # the network's whole input: image, then noise map
    wrapper = prepare_for_export(model, fp16)
    example = torch.rand(batch or 2, channels, *EXAMPLE_SIZE, generator=torch.Generator().manual_seed(0))
    dim = torch.export.Dim.DYNAMIC
    shapes = {"x": {0: dim, 2: dim, 3: dim} if batch is None else {2: dim, 3: dim}}
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                wrapper, (example,), dynamo=True, opset_version=opset, dynamic_shapes=shapes,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], verbose=False, report=False,
            )
    except Exception as exc:
        raise ZooError(f"ONNX export failed: {type(exc).__name__}: {first_line(exc)[:300]}") from exc
    if program is None:  # dynamo=True returns the program (None is the legacy exporter's answer)
        raise ZooError("ONNX export failed: the exporter returned no program")
    proto = program.model_proto
    written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:  # never hand on a file that is not what was asked for
        raise ZooError(f"asked for opset {opset}, the exporter wrote {written}")
    metadata = model_metadata(model, fp16)
    onnx.helper.set_model_props(proto, metadata)
    proto.producer_name, proto.producer_version = "zoo", __version__
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ZooError(f"the exported graph fails onnx.checker: {first_line(exc)}") from exc
    target = Path(path)
    result = ExportResult(target, metadata, opset=written)
    try:
        with atomic_path(target) as tmp:
            onnx.save_model(proto, str(tmp))
            if check:  # the file is checked before it takes the target's place: a failure keeps what was there
                result.tolerance = FP16_TOLERANCE if fp16 else FP32_TOLERANCE
                try:
                    result.max_abs_diff = compare_with_torch(tmp, model, batch=batch or 2)
                except ZooError as exc:  # e.g. an opset this onnxruntime cannot run; named by the target
                    message = str(exc).replace(f"{tmp}: ", "").replace(str(tmp), str(target))
                    raise ZooError(f"{target}: {message} (not written)") from None
                worst = max(result.max_abs_diff.values())
                if worst > result.tolerance:
                    raise ZooError(f"onnxruntime differs from PyTorch by {worst:.2e} (> {result.tolerance:g}); "
                                   f"{target} not written")
    except OSError as exc:  # a folder in the way, a file where a folder should be, a full disk
        raise ZooError(f"cannot write {target}: {first_line(exc)}") from None
    return result


def compare_with_torch(path: str | os.PathLike[str], model: nn.Module, *, batch: int = 2,
                       sizes: tuple[tuple[int, int], ...] = CHECK_SIZES) -> dict[str, float]:
    """Max |onnxruntime - PyTorch float32| on random [0, 1] inputs, per input shape (CPU); a
    noise-aware model's input holds its noise-map channels too (random values, as the graph sees them)."""
    runner = OrtRunner(path, provider="cpu")
    reference = copy.deepcopy(model).eval().cpu().float()
    generator = torch.Generator().manual_seed(1)
    diffs: dict[str, float] = {}
    for height, width in sizes:
        channels = (runner.in_channels or input_channels(model)) + runner.noise_channels
        x = torch.rand(batch, channels, height, width, generator=generator)
        with torch.inference_mode():
            expected = reference(x)
        got = runner(x)
        diffs["x".join(map(str, x.shape))] = float(np.abs(got.numpy() - expected.numpy()).max())
    return diffs

