"""Issue 28, output: an ONNX file's metadata reaches the terminal with its control characters escaped
(the runners' device line)."""

from __future__ import annotations

import pytest

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m"


def test_onnx_metadata_is_printed_without_its_escape_sequences(tmp_path):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from zoo.export import OrtRunner

    body = helper.make_graph([helper.make_node("Identity", ["noisy"], ["denoised"])], "g",
                             [helper.make_tensor_value_info("noisy", TensorProto.FLOAT, ["N", 1, "H", "W"])],
                             [helper.make_tensor_value_info("denoised", TensorProto.FLOAT, ["N", 1, "H", "W"])])
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    helper.set_model_props(model, {"zoo.in_channels": "1", "zoo.precision": f"float32{ESCAPES}"})
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    runner = OrtRunner(path, provider="cpu")
    assert "\x1b" not in runner.device and "float32\\x1b[2J" in runner.device
    try:
        from zoo.export.openvino import OpenVinoRunner
    except ImportError:
        return
    pytest.importorskip("openvino")
    assert "\x1b" not in OpenVinoRunner(path, cache=False).device
