"""A conv peak per engine and precision: the reference 3x3 convolution (:data:`~zoo.bench.peak.PEAK_SHAPE`)
run by the engine whose row it is compared with, in that row's precision.

A row's fraction of the peak only means something against a kernel of its own kind: OpenVINO's
bfloat16 row once printed 199% of a peak that PyTorch's bfloat16 convolution had set. So PyTorch
rows are measured against PyTorch's convolution (:class:`~zoo.bench.peak.ConvPeak`), OpenVINO rows
against OpenVINO's (float32, bfloat16 by its precision hint, INT8 through FakeQuantize on the
input and the weights, which its CPU plugin runs as an int8 convolution), onnxruntime rows against
onnxruntime's (float32, and INT8 as a QDQ convolution it fuses into QLinearConv).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from zoo.bench.peak import PEAK_SHAPE, ConvPeak
from zoo.waiting import no_spinning

INPUT_RANGE = 4.0  # the reference input lies in [0, 4): non-negative, as after an activation
# An engine's reference is a chain of this many convolutions: the engine converts the float32 NCHW
# input to its own precision and layout once and back once, and one convolution could not hide
# that (OpenVINO's bfloat16 peak read 250 GFLOP/s as one convolution, against PyTorch's 1028 on
# a tensor already in bfloat16 and channels_last, and its model rows printed 235% of it).
ENGINE_DEPTH = 8


def _input() -> np.ndarray:
    channels, side, batch = PEAK_SHAPE
    return (np.random.default_rng(0).random((batch, channels, side, side), dtype=np.float32) * INPUT_RANGE)


def _weights() -> np.ndarray:
    channels = PEAK_SHAPE[0]
    return (np.random.default_rng(1).standard_normal((channels, channels, 3, 3)) * 0.05).astype(np.float32)


def _flops() -> float:
    """The FLOPs of one call of an engine's reference: :data:`ENGINE_DEPTH` convolutions."""
    channels, side, batch = PEAK_SHAPE
    return 2.0 * 9 * channels * channels * side * side * batch * ENGINE_DEPTH


@dataclass
class EnginePeak:
    """The reference convolution on one engine in one precision; :meth:`measure` as ConvPeak's."""

    engine: str
    precision: str
    call: Callable[[], object]  # one call: the reference convolutions

    def sync(self) -> None:
        return None

    def measure(self, runs: int = 5) -> float:
        self.call()  # warm-up
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            self.call()
            seconds.append(time.perf_counter() - start)
        return _flops() / sorted(seconds)[runs // 2] / 1e9

    @property
    def kernel(self) -> str:
        return f"{self.engine} {self.precision} 3x3 conv"


def openvino_peak(precision: str, threads: int | None = None) -> EnginePeak:
    """OpenVINO's reference convolution: ``float32`` / ``bfloat16`` (precision hint) or ``int8``."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter(list(_input().shape), np.float32, name="x")
    w = ops.constant(_weights())
    limit = float(np.abs(_weights()).max())
    conv = x
    for _ in range(ENGINE_DEPTH):
        source, weights = conv, w
        if precision == "int8":  # u8 activations, i8 weights: OpenVINO's CPU plugin runs an int8 convolution
            source = ops.fake_quantize(conv, 0.0, INPUT_RANGE, 0.0, INPUT_RANGE, 256)
            weights = ops.fake_quantize(w, -limit, limit, -limit, limit, 255)
        conv = ops.convolution(source, weights, [1, 1], [1, 1], [1, 1], [1, 1])
    hint = "bf16" if precision == "bfloat16" else "f32"
    compiled = ov.Core().compile_model(ov.Model([conv], [x]), "CPU", {
        "INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads or torch.get_num_threads(),
        "PERFORMANCE_HINT": "LATENCY"})
    request, data = compiled.create_infer_request(), _input()
    return EnginePeak("openvino", precision, lambda: request.infer({0: data}, share_inputs=True))


def onnxruntime_peak(precision: str, threads: int | None = None) -> EnginePeak:
    """onnxruntime's reference convolution on the CPU: ``float32``, or ``int8`` as a QDQ graph."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    shape = list(_input().shape)
    weights = _weights()
    nodes, inits = [], []
    if precision == "int8":
        scale_x, scale_w = INPUT_RANGE / 255, float(np.abs(weights).max()) / 127
        quantized = np.clip(np.round(weights / scale_w), -127, 127).astype(np.int8)
        inits += [numpy_helper.from_array(np.array(scale_x, np.float32), "sx"),
                  numpy_helper.from_array(np.array(0, np.uint8), "zx"),
                  numpy_helper.from_array(np.array(scale_w, np.float32), "sw"),
                  numpy_helper.from_array(np.array(0, np.int8), "zw"),
                  numpy_helper.from_array(quantized, "wq")]
        nodes.append(helper.make_node("DequantizeLinear", ["wq", "sw", "zw"], ["wd"]))
    else:
        inits.append(numpy_helper.from_array(weights, "w"))
    source = "x"
    for depth in range(ENGINE_DEPTH):
        out = "c" if depth == ENGINE_DEPTH - 1 else f"c{depth}"
        if precision == "int8":  # a QDQ convolution, which onnxruntime fuses into QLinearConv
            nodes += [helper.make_node("QuantizeLinear", [source, "sx", "zx"], [f"q{depth}"]),
                      helper.make_node("DequantizeLinear", [f"q{depth}", "sx", "zx"], [f"d{depth}"]),
                      helper.make_node("Conv", [f"d{depth}", "wd"], [out], pads=[1, 1, 1, 1])]
        else:
            nodes.append(helper.make_node("Conv", [source, "w"], [out], pads=[1, 1, 1, 1]))
        source = out
    if precision == "int8":  # the last convolution's output quantized too, as QLinearConv writes it
        inits += [numpy_helper.from_array(np.array(4 * INPUT_RANGE / 255, np.float32), "sy"),
                  numpy_helper.from_array(np.array(128, np.uint8), "zy")]
        nodes += [helper.make_node("QuantizeLinear", ["c", "sy", "zy"], ["cq"]),
                  helper.make_node("DequantizeLinear", ["cq", "sy", "zy"], ["y"])]
    else:
        nodes.append(helper.make_node("Identity", ["c"], ["y"]))
    graph = helper.make_graph(nodes, "peak", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    no_spinning(options)
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    data = _input()
    return EnginePeak("onnxruntime", precision, lambda: session.run(None, {"x": data}))


def peak_for(engine: str, precision: str, dtype: torch.dtype, device: torch.device) -> ConvPeak | EnginePeak:
    """The peak a row of ``engine`` in ``precision`` is measured against: the engine's own kernel
    where it has one here, else PyTorch's convolution in ``dtype``."""
    if device.type == "cpu":
        try:
            if engine == "openvino":
                return openvino_peak(precision)
            if engine == "onnxruntime" and precision in ("float32", "int8"):
                return onnxruntime_peak(precision)
        except ImportError:
            pass
    return ConvPeak(dtype, device)


def kernel_of(peak: ConvPeak | EnginePeak) -> str:
    """The reference kernel in words, for the table."""
    if isinstance(peak, EnginePeak):
        return peak.kernel
    return f"torch {str(peak.conv.weight.dtype).removeprefix('torch.')} 3x3 conv"
