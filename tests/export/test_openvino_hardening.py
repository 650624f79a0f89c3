"""Issue 28, `zoo ort --engine openvino` on ONNX files from strangers: the graph's interface is
checked before anything else is read from it, so a wrong input or output name, two inputs, an
integer output, rank 2, or no metadata at all is one line (OpenVINO's empty metadata value was an
AttributeError for every one of them), and a fixed batch runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino", reason='openvino is not installed (pip install "zoo-denoise[openvino]")')
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from zoo.cli import main  # noqa: E402

NCHW = ["N", 1, "H", "W"]


def graph(path: Path, *, inputs=(("noisy", NCHW),), out_name="denoised", out_type=TensorProto.FLOAT,
          out_shape=NCHW, metadata: dict[str, str] | None = None) -> Path:
    """The first input (cast to ``out_type``, plus the others) as the output; metadata only when given."""
    names = [name for name, _ in inputs]
    nodes = [helper.make_node("Cast", [names[0]], ["cast"], to=out_type)]
    total = "cast"
    for index, name in enumerate(names[1:]):
        nodes.append(helper.make_node("Add", [total, name], [f"sum{index}"]))
        total = f"sum{index}"
    nodes.append(helper.make_node("Identity", [total], [out_name]))
    body = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                             [helper.make_tensor_value_info(out_name, out_type, out_shape)])
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path


CASES = {
    "a wrong input name": ({"inputs": (("x", NCHW),)}, "expected one input named 'noisy'"),
    "a wrong output name": ({"out_name": "y"}, "expected an output named 'denoised'"),
    "two inputs": ({"inputs": (("noisy", NCHW), ("other", NCHW))}, "found 'noisy', 'other'"),
    "an integer output": ({"out_type": TensorProto.INT32}, "must be a float (N, C, H, W) tensor, got i32"),
    "rank 2": ({"inputs": (("noisy", ["H", "W"]),), "out_shape": ["H", "W"]}, "got f32 of rank 2"),
}


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "image.npy"
    np.save(path, np.random.default_rng(0).random((16, 16), dtype=np.float32))
    return path


@pytest.mark.parametrize("metadata", [None, {"zoo.in_channels": "1"}])
@pytest.mark.parametrize("case", list(CASES))
def test_a_graph_openvino_cannot_run_right_is_one_line(tmp_path, image, capsys, case, metadata):
    options, expected = CASES[case]
    path = graph(tmp_path / "model.onnx", metadata=metadata, **options)
    out = tmp_path / "out.npy"
    assert main(["ort", str(path), str(image), "-o", str(out), "--engine", "openvino"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not out.exists()
    line = err.strip().splitlines()[-1]
    assert line.startswith("zoo: error: ") and str(path) in line and expected in line


@pytest.mark.parametrize("batch", ["N", 1, 2])
def test_a_graph_without_metadata_or_with_a_fixed_batch_runs(tmp_path, image, capsys, batch):
    path = graph(tmp_path / "model.onnx", inputs=(("noisy", [batch, 1, "H", "W"]),), out_shape=[batch, 1, "H", "W"])
    out = tmp_path / "out.npy"
    assert main(["ort", str(path), str(image), "-o", str(out), "--engine", "openvino"]) == 0
    capsys.readouterr()
    assert np.allclose(np.load(out).squeeze(), np.load(image))
