"""Noise-aware models on the ONNX, OpenVINO and INT8 paths (issue 25): the exported graph takes the
image followed by its noise map, the file says so (``zoo.noise_channels``), its runners report it,
and ``zoo.denoise`` builds the map beside them (Conditioned) exactly as for PyTorch: ``zoo ort``
honours --noise-level and --strength, ``zoo quantize`` calibrates on the image with its map and
records it on the card, and a file whose graph disagrees with what it says is one line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

import zoo  # noqa: E402
from zoo import machine as cpu  # noqa: E402
from zoo.cli import main  # noqa: E402
from zoo.data.pairs import Pair  # noqa: E402
from zoo.errors import ZooError  # noqa: E402
from zoo.export import OrtRunner, losses  # noqa: E402
from zoo.export import precision as chooser  # noqa: E402
from zoo.export.cache import cached_export  # noqa: E402
from zoo.infer import conditioning  # noqa: E402
from zoo.infer.conditioning import network_input  # noqa: E402
from zoo.metrics import psnr  # noqa: E402

TINY = {"widths": (8, 8, 8), "depth": 1, "noise_map": True}
TOLERANCE = 1e-4  # float32 onnxruntime/OpenVINO against PyTorch (the exporter's own check)


def _openvino() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict:
    """One noise-aware raw (1 + 1 channels) and one sRGB (3 + 3) model with trained-like weights,
    each exported once into a cache shared by the module's tests (an export takes 10-30 s here)."""
    folder = tmp_path_factory.mktemp("aware")
    cache = folder / "cache"
    found = {"cache": cache}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_CACHE_DIR", str(cache))
        for name, channels in (("raw", 1), ("srgb", 3)):
            torch.manual_seed(channels)
            model = zoo.create_model("mwrcanet", in_channels=channels, **TINY)  # random weights: the map matters
            path = folder / f"{name}.safetensors"
            zoo.save(model, path)
            loaded = zoo.create_model("mwrcanet", weights=str(path))
            found[name] = {"weights": path, "model": loaded, "onnx": cached_export(loaded)}
    return found


@pytest.fixture(autouse=True)
def _cache(shared, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(shared["cache"]))


@pytest.fixture
def image(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    clean = np.kron(rng.random((5, 7)), np.ones((8, 8))).astype(np.float32) * 0.6 + 0.2
    path = tmp_path / "in.npy"
    np.save(path, np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32))
    return path


def test_the_file_says_it_is_noise_aware_and_its_runners_report_it(shared):
    for name, channels in (("raw", 1), ("srgb", 3)):
        path = shared[name]["onnx"]
        metadata = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        assert metadata["zoo.in_channels"] == str(channels) and metadata["zoo.noise_channels"] == str(channels)
        graph_in = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[1].dim_value
        assert graph_in == 2 * channels  # the network's whole input: image, then map
        runner = OrtRunner(path, provider="cpu")
        assert (runner.in_channels, runner.noise_channels) == (channels, channels)
        if _openvino():
            from zoo.export.openvino import OpenVinoRunner

            runner = OpenVinoRunner(path, dtype="float32", cache=False)
            assert (runner.in_channels, runner.noise_channels) == (channels, channels)


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino"])
def test_onnx_and_openvino_match_pytorch_through_the_noise_map(shared, engine):
    if engine == "openvino" and not _openvino():
        pytest.skip("openvino not installed")
    from zoo.export.engines import file_runner

    model = shared["srgb"]["model"]
    runner = file_runner(engine, shared["srgb"]["onnx"], dtype="float32")
    rng = np.random.default_rng(0)
    image = np.clip(0.5 + 0.08 * rng.standard_normal((3, 40, 52)), 0, 1).astype(np.float32)
    cases = [{}, {"noise_level": 0.02, "strength": 0.5}, {"noise_level": 0.1}, {"strength": 1.7, "tile": 32, "overlap": 8}]
    outputs = []
    for options in cases:
        expected = zoo.denoise(model, image, device="cpu", **options)
        got = zoo.denoise(runner, image, **options)
        assert np.abs(got - expected).max() < TOLERANCE, options
        outputs.append(got)
    assert np.abs(outputs[1] - outputs[2]).max() > 1e-3  # the level reaches the graph: it changes the result
    assert np.array_equal(zoo.denoise(runner, image, strength=0.0), image)


