"""OpenVINO as a runner: PyTorch's results (float32 tight, bfloat16 loose), any size and batch,
tiling and the x8 ensemble through zoo.denoise, static shapes, the compiled-model cache, and
the one-line message without the extra."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
import torch

import zoo
from zoo.errors import ZooError

pytest.importorskip("openvino", reason='openvino is not installed (pip install "zoo-denoise[openvino]")')
for _module in ("onnx", "onnxscript", "onnxruntime"):  # the export the runner takes its files from
    pytest.importorskip(_module, reason=f'{_module} is not installed (pip install "zoo-denoise[onnx]")')

from zoo.export import FP32_TOLERANCE, export_onnx  # noqa: E402
from zoo.export.openvino import OpenVinoRunner, cpu_capabilities, openvino_cache_dir, require_openvino  # noqa: E402

SMALL = {"widths": (8, 16, 16), "depth": 1}
BF16_TOLERANCE = 0.05  # bfloat16 keeps 8 significant bits; as for PyTorch's own bfloat16 path (test_infer)
needs_bf16 = pytest.mark.skipif("BF16" not in cpu_capabilities(), reason="this CPU has no bfloat16 support in OpenVINO")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))


def small(name: str = "mwrcanet", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return zoo.create_model(name, **SMALL).eval()


def torch_output(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return model(x).numpy()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small mwrcanet and its ONNX file, exported once for the module."""
    model = small()
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    export_onnx(model, path)
    return model, path


def test_float32_matches_pytorch_at_any_size_and_batch(exported):
    model, path = exported
    runner = OpenVinoRunner(path)
    assert (runner.in_channels, runner.size_multiple, runner.fixed_batch) == (1, 8, None)
    assert runner.device.startswith("OpenVINO ") and "float32" in runner.device
    for shape in [(3, 1, 37, 101), (1, 1, 64, 64), (2, 1, 3, 5)]:  # odd, a multiple of 8, tiny
        x = torch.rand(shape)
        assert np.abs(runner(x).numpy() - torch_output(model, x)).max() <= FP32_TOLERANCE, shape


@needs_bf16
def test_bfloat16_is_close_to_float32_and_not_equal(exported):
    model, path = exported
    runner = OpenVinoRunner(path, dtype=torch.bfloat16)
    assert runner.precision == "bfloat16" and "bfloat16" in runner.device
    x = torch.rand(1, 1, 48, 40)
    diff = np.abs(runner(x).numpy() - torch_output(model, x)).max()
    assert 0 < diff <= BF16_TOLERANCE


def test_float32_is_asked_for_explicitly(exported):
    """OpenVINO's default on a CPU with bf16 instructions is bf16: float32 must still be float32."""
    _, path = exported
    runner = OpenVinoRunner(path)
    assert runner.compiled.get_property("INFERENCE_PRECISION_HINT").to_string() == "f32"


def test_tiling_and_ensemble_run_through_denoise(exported):
    model, path = exported
    runner = OpenVinoRunner(path)
    image = np.random.default_rng(0).random((150, 210), dtype=np.float32)
    for options in ({"tile": 64, "overlap": 16}, {"ensemble": True}, {"tile": 96, "ensemble": True}):
        got = zoo.denoise(runner, image, **options)
        expected = zoo.denoise(model, image, device="cpu", **options)
        assert got.shape == image.shape and got.dtype == image.dtype
        assert np.abs(got - expected).max() <= FP32_TOLERANCE, options


def test_static_shapes_give_the_same_result_for_every_shape_met(exported):
    model, path = exported
    runner = OpenVinoRunner(path, static_shapes=True)
    for shape in [(3, 1, 40, 24), (1, 1, 16, 16), (3, 1, 40, 24)]:
        x = torch.rand(shape)
        assert np.abs(runner(x).numpy() - torch_output(model, x)).max() <= FP32_TOLERANCE, shape
    assert "static shapes" in runner.device


def test_fixed_batch_graph_runs_any_batch_in_chunks(tmp_path):
    model = small("mwresnet")
    export_onnx(model, tmp_path / "b3.onnx", batch=3)
    runner = OpenVinoRunner(tmp_path / "b3.onnx")
    assert runner.fixed_batch == 3
    x = torch.rand(4, 1, 24, 40)
    assert np.abs(runner(x).numpy() - torch_output(model, x)).max() <= FP32_TOLERANCE


def test_a_model_in_memory_goes_through_the_cached_export():
    model = small()
    first = OpenVinoRunner(model)
    assert first.path.parent.name == "onnx" and first.path.is_file() and not first.loaded_from_cache
    second = OpenVinoRunner(model)  # the same export, and OpenVINO's compiled blob
    assert second.path == first.path and second.loaded_from_cache
    assert list(openvino_cache_dir().glob("*.blob"))
    x = torch.rand(1, 1, 32, 32)
    assert np.abs(second(x).numpy() - torch_output(model, x)).max() <= FP32_TOLERANCE


