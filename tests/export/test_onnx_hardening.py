"""Issue 17, ONNX files from strangers: a graph zoo cannot run right is refused when it is opened."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zoo
from zoo.errors import ZooError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from zoo.export import OrtRunner  # noqa: E402

FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NCHW = ["N", 1, "H", "W"]


def graph(path: Path, *, in_shape=NCHW, out_type=TensorProto.FLOAT, in_name="noisy", out_name="denoised",
          metadata: dict[str, str] | None = None) -> Path:
    """Identity (or a cast) from ``in_name`` to ``out_name``."""
    if out_type == TensorProto.FLOAT:
        node = helper.make_node("Identity", [in_name], [out_name])
    else:
        node = helper.make_node("Cast", [in_name], [out_name], to=out_type)
    body = helper.make_graph([node], "g", [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, in_shape)],
                             [helper.make_tensor_value_info(out_name, out_type, in_shape)])
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    helper.set_model_props(model, {"zoo.in_channels": "1", **(metadata or {})})
    onnx.save(model, str(path))
    return path


def _message(call, *args, **kwargs) -> str:
    with pytest.raises(ZooError) as caught:
        call(*args, **kwargs)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_a_sound_graph_still_runs(tmp_path):
    runner = OrtRunner(graph(tmp_path / "ok.onnx"), provider="cpu")
    image = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    assert np.array_equal(zoo.denoise(runner, image), image)


def test_a_graph_with_an_integer_output_is_refused(tmp_path):
    # It gave an all-zero image and exit 0.
    message = _message(OrtRunner, graph(tmp_path / "int.onnx", out_type=TensorProto.INT32), provider="cpu")
    assert "output 'denoised' must be a float (N, C, H, W) tensor, got tensor(int32)" in message


@pytest.mark.parametrize("shape", [[], [5]])
def test_rank_0_and_1_inputs_are_refused(tmp_path, shape):
    message = _message(OrtRunner, graph(tmp_path / "rank.onnx", in_shape=shape), provider="cpu")
    assert f"input 'noisy' must be a float32 (N, C, H, W) tensor, got tensor(float) of rank {len(shape)}" in message


def test_other_names_are_refused(tmp_path):
    assert "expected one input named 'noisy'" in _message(OrtRunner, graph(tmp_path / "a.onnx", in_name="x"), provider="cpu")
    assert "expected an output named 'denoised'" in _message(OrtRunner, graph(tmp_path / "b.onnx", out_name="y"), provider="cpu")


@FAST
@given(key=st.sampled_from(["zoo.in_channels", "zoo.size_multiple"]),
       value=st.one_of(st.text(max_size=12), st.integers(-10, 10**6).map(str)))
def test_malformed_zoo_metadata_is_one_line(tmp_path, key, value):
    path = graph(tmp_path / "meta.onnx", metadata={key: value})
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is not None and 1 <= number <= 1 << 16:
        runner = OrtRunner(path, provider="cpu")
        assert (runner.in_channels if key == "zoo.in_channels" else runner.size_multiple) == number
    else:
        assert f"its metadata '{key}' must be a whole number" in _message(OrtRunner, path, provider="cpu")


def test_threads_above_the_cores_are_refused(tmp_path):
    from zoo.limits import cores

    path = graph(tmp_path / "ok.onnx")
    assert "more than the" in _message(OrtRunner, path, provider="cpu", threads=100_000)
    assert "at least 1" in _message(OrtRunner, path, provider="cpu", threads=0)
    assert OrtRunner(path, provider="cpu", threads=cores()).in_channels == 1