def test_zoo_ort_conditions_a_noise_aware_file_as_zoo_denoise_does(shared, tmp_path, image, capsys):
    weights, path = shared["raw"]["weights"], shared["raw"]["onnx"]
    for flags in ([], ["--noise-level", "0.05", "--strength", "0.5"], ["--noise-level", "0.002,0.0001"],
                  ["--strength", "1.5"]):
        by_file, by_model = tmp_path / "file.npy", tmp_path / "model.npy"
        assert main(["ort", str(path), str(image), "-o", str(by_file), "--engine", "onnxruntime",
                     "--precision", "float32", "--force", *flags]) == 0
        assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(by_model),
                     "--engine", "torch", "--precision", "float32", "--force", *flags]) == 0
        assert np.abs(np.load(by_file) - np.load(by_model)).max() < TOLERANCE, flags
    capsys.readouterr()
    low, high = tmp_path / "low.npy", tmp_path / "high.npy"
    for level, out in (("0.005", low), ("0.2", high)):
        assert main(["ort", str(path), str(image), "-o", str(out), "--engine", "onnxruntime", "--noise-level", level]) == 0
    assert np.abs(np.load(low) - np.load(high)).max() > 1e-3
    untouched = tmp_path / "zero.npy"
    assert main(["ort", str(path), str(image), "-o", str(untouched), "--engine", "onnxruntime", "--strength", "0"]) == 0
    assert np.array_equal(np.load(untouched), np.load(image))


def test_zoo_denoise_runs_a_noise_aware_model_on_the_export_engines(shared, tmp_path, image, capsys):
    weights = shared["raw"]["weights"]
    reference = zoo.denoise(shared["raw"]["model"], np.load(image), noise_level=0.03, device="cpu")
    engines_here = ["onnxruntime"] + (["openvino"] if _openvino() else [])
    for engine in engines_here:
        out = tmp_path / f"{engine}.npy"
        assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(out), "--engine", engine,
                     "--precision", "float32", "--noise-level", "0.03"]) == 0
        err = capsys.readouterr().err
        assert f"[{engine}: asked for with --engine]" in err
        assert np.abs(np.load(out) - reference).max() < TOLERANCE


def test_auto_considers_the_export_engines_for_a_noise_aware_model(shared, monkeypatch):
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16", "avx512_bf16"}))
    found, _ = chooser._candidates(shared["raw"]["model"], "auto", None, None)  # its export is in the cache
    names = {c.name for c in found}
    assert {"torch/float32", "onnxruntime/float32", "torch/bfloat16"} <= names
    if _openvino():
        assert {"openvino/float32", "openvino/bfloat16"} <= names


def test_an_engine_the_card_does_not_name_is_measured_through_the_map(shared, tmp_path, monkeypatch):
    """The shipped noise-aware cards name PyTorch's bfloat16 loss only: OpenVINO's is measured, with
    the noise map built beside OpenVINO's network, not borrowed from PyTorch's."""
    if not _openvino():
        pytest.skip("openvino not installed")
    from zoo.export.engines import make_runner

    model = shared["raw"]["model"]
    card_path = tmp_path / "carded.safetensors"
    zoo.save(model, card_path, card={"precision": {"set": "crossdomain-raw", "loss_db": {"bfloat16": {"torch": 0.5}}}})
    carded = zoo.create_model("mwrcanet", weights=str(card_path))
    rng = np.random.default_rng(1)
    clean = [rng.random((32, 32), dtype=np.float32) * 0.5 + 0.2 for _ in range(2)]
    pairs = [Pair(f"h{i}", np.clip(c + 0.04 * rng.standard_normal(c.shape), 0, 1).astype(np.float32), c, raw=True)
             for i, c in enumerate(clean)]
    monkeypatch.setattr(losses, "held_out_pairs", lambda channels, blocks=30: ("crossdomain-raw", pairs))
    inner: list[str] = []
    real = conditioning.Conditioned.__call__

    def spy(self, batch):
        inner.append(type(self.inner).__name__)
        return real(self, batch)

    monkeypatch.setattr(conditioning.Conditioned, "__call__", spy)
    build = lambda: make_runner("openvino", carded, dtype="bfloat16", device="cpu")  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a CPU without bfloat16 runs it in float32, and says so
        loss = losses.loss_of(carded, "bfloat16", "openvino", build)
    assert loss is not None and "measured on 30 blocks of crossdomain-raw" in loss.source
    assert abs(loss.db) < 0.3  # not the card's 0.5: the same network and map, in bfloat16 at most
    assert {"OpenVinoRunner", "TorchRunner"} <= set(inner)
    assert losses.loss_of(carded, "bfloat16", "torch", build).db == 0.5  # the engine it names: from the card


