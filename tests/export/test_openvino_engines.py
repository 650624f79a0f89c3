"""Engine choice (zoo.export.engines): named engines agree within their tolerance, auto measures
once per machine, model and precision and keeps the result, and the rules around it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import zoo
from zoo.errors import ZooError

from openvino_common import BF16_TOLERANCE, HAS_BF16, SMALL  # tests/ is on the path; skips without OpenVINO

from zoo.export import FP32_TOLERANCE, export_onnx  # noqa: E402
from zoo.export import engines  # noqa: E402

MEASURING = engines.fastest  # conftest makes auto take the first candidate; these tests measure


@pytest.fixture(autouse=True)
def _private_cache_and_measuring(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(engines, "fastest", MEASURING)
    monkeypatch.setattr(engines, "SMALL_MODEL_GMACS", 0.0)  # the small test model is measured as a large one


@pytest.fixture
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return zoo.create_model("mwrcanet", **SMALL).eval()


def fake_measure(timings: dict[str, float], calls: list[list[str]]):
    """A stand-in for the probe: fixed milliseconds per engine, and a log of what it measured."""
    def measure(runners, channels, **_):
        calls.append(sorted(runners))
        return {name: [timings[name]] * 4 for name in runners}
    return measure


def test_every_named_engine_gives_the_same_result(model):
    image = np.random.default_rng(0).random((40, 56), dtype=np.float32)
    expected = zoo.denoise(model, image, device="cpu")
    for engine in engines.ENGINES:
        choice = engines.choose_engine(model, engine=engine, device="cpu")
        assert choice.engine == engine and choice.reason == "asked for with --engine"
        assert np.abs(zoo.denoise(choice.runner, image) - expected).max() <= FP32_TOLERANCE, engine
    if HAS_BF16:
        choice = engines.choose_engine(model, engine="openvino", dtype="bfloat16", device="cpu")
        assert 0 < np.abs(zoo.denoise(choice.runner, image) - expected).max() <= BF16_TOLERANCE


def test_auto_measures_once_per_model_and_precision_and_keeps_it(model, monkeypatch):
    calls: list[list[str]] = []
    monkeypatch.setattr(engines, "measure", fake_measure({"torch": 30.0, "onnxruntime": 20.0, "openvino": 10.0}, calls))
    first = engines.choose_engine(model, device="cpu")
    assert first.engine == "openvino" and "measured now" in first.reason and "openvino 10 ms" in first.reason
    assert calls == [["onnxruntime", "openvino", "torch"]]
    second = engines.choose_engine(model, device="cpu")  # kept: no second measurement
    assert second.engine == "openvino" and "measured earlier" in second.reason and len(calls) == 1
    kept = json.loads(engines.choices_file().read_text())
    assert [entry["engine"] for entry in kept.values()] == ["openvino"]
    other_weights = zoo.create_model("mwrcanet", **SMALL)  # the same architecture: the same choice
    assert engines.choose_engine(other_weights, device="cpu").engine == "openvino" and len(calls) == 1
    engines.choose_engine(model, device="cpu", remeasure=True)
    assert len(calls) == 2
    if HAS_BF16:  # another precision is another measurement, without onnxruntime (no bf16 CPU path)
        assert engines.choose_engine(model, dtype="bfloat16", device="cpu").engine == "openvino"
        assert calls[-1] == ["openvino", "torch"]


def test_auto_result_matches_pytorch_whatever_it_picks(model):
    image = np.random.default_rng(1).random((48, 40), dtype=np.float32)
    messages: list[str] = []
    choice = engines.choose_engine(model, device="cpu", log=messages.append)  # a real measurement
    assert choice.engine in engines.ENGINES and set(choice.milliseconds) == set(engines.ENGINES)
    assert len(messages) == 1 and "measuring" in messages[0]
    assert np.abs(zoo.denoise(choice.runner, image) - zoo.denoise(model, image, device="cpu")).max() <= FP32_TOLERANCE


def test_auto_with_torch_alone_says_why(model, monkeypatch):
    monkeypatch.setattr(engines, "_installed", lambda module: module not in ("openvino", "onnxruntime"))
    choice = engines.choose_engine(model, device="cpu")
    assert choice.engine == "torch" and "the only CPU engine" in choice.reason and "zoo-denoise[openvino]" in choice.reason


def test_an_unreadable_record_counts_as_none(model, monkeypatch):
    engines.choices_file().parent.mkdir(parents=True, exist_ok=True)
    engines.choices_file().write_text("{not json")
    calls: list[list[str]] = []
    monkeypatch.setattr(engines, "measure", fake_measure({"torch": 1.0, "onnxruntime": 2.0, "openvino": 3.0}, calls))
    with pytest.warns(RuntimeWarning, match="engines.json .* is not valid JSON.*measuring again"):
        assert engines.choose_engine(model, device="cpu").engine == "torch" and len(calls) == 1
    assert json.loads(engines.choices_file().read_text())  # rewritten whole


def test_engine_mistakes_are_one_line(model):
    with pytest.raises(ZooError, match="use --engine openvino"):
        engines.make_runner("onnxruntime", model, dtype="bfloat16", device="cpu")
    with pytest.raises(ZooError, match="unknown engine"):
        engines.choose_engine(model, engine="tensorflow", device="cpu")


def test_file_engines(tmp_path, model, monkeypatch):
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    x = torch.rand(1, 1, 40, 32)
    with torch.inference_mode():
        expected = model(x).numpy()
    for engine in engines.FILE_ENGINES:
        choice = engines.choose_file_engine(path, engine=engine)
        assert np.abs(choice.runner(x).numpy() - expected).max() <= FP32_TOLERANCE, engine
    assert engines.choose_file_engine(path, provider="cpu").engine == "onnxruntime"
    if HAS_BF16:
        choice = engines.choose_file_engine(path, dtype="bfloat16")
        assert choice.engine == "openvino" and "bfloat16" in choice.reason
    with pytest.raises(ZooError, match="leave it out with --engine openvino"):
        engines.choose_file_engine(path, engine="openvino", provider="cpu")
    with pytest.raises(ZooError, match="use --engine openvino"):
        engines.choose_file_engine(path, engine="onnxruntime", dtype="bfloat16")
    calls: list[list[str]] = []
    monkeypatch.setattr(engines, "measure", fake_measure({"onnxruntime": 5.0, "openvino": 9.0}, calls))
    first = engines.choose_file_engine(path)
    assert first.engine == "onnxruntime" and calls == [["onnxruntime", "openvino"]]
    assert engines.choose_file_engine(path).engine == "onnxruntime" and len(calls) == 1  # kept, by the file's bytes
