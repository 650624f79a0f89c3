"""What else OpenVINO offers for these networks, each against the runner's default, interleaved:

- Winograd: every Convolution node asked for ``jit_avx512_winograd`` (OpenVINO's per-node
  ``primitives_priority``, set through its IR), with the convolution kernels the CPU plugin then
  picked, as its executed graph names them;
- throughput mode: a batch of images (or of tiles) over several streams, against one batched
  inference and against one image at a time (what ``zoo.denoise`` does with tiles);
- static shapes: the graph reshaped to the input size and compiled for it, against one graph of
  dynamic size.

Used by ``engines.py``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo.contract import input_channels
from zoo.export.openvino import PRECISIONS, OpenVinoRunner, cpu_capabilities, require_openvino
from zoo.infer import denoise
from zoo.timing import rotate, time_call, warm

WINOGRAD = "cpu:jit_avx512_winograd"


class CompiledRunner:
    """A compiled OpenVINO model as a Runner (for graphs changed before compiling)."""

    def __init__(self, compiled, like: OpenVinoRunner, label: str) -> None:
        self.compiled, self.request = compiled, compiled.create_infer_request()
        self.size_multiple, self.in_channels = like.size_multiple, like.in_channels
        self.device = f"{like.device}, {label}"

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.numpy(), dtype=np.float32)
        return torch.from_numpy(self.request.infer({0: x}, share_inputs=True)[0].copy())


def convolution_kernels(compiled) -> dict[str, int]:
    """How many Convolution nodes of the executed graph run on each kernel (e.g. brgconv_avx512_f32)."""
    kinds = Counter()
    for node in compiled.get_runtime_model().get_ordered_ops():
        info = node.get_rt_info()
        if info["layerType"].astype(str) == "Convolution":
            kinds[info["primitiveType"].astype(str)] += 1
    return dict(kinds)


def with_priority(onnx_path: Path, priority: str):
    """The ONNX graph with every Convolution node asking the CPU plugin for ``priority``. The
    attribute is read only from OpenVINO's IR (set from Python it is a plain string the plugin
    ignores), so the graph goes through an IR file."""
    ov = require_openvino()
    core = ov.Core()
    folder = Path(tempfile.mkdtemp(prefix="zoo-winograd-"))
    try:
        ov.save_model(core.read_model(str(onnx_path)), str(folder / "m.xml"), compress_to_fp16=False)
        xml = (folder / "m.xml").read_text()
        tag = r'(<layer id="\d+" name="[^"]*" type="Convolution" version="opset1">)'
        marked, count = re.subn(tag, rf'\1<rt_info><attribute name="primitives_priority" version="0" value="{priority}"/></rt_info>', xml)
        (folder / "m.xml").write_text(marked)
        return core.read_model(str(folder / "m.xml")), count, core
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _interleave(calls: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median milliseconds of each call, side by side in :func:`zoo.timing.rotate`'s blocks."""
    warm(calls, 1)
    return {name: round(seconds * 1e3, 2) for name, seconds in rotate(calls, runs, block=1, settle=1).medians().items()}


def winograd(model: nn.Module, precision: str, size: int, runs: int) -> dict[str, Any]:
    """Kernels and time with and without Winograd asked for."""
    default = OpenVinoRunner(model, dtype=precision, cache=False)
    graph, marked, core = with_priority(default.path, WINOGRAD)
    asked = core.compile_model(graph, "CPU", {"INFERENCE_PRECISION_HINT": PRECISIONS[precision],
                                              "INFERENCE_NUM_THREADS": default.threads, "PERFORMANCE_HINT": "LATENCY"})
    runner = CompiledRunner(asked, default, "Winograd asked for")
    x = torch.rand(1, input_channels(model), size, size)
    ms = _interleave({"default": lambda: denoise(default, x), "winograd asked": lambda: denoise(runner, x)}, runs)
    same = float((denoise(default, x) - denoise(runner, x)).abs().max())
    return {"precision": precision, "convolutions_marked": marked, "listed_by_plugin": "WINOGRAD" in cpu_capabilities(),
            "kernels_default": convolution_kernels(default.compiled), "kernels_winograd_asked": convolution_kernels(asked),
            "median_ms": ms, "max_abs_difference": same}


class ThroughputRunner:
    """OpenVINO's throughput mode, kept here to measure it (zoo's runner dropped it: it gained
    nothing on this machine): each image of a batch one request, the requests spread over
    ``streams`` parallel streams."""

    def __init__(self, like: OpenVinoRunner, streams: int) -> None:
        ov = require_openvino()
        config = {**like.config, "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": streams}
        config.pop("CACHE_DIR", None)
        self.compiled = like._core.compile_model(like._model, "CPU", config)
        self.streams = int(self.compiled.get_property("NUM_STREAMS"))
        self.queue = ov.AsyncInferQueue(self.compiled, self.streams)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.numpy(), dtype=np.float32)
        outputs: list[np.ndarray | None] = [None] * len(x)

        def done(request, index: int) -> None:
            outputs[index] = request.get_output_tensor(0).data.copy()

        self.queue.set_callback(done)
        for index in range(len(x)):
            self.queue.start_async({0: x[index:index + 1]}, index)
        self.queue.wait_all()
        return torch.from_numpy(np.concatenate(outputs))


def streams(model: nn.Module, precision: str, size: int, batch: int, runs: int) -> dict[str, Any]:
    """Milliseconds per image for a batch: one batched inference (latency mode), one image at a
    time (as tiles run now), and throughput mode with streams of one thread each."""
    latency = OpenVinoRunner(model, dtype=precision)
    threads = latency.threads
    throughput = ThroughputRunner(latency, streams=threads)
    x = torch.rand(batch, input_channels(model), size, size)
    calls = {
        "latency, one batched inference": lambda: latency(x),
        "latency, one image at a time": lambda: [latency(x[i:i + 1]) for i in range(batch)],
        f"throughput, {throughput.streams} streams": lambda: throughput(x),
    }
    ms = _interleave(calls, runs)
    return {"precision": precision, "batch": batch, "size": size, "threads": threads,
            "ms_per_image": {name: round(value / batch, 2) for name, value in ms.items()}}


def static_shapes(model: nn.Module, precision: str, sizes: list[int], runs: int) -> dict[str, Any]:
    """Milliseconds of one image per size: one dynamic graph against a graph compiled per shape."""
    dynamic = OpenVinoRunner(model, dtype=precision)
    static = OpenVinoRunner(model, dtype=precision, static_shapes=True, cache=False)  # cache=False: compiles timed
    calls, first_call_s = {}, {}
    for size in sizes:
        x = torch.rand(1, input_channels(model), size, size)
        (first_call_s[size],) = time_call(lambda x=x: denoise(static, x), 0, 1)  # compiling for this size, then running
        calls[f"{size} dynamic"] = lambda x=x: denoise(dynamic, x)
        calls[f"{size} static"] = lambda x=x: denoise(static, x)
    ms = _interleave(calls, runs)
    return {"precision": precision,
            "median_ms": {str(size): {"dynamic": ms[f"{size} dynamic"], "static": ms[f"{size} static"],
                                      "static_speedup": round(ms[f"{size} dynamic"] / ms[f"{size} static"], 3),
                                      "static_first_call_s": round(first_call_s[size], 2)}
                          for size in sizes}}