def test_zoo_quantize_calibrates_on_the_image_with_its_map_and_records_it(shared, tmp_path, image, capsys, monkeypatch):
    from zoo.export import quantize as quantizing
    from zoo.export.quantize import int8_runner, runner_card

    weights = shared["raw"]["weights"]
    monkeypatch.setattr(losses, "held_out_pairs", lambda channels, blocks=None: (
        "crossdomain-raw", [Pair("h", np.load(image), np.load(image), raw=True)]))
    seen: list[np.ndarray] = []
    real = quantizing.ort_quantize
    monkeypatch.setattr(quantizing, "ort_quantize", lambda source, calib, keep, target: (
        seen.extend(calib), real(source, calib, keep, target))[1])
    target = tmp_path / "q.onnx"
    assert main(["quantize", "mwrcanet", "--weights", str(weights), "--data", "crossval-raw", "--limit", "2",
                 "--max-drop", "9", "-o", str(target), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["noise_channels"] == 1 and card["in_channels"] == 1 and card["precision"] == "int8"
    from zoo.data.specs import load_data

    pairs = list(load_data("crossval-raw"))[:2]
    assert len(seen) == 3 * 2 and all(batch.shape[1] == 2 for batch in seen)  # each scope: image and map
    for pair, batch in zip(pairs, seen):
        assert pair.noise is not None  # synthetic: the true level is known, and the map is built from it
        assert np.array_equal(batch[0, 0], pair.noisy)
        assert np.allclose(batch, network_input(pair.noisy, pair.noise))
        assert not np.allclose(batch[0, 1], network_input(pair.noisy)[0, 1])  # not the estimate
    runner = int8_runner(target)
    assert runner_card(runner) == card and (runner.in_channels, runner.noise_channels) == (1, 1)
    out = tmp_path / "int8.npy"
    assert main(["ort", str(target), str(image), "-o", str(out), "--noise-level", "0.03"]) == 0
    assert "[int8: the file is quantized" in capsys.readouterr().err
    exact = zoo.denoise(shared["raw"]["model"], np.load(image), noise_level=0.03, device="cpu")
    assert psnr(np.load(out), exact, data_range=1.0) > 30  # INT8 of the same network, told the same level
    zero = tmp_path / "zero.npy"
    assert main(["ort", str(target), str(image), "-o", str(zero), "--strength", "0"]) == 0
    assert np.array_equal(np.load(zero), np.load(image))


def test_accuracy_control_validates_through_the_noise_map(shared, tmp_path, image, monkeypatch):
    if not _openvino():
        pytest.skip("openvino not installed")
    pytest.importorskip("nncf")
    from zoo.export import quantize as quantizing
    from zoo.export.quantize import int8_runner, quantize, runner_card

    monkeypatch.setattr(losses, "held_out_pairs", lambda channels, blocks=None: (
        "crossdomain-raw", [Pair("h", np.load(image), np.load(image), raw=True)]))
    real = quantizing._measure

    def too_lossy(label, path, engine, base, validation, kept_ops):  # every scope over the bound: accuracy control
        tried = real(label, path, engine, base, validation, kept_ops)
        if label != "accuracy control":
            tried.loss_db = 5.0
        return tried

    monkeypatch.setattr(quantizing, "_measure", too_lossy)
    inner: list[str] = []
    real_call = conditioning.Conditioned.__call__

    def spy(self, batch):
        inner.append(type(self.inner).__name__)
        return real_call(self, batch)

    monkeypatch.setattr(conditioning.Conditioned, "__call__", spy)
    rng = np.random.default_rng(2)
    clean = [np.kron(rng.random((4, 4)), np.ones((8, 8))).astype(np.float32) * 0.6 + 0.2 for _ in range(2)]
    pairs = [Pair(f"v{i}", np.clip(c + 0.05 * rng.standard_normal(c.shape), 0, 1).astype(np.float32), c, raw=True)
             for i, c in enumerate(clean)]
    target = tmp_path / "ac.xml"
    card = quantize(shared["raw"]["model"], target, pairs, pairs, max_drop=0.05, data="test")
    assert card["method"] == "NNCF accuracy control" and card["noise_channels"] == 1
    assert "_CompiledRunner" in inner  # NNCF's validation ran through zoo.denoise, the map beside the network
    runner = int8_runner(target)
    assert runner_card(runner)["noise_channels"] == 1 and runner.noise_channels == 1


def _graph(path: Path, in_channels, out_channels, metadata: dict[str, str]) -> Path:
    """A graph from the input's first ``out_channels`` channels (a Slice), with ``metadata``."""
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [out_channels])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    node = helper.make_node("Slice", ["noisy", "starts", "ends", "axes"], ["denoised"])
    body = helper.make_graph([node], "g", [helper.make_tensor_value_info("noisy", TensorProto.FLOAT, ["N", in_channels, "H", "W"])],
                             [helper.make_tensor_value_info("denoised", TensorProto.FLOAT, ["N", out_channels, "H", "W"])],
                             initializer=[starts, ends, axes])
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path


HOSTILE = {
    "an input without the map's channels": (1, 1, {"zoo.in_channels": "1", "zoo.noise_channels": "1"},
                                            "its metadata says 1 image + 1 noise channels, but its input 'noisy' takes 1"),
    "an output with the map's channels": (2, 2, {"zoo.in_channels": "1", "zoo.noise_channels": "1"},
                                          "gives 1 image channels, but its output 'denoised' has 2"),
    "a malformed noise channel count": (2, 1, {"zoo.in_channels": "1", "zoo.noise_channels": "one"},
                                        "its metadata 'zoo.noise_channels' must be a whole number"),
    "a noise count as large as the input": (2, 1, {"zoo.noise_channels": "2"}, "not how many image channels"),
}


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_file_whose_graph_disagrees_with_its_noise_metadata_is_one_line(tmp_path, image, capsys, engine, case):
    if engine == "openvino" and not _openvino():
        pytest.skip("openvino not installed")
    in_channels, out_channels, metadata, expected = HOSTILE[case]
    path = _graph(tmp_path / "hostile.onnx", in_channels, out_channels, metadata)
    out = tmp_path / "out.npy"
    assert main(["ort", str(path), str(image), "-o", str(out), "--engine", engine, "--precision", "float32"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not out.exists()
    line = err.strip().splitlines()[-1]
    assert line.startswith("zoo: error: ") and str(path) in line and expected in line


def test_a_sound_hand_made_noise_aware_file_runs_and_is_conditioned(tmp_path, image):
    """A graph that gives back its image channels: the map reaches it (two channels in), and the
    result is the image, whatever the level."""
    path = _graph(tmp_path / "ok.onnx", 2, 1, {"zoo.in_channels": "1", "zoo.noise_channels": "1"})
    runner = OrtRunner(path, provider="cpu")
    assert (runner.in_channels, runner.noise_channels) == (1, 1)
    data = np.load(image)
    assert np.allclose(zoo.denoise(runner, data, noise_level=0.1, guard=False), data)
    with pytest.raises(ZooError, match="blind"):  # a file without the entry stays blind, as before
        zoo.denoise(OrtRunner(_graph(tmp_path / "blind.onnx", 1, 1, {"zoo.in_channels": "1"}), provider="cpu"),
                    data, strength=0.5)


def test_zoo_bench_quantizes_a_noise_aware_model_with_its_map():
    """The INT8 rows calibrate on the image followed by its map (they once fed the image alone)."""
    from zoo.bench import run_benchmark

    torch.manual_seed(0)
    model = zoo.create_model("mwrcanet", in_channels=3, **TINY)  # no built-in set: random images, their maps estimated
    report = run_benchmark(model, size=32, backends=["onnxruntime-int8"], warmup=0, runs=1, device="cpu")
    row = report["backends"][0]
    assert row["status"] == "ok", row
    assert row["precision"] == "int8" and row["psnr_vs_float32"] > 10