def test_the_cache_never_serves_another_precision_or_other_weights(tmp_path):
    path = tmp_path / "m.onnx"
    first, other = small(seed=0), small(seed=1)
    export_onnx(first, path)
    OpenVinoRunner(path)
    export_onnx(other, path)  # the same name and size, likely within the same second
    runner = OpenVinoRunner(path)
    x = torch.rand(1, 1, 32, 32)
    assert np.abs(runner(x).numpy() - torch_output(other, x)).max() <= FP32_TOLERANCE
    if "BF16" in cpu_capabilities():  # the CPU plugin's blob is precision-neutral: bf16 may load it, and must run bf16
        bf16 = OpenVinoRunner(path, dtype="bfloat16")
        assert bf16.compiled.get_property("INFERENCE_PRECISION_HINT").to_string() == "bf16"
        assert np.abs(bf16(x).numpy() - runner(x).numpy()).max() > 0
    assert not OpenVinoRunner(path, cache=False).loaded_from_cache


def test_mistakes_are_one_line_errors(tmp_path, exported):
    _, path = exported
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    cases = [
        ((tmp_path / "missing.onnx",), {}, "no such ONNX file"),
        ((tmp_path / "bad.onnx",), {}, "OpenVINO cannot read it"),
        ((path,), {"threads": 0}, "threads must be at least 1"),
        ((path,), {"dtype": "float16"}, "needs a GPU"),
        ((path,), {"dtype": "int8"}, "unknown dtype"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ZooError, match=message) as info:
            OpenVinoRunner(*args, **kwargs)
        assert "\n" not in str(info.value)


def test_without_the_extra_one_line_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    with pytest.raises(ZooError,
                       match=r'openvino is not installed: pip install openvino \(or pip install "zoo-denoise\[openvino\]"\)') as info:
        require_openvino()
    assert "\n" not in str(info.value)


def _graph(path, *, in_shape=("N", 1, "H", "W"), out_type="FLOAT", in_name="noisy", out_name="denoised",
           metadata: dict[str, str] | None = None):
    """Identity (or a cast) from ``in_name`` to ``out_name``: a stranger's ONNX file."""
    import onnx
    from onnx import TensorProto, helper

    kind = getattr(TensorProto, out_type)
    node = (helper.make_node("Identity", [in_name], [out_name]) if kind == TensorProto.FLOAT
            else helper.make_node("Cast", [in_name], [out_name], to=kind))
    body = helper.make_graph([node], "g", [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, list(in_shape))],
                             [helper.make_tensor_value_info(out_name, kind, list(in_shape))])
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    helper.set_model_props(model, {"zoo.in_channels": "1", **(metadata or {})})
    onnx.save(model, str(path))
    return path


def test_a_graph_zoo_cannot_run_right_is_refused_as_onnxruntime_refuses_it(tmp_path):
    image = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    assert np.array_equal(zoo.denoise(OpenVinoRunner(_graph(tmp_path / "ok.onnx")), image), image)
    cases = [
        ({"in_name": "x"}, "expected one input named 'noisy'"),
        ({"out_name": "y"}, "expected an output named 'denoised'"),
        ({"out_type": "INT32"}, "output 'denoised' must be a float (N, C, H, W) tensor, got i32"),
        ({"in_shape": (5,)}, "input 'noisy' must be a float32 (N, C, H, W) tensor"),
        ({"metadata": {"zoo.size_multiple": "0"}}, "metadata 'zoo.size_multiple' must be a whole number"),
    ]
    for index, (options, message) in enumerate(cases):
        with pytest.raises(ZooError, match=re.escape(message)) as info:
            OpenVinoRunner(_graph(tmp_path / f"{index}.onnx", **options))
        assert "\n" not in str(info.value)


def test_bench_backends_run_in_their_own_precision(exported):
    from zoo.bench import run_benchmark

    model, _ = exported
    report = run_benchmark(model, size=32, backends=["channels_last", "openvino", "openvino-bf16"], warmup=0, runs=1,
                           device="cpu")
    status = {r["backend"]: r["status"] for r in report["backends"]}
    assert status["openvino"] == "ok" and status["openvino-bf16"].startswith("skipped: runs bfloat16")
    assert next(r for r in report["backends"] if r["backend"] == "openvino")["device"].startswith("OpenVINO")
    if "BF16" in cpu_capabilities() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        report = run_benchmark(model, size=32, backends=["openvino", "openvino-bf16"], dtype="bfloat16", warmup=0,
                               runs=1, device="cpu")
        rows = {r["backend"]: r for r in report["backends"]}
        assert rows["openvino"]["status"].startswith("skipped") and rows["openvino-bf16"]["status"] == "ok"
        assert rows["openvino-bf16"]["psnr_vs_float32"] > 30
