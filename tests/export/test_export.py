"""ONNX export and onnxruntime: any size and batch, metadata, checks, providers, CLI, bench."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

import zoo
from zoo.cli import main

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from zoo.export import FP16_TOLERANCE, OrtRunner, cached_export, export_onnx  # noqa: E402
from zoo.export import exporter as exporter_module  # noqa: E402
from zoo.export import runner as runner_module  # noqa: E402

SMALL = {"widths": (8, 16, 16), "depth": 1}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))


def small(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return zoo.create_model(name, **SMALL)


def torch_output(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return model.eval()(x).numpy()


@pytest.mark.parametrize("name", ["mwrcanet", "mwresnet", "mwdensenet"])
def test_exported_models_run_any_size_and_batch(tmp_path, name):
    model = small(name)
    result = export_onnx(model, tmp_path / "m.onnx")  # checked at two sizes on export
    assert max(result.max_abs_diff.values()) <= 1e-4 and len(result.max_abs_diff) == 2
    runner = OrtRunner(tmp_path / "m.onnx")
    for shape in [(3, 1, 37, 101), (1, 1, 64, 64), (2, 1, 3, 5)]:  # odd, a multiple of 8, tiny
        x = torch.rand(shape)
        assert np.abs(runner(x).numpy() - torch_output(model, x)).max() <= 1e-4, shape


def test_graph_metadata_and_constant_wavelets(tmp_path):
    model = small("mwrcanet")
    export_onnx(model, tmp_path / "m.onnx", check=False)
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["zoo.model"] == "mwrcanet" and json.loads(meta["zoo.config"]) == json.loads(json.dumps(model.zoo_config))
    assert meta["zoo.version"] == zoo.__version__
    assert (meta["zoo.input_layout"], meta["zoo.value_range"], meta["zoo.in_channels"]) == ("NCHW", "[0, 1]", "1")
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value or None for d in dims] == [None, 1, None, None]  # batch, height, width dynamic
    ops = Counter(node.op_type for node in proto.graph.node)
    assert ops["ConvTranspose"] == 3 and ops["Pad"] >= 1  # the IWTs, and the model's own padding
    assert ops["PRelu"] == 0 and ops["LeakyRelu"] > 0  # one-slope PReLU as a fusable LeakyReLU
    assert not [i.name for i in proto.graph.input[1:]]  # weights and Haar filters are constants


def test_fixed_batch_graph_runs_any_batch_in_chunks(tmp_path):
    model = small("mwresnet")
    export_onnx(model, tmp_path / "b3.onnx", batch=3)
    runner = OrtRunner(tmp_path / "b3.onnx")
    assert runner.fixed_batch == 3
    x = torch.rand(4, 1, 24, 40)
    assert np.abs(runner(x).numpy() - torch_output(model, x)).max() <= 1e-4


def test_float16_export_runs_half_precision_within_its_documented_bound(tmp_path):
    model = small("mwrcanet")
    result = export_onnx(model, tmp_path / "h.onnx", fp16=True)
    assert 0 < max(result.max_abs_diff.values()) <= FP16_TOLERANCE  # nonzero: it really is float16
    proto = onnx.load(str(tmp_path / "h.onnx"))
    assert {i.data_type for i in proto.graph.initializer if len(i.dims) == 4} == {onnx.TensorProto.FLOAT16}
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # float32 in and out


def test_third_party_block_exports(tmp_path, third_party):
    torch.manual_seed(0)
    model = zoo.create_model("tinynet")
    export_onnx(model, tmp_path / "t.onnx")
    x = torch.rand(2, 1, 19, 23)
    assert np.abs(OrtRunner(tmp_path / "t.onnx")(x).numpy() - torch_output(model, x)).max() <= 1e-4


def test_a_failed_check_leaves_no_file_and_keeps_the_one_there(tmp_path, monkeypatch):
    monkeypatch.setattr(exporter_module, "compare_with_torch", lambda *a, **k: {"2x1x45x67": 0.5})
    with pytest.raises(zoo.ZooError, match="differs from PyTorch by 5.00e-01"):
        export_onnx(small("mwresnet"), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "m.onnx").write_bytes(b"a good export")  # zoo export --force over a file: kept on failure
    with pytest.raises(zoo.ZooError, match="not written"):
        export_onnx(small("mwresnet"), tmp_path / "m.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"] and (tmp_path / "m.onnx").read_bytes() == b"a good export"


def test_export_writes_atomically(tmp_path, monkeypatch):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"the old file")

    def crash(proto, path, *args, **kwargs):
        open(path, "wb").write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(onnx, "save_model", crash)
    with pytest.raises(zoo.ZooError, match="cannot write .*m.onnx: disk full"):  # one line, not a traceback
        export_onnx(small("mwresnet"), target, check=False)
    assert target.read_bytes() == b"the old file" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


@pytest.mark.parametrize("args, message", [
    (["--opset", "17"], "opset 17 is not available: torch's exporter writes 18 to"),
    (["-o", "FOLDER"], "is a folder: give a file name"),
    (["-o", "FILE/m.onnx"], "cannot write"),
])
def test_export_mistakes_are_one_line(tmp_path, capsys, args, message):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    args = [a.replace("FOLDER", str(tmp_path / "folder")).replace("FILE", str(tmp_path / "file")) for a in args]
    config = ["--weights", str(zoo.save(small("mwresnet"), tmp_path / "w.safetensors"))]
    out = [] if "-o" in args else ["-o", str(tmp_path / "m.onnx")]
    assert main(["export", "mwresnet", *config, "--no-check", *out, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("zoo: error") == 1


def test_the_opset_asked_for_is_the_opset_written_and_reported(tmp_path, capsys):
    config = ["--weights", str(zoo.save(small("mwresnet"), tmp_path / "w.safetensors"))]
    assert main(["export", "mwresnet", *config, "--opset", "20", "-o", str(tmp_path / "m.onnx"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["opset"] == 20
    assert [o.version for o in onnx.load(tmp_path / "m.onnx").opset_import if o.domain in ("", "ai.onnx")] == [20]


def test_corrupt_or_missing_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07 not a protobuf model")
    with pytest.raises(zoo.ZooError, match="bad.onnx: onnxruntime cannot load it as a model"):
        OrtRunner(bad)
    with pytest.raises(zoo.ZooError, match="threads must be at least 1, got -1"):
        OrtRunner(bad, threads=-1)
    image = tmp_path / "a.npy"
    np.save(image, np.random.rand(16, 16).astype(np.float32))
    assert main(["ort", str(bad), str(image), "-o", str(tmp_path / "o.npy")]) == 2
    assert main(["ort", str(tmp_path / "missing.onnx"), str(image), "-o", str(tmp_path / "o.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"zoo: error: {bad}: onnxruntime cannot load it as a model " + err[0].split(" model ", 1)[1],
                   f"zoo: error: {tmp_path / 'missing.onnx'}: no such ONNX file"]


def test_gpu_providers_that_cannot_start_are_one_line_not_a_log(tmp_path, monkeypatch, capfd):
    export_onnx(small("mwresnet"), tmp_path / "m.onnx", check=False)
    capfd.readouterr()
    monkeypatch.setattr(runner_module, "gpu_present", lambda: True)  # as if a GPU were here, without its libraries
    runner = OrtRunner(tmp_path / "m.onnx")
    assert runner.provider_used == "cpu" and [n.split(":")[0] for n in runner.notes] == ["tensorrt", "cuda"]
    assert capfd.readouterr() == ("", "")  # onnxruntime's own log and prints stay out of the terminal
    monkeypatch.setattr(runner_module, "gpu_present", lambda: False)
    with pytest.raises(zoo.ZooError, match="provider 'cuda' is not usable here: no NVIDIA GPU found"):
        OrtRunner(tmp_path / "m.onnx", provider="cuda")


def test_cli_export_then_ort_matches_zoo_denoise(tmp_path, capsys):
    weights = zoo.save(small("mwrcanet"), tmp_path / "small.safetensors")
    onnx_file = tmp_path / "small.onnx"
    assert main(["export", "mwrcanet", "--weights", str(weights), "-o", str(onnx_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batch"] == "dynamic" and report["metadata"]["zoo.model"] == "mwrcanet"
    assert max(report["max_abs_diff"].values()) <= 1e-4
    assert main(["export", "mwrcanet", "--weights", str(weights), "-o", str(onnx_file)]) == 2  # no silent overwrite
    assert "exists (use --force" in capsys.readouterr().err

    image = tmp_path / "noisy.npy"
    np.save(image, np.random.default_rng(0).random((70, 90), dtype=np.float32))
    options = ["--tile", "48", "--overlap", "16", "--ensemble"]
    assert main(["ort", str(onnx_file), str(image), "-o", str(tmp_path / "ort.npy"), *options]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("zoo")]  # not the tile bar
    assert len(lines) == 1 and lines[0].startswith("zoo: small.onnx on onnxruntime CPUExecutionProvider (cpu, float32)")
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(tmp_path / "torch.npy"), *options]) == 0
    assert np.abs(np.load(tmp_path / "ort.npy") - np.load(tmp_path / "torch.npy")).max() <= 1e-4


def test_bench_exports_outside_the_cache_and_a_model_exports_once_to_it(tmp_path):
    from zoo.bench import run_benchmark

    model = small("mwrcanet")
    report = run_benchmark(model, size=32, backends=["onnxruntime", "onnxruntime-fp16"], warmup=0, runs=1, device="cpu")
    ort_result, fp16_result = report["backends"]
    assert ort_result["status"] == "ok" and "CPUExecutionProvider" in ort_result["device"]
    assert fp16_result["status"] == "skipped: needs a GPU"
    cache = tmp_path / "cache" / "onnx"
    assert not cache.exists() or not any(cache.iterdir())  # a benchmark's random weights are never reused
    first = cached_export(model)
    assert sorted(cache.iterdir()) == [first]
    assert cached_export(model) == first  # found again, not re-exported
    with torch.no_grad():
        model.down1[0].bias.add_(1.0)
    assert cached_export(model) != first  # new weights, new export
