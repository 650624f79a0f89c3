"""The two INT8 quantizers behind ``zoo quantize``: NNCF for OpenVINO, onnxruntime's static QDQ.

Each takes the float32 ONNX export, calibration images (what the network is given: the noisy
``(1, C, H, W)`` float32 image, followed for a noise-aware network by its noise map) and
the names of what stays in higher precision, and writes a quantized file (OpenVINO IR ``.xml`` and
``.bin``; ONNX with QuantizeLinear/DequantizeLinear pairs). What stays in float is named per
graph by :func:`scopes`: the Haar transforms and the first and last learned convolutions (head,
tail), the residual additions; :mod:`zoo.export.quantize` measures which to keep.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.export.onnxlib import INPUT_NAME
from zoo.infer.pipeline import denoise
from zoo.install import require
from zoo.metrics import psnr

Batch = np.ndarray
SCOPES = ("none", "head+tail", "head+tail+adds")  # from the most INT8 to the least


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """NNCF draws progress bars on the terminal (its log level does not reach them): zoo says one
    line per step instead."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def require_nncf():
    nncf = require("nncf", "INT8 for OpenVINO", extra="openvino")
    nncf.set_log_level(40)  # its progress bars and info lines would bury zoo's own
    return nncf


def scopes(kinds: Sequence[tuple[str, str, list[str], bool]]) -> dict[str, list[str]]:
    """What each of :data:`SCOPES` keeps in float, from the graph's ops in order as ``(name, kind,
    input names, residual)``: kind ``conv`` (learned), ``haar`` (a constant-weight transform) or
    ``add``; ``residual`` marks an addition of two feature maps (not a bias, not shape arithmetic)."""
    convs = [name for name, kind, _, _ in kinds if kind == "conv"]
    haar = [name for name, kind, _, _ in kinds if kind == "haar"]
    adds = [name for name, kind, _, residual in kinds if kind == "add" and residual]
    head_tail = haar + convs[:1] + convs[-1:] + adds[-1:]  # the last addition puts the input back
    return {"none": [], "head+tail": list(dict.fromkeys(head_tail)),
            "head+tail+adds": list(dict.fromkeys(head_tail + adds))}


def openvino_ops(model) -> list[tuple[str, str, list[str], bool]]:
    """:func:`scopes`' view of an OpenVINO model read from zoo's export."""
    def constant(node) -> bool:
        kind = node.get_type_name()
        return kind == "Constant" or (kind in ("Reshape", "Convert") and constant(node.input(0).get_source_output().get_node()))

    found: list[tuple[str, str, list[str], bool]] = []
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        inputs = [port.get_source_output().get_node() for port in op.inputs()]
        if kind in ("Convolution", "ConvolutionBackpropData", "GroupConvolution"):
            weights = inputs[1]
            learned = weights.get_type_name() == "Constant" and "weight" in weights.get_friendly_name()
            found.append((op.get_friendly_name(), "conv" if learned else "haar", [], False))
        elif kind == "Add":
            rank = op.get_output_partial_shape(0).rank
            residual = rank.is_static and rank.get_length() == 4 and not any(constant(node) for node in inputs)
            found.append((op.get_friendly_name(), "add", [], residual))
    return found


def onnx_ops(model) -> list[tuple[str, str, list[str], bool]]:
    """:func:`scopes`' view of an ONNX graph (zoo's export: the bias is inside each Conv)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    ranks = {info.name: len(info.type.tensor_type.shape.dim) for info in
             [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]}
    constants = {init.name for init in model.graph.initializer}
    constants |= {out for node in model.graph.node if node.op_type == "Constant" for out in node.output}
    found = []
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            learned = len(node.input) > 1 and "weight" in node.input[1]  # a module's parameter, not a Haar filter
            found.append((node.name, "conv" if learned else "haar", list(node.input), False))
        elif node.op_type == "Add":
            residual = all(name not in constants and ranks.get(name) == 4 for name in node.input)
            found.append((node.name, "add", list(node.input), residual))
    return found


def nncf_quantize(source: Path, calibration: Sequence[Batch], keep: list[str], target: Path) -> None:
    """NNCF post-training quantization of the ONNX ``source`` for OpenVINO, ``keep`` in float, to
    IR at ``target`` (.xml with its .bin)."""
    nncf = require_nncf()
    import openvino as ov

    model = ov.Core().read_model(str(source))
    with quiet():
        quantized = nncf.quantize(model, nncf.Dataset(list(calibration)), preset=nncf.QuantizationPreset.MIXED,
                                  subset_size=len(calibration), ignored_scope=nncf.IgnoredScope(names=keep, validate=False))
    save_openvino(quantized, target)


def nncf_accuracy_control(source: Path, calibration: Sequence[Batch],
                          validation: Sequence[tuple[Batch, np.ndarray, np.ndarray]], keep: list[str], max_drop: float,
                          target: Path, as_runner: Callable[[Any], Any], iterations: int = 40) -> None:
    """NNCF's quantization with accuracy control: quantized as :func:`nncf_quantize`, then the ops
    that cost the most PSNR on ``validation`` are put back in float, one at a time (at most
    ``iterations``), until it is at most ``max_drop`` dB below float32. Each validation item is
    (what the network is given, the noisy image, the clean one): NNCF feeds the first to the
    network where it runs it itself; the PSNR is of ``zoo.denoise`` of the noisy image through
    ``as_runner(compiled model)``, as zoo measures every loss (a noise-aware model's map built
    beside the network by :class:`zoo.infer.conditioning.Conditioned`)."""
    nncf = require_nncf()
    import openvino as ov

    def validate(compiled, items: Iterable[tuple[Batch, np.ndarray, np.ndarray]]) -> tuple[float, list[float]]:
        runner = as_runner(compiled)
        values = [psnr(np.asarray(denoise(runner, noisy)), clean, data_range=1.0) for _, noisy, clean in items]
        return float(np.mean(values)), values

    model = ov.Core().read_model(str(source))
    restorer = nncf.AdvancedAccuracyRestorerParameters(max_num_iterations=iterations,
                                                       ranking_subset_size=min(len(validation), 16))
    with quiet():
        quantized = nncf.quantize_with_accuracy_control(
            model, nncf.Dataset(list(calibration)), nncf.Dataset(list(validation), lambda item: item[0]), validate,
            max_drop=max_drop, drop_type=nncf.DropType.ABSOLUTE, preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(calibration), ignored_scope=nncf.IgnoredScope(names=keep, validate=False),
            advanced_accuracy_restorer_parameters=restorer)
    save_openvino(quantized, target)


def save_openvino(model, target: Path) -> None:
    import openvino as ov

    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(target), compress_to_fp16=False)  # its default stores float weights as fp16


def ort_quantize(source: Path, calibration: Sequence[Batch], keep: list[str], target: Path) -> None:
    """onnxruntime's static quantization of ``source`` to ``target``: QDQ format, int8 weights per
    output channel, uint8 activations (min-max over ``calibration``), ``keep`` in float."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self) -> dict[str, Batch] | None:
            item = next(self.items, None)
            return None if item is None else {INPUT_NAME: item}

    target.parent.mkdir(parents=True, exist_ok=True)
    quantize_static(str(source), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=keep,
                    calibrate_method=CalibrationMethod.MinMax, extra_options={"ForceQuantizeNoInputCheck": False})


def remove(path: Path) -> None:
    """A quantized file and the IR's weights beside it."""
    for item in (path, path.with_suffix(".bin")) if path.suffix == ".xml" else (path,):
        try:
            os.unlink(item)
        except FileNotFoundError:
            pass
