"""--engine on the command line: `zoo denoise` and `zoo ort` through OpenVINO give PyTorch's
result within the engine's tolerance, name the engine that ran and why in one line, and mistakes
(or a missing extra) are one line."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import zoo
from zoo.cli import main

from openvino_common import BF16_TOLERANCE, HAS_BF16, SMALL  # tests/ is on the path; skips without OpenVINO

from zoo.export import FP32_TOLERANCE  # noqa: E402
from zoo.export import engines  # noqa: E402

MEASURING = engines.fastest  # conftest makes auto take the first candidate


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def files(tmp_path):
    """Small mwrcanet weights, their ONNX export, a noisy .npy image and PyTorch's result for it."""
    torch.manual_seed(0)
    model = zoo.create_model("mwrcanet", **SMALL)
    weights = zoo.save(model, tmp_path / "small.safetensors")
    onnx_file = tmp_path / "small.onnx"
    assert main(["export", "mwrcanet", "--weights", str(weights), "-o", str(onnx_file)]) == 0
    image = np.random.default_rng(0).random((56, 72), dtype=np.float32)
    np.save(tmp_path / "noisy.npy", image)
    return weights, onnx_file, tmp_path / "noisy.npy", zoo.denoise(model, image, device="cpu")


def engine_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("zoo: ")]


def test_denoise_with_openvino_matches_pytorch_and_says_so(files, tmp_path, capsys):
    weights, _, image, expected = files
    capsys.readouterr()
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(tmp_path / "ov.npy"),
                 "--engine", "openvino", "--device", "cpu"]) == 0
    lines = engine_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("zoo: mwrcanet on OpenVINO ")
    assert "openvino: asked for with --engine" in lines[0]
    assert np.abs(np.load(tmp_path / "ov.npy") - expected).max() <= FP32_TOLERANCE


def test_denoise_auto_measures_and_names_its_choice(files, tmp_path, capsys, monkeypatch):
    weights, _, image, expected = files
    monkeypatch.setattr(engines, "fastest", MEASURING)
    monkeypatch.setattr(engines, "SMALL_MODEL_GMACS", 0.0)  # the small test model is measured as a large one
    monkeypatch.setattr(engines, "measure", lambda runners, channels, **_: {
        name: [{"openvino": 1.0, "onnxruntime": 2.0, "torch": 3.0}[name]] * 4 for name in runners})
    capsys.readouterr()
    out = tmp_path / "auto.npy"
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(out), "--device", "cpu",
                 "--precision", "float32"]) == 0  # the engine among float32 ones (auto precision: test_precision_auto)
    lines = engine_lines(capsys.readouterr().err)
    assert "measuring each" in lines[0] and len(lines) == 2
    assert "openvino: auto: the fastest float32 engine on this CPU, measured now" in lines[1]
    assert np.abs(np.load(out) - expected).max() <= FP32_TOLERANCE
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(out), "--device", "cpu",
                 "--force", "--precision", "float32"]) == 0
    lines = engine_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "measured earlier" in lines[0]


def test_ort_runs_either_engine_and_bfloat16_through_openvino(files, tmp_path, capsys):
    _, onnx_file, image, expected = files
    for engine in ("onnxruntime", "openvino"):
        out = tmp_path / f"{engine}.npy"
        assert main(["ort", str(onnx_file), str(image), "-o", str(out), "--engine", engine]) == 0
        assert np.abs(np.load(out) - expected).max() <= FP32_TOLERANCE, engine
    if HAS_BF16:
        capsys.readouterr()
        out = tmp_path / "bf16.npy"
        assert main(["ort", str(onnx_file), str(image), "-o", str(out), "--precision", "bfloat16"]) == 0
        lines = engine_lines(capsys.readouterr().err)
        assert len(lines) == 1 and "bfloat16" in lines[0] and "auto: bfloat16 on a CPU runs in OpenVINO" in lines[0]
        assert 0 < np.abs(np.load(out) - expected).max() <= BF16_TOLERANCE


@pytest.mark.parametrize("options, message", [
    (["--engine", "openvino", "--provider", "cpu"], "leave it out with --engine openvino"),
    (["--engine", "onnxruntime", "--precision", "bfloat16"], "use --engine openvino"),
])
def test_ort_engine_mistakes_are_one_line(files, tmp_path, capsys, options, message):
    _, onnx_file, image, _ = files
    capsys.readouterr()
    assert main(["ort", str(onnx_file), str(image), "-o", str(tmp_path / "x.npy"), *options]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("zoo: error: ") and message in err


def test_without_openvino_asking_for_it_is_one_line(files, tmp_path, capsys, monkeypatch):
    weights, _, image, _ = files
    monkeypatch.setitem(sys.modules, "openvino", None)
    capsys.readouterr()
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(tmp_path / "x.npy"),
                 "--engine", "openvino", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "zoo-denoise[openvino]"' in err


def test_help_says_how_the_engine_is_chosen(capsys):
    for command in ("denoise", "ort"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--engine" in text and "measured once on this machine" in text, command
