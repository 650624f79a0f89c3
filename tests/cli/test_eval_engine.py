"""Issue 24, batch work in `zoo eval`: --engine runs the network in the engine named (as zoo denoise
does), --threads sets every engine's threads, a missing baseline package is one line before any
model runs."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

import zoo
from zoo.cli import main
from zoo.cli import evaluate as eval_cli

SMALL = {"widths": (8, 16, 16), "depth": 1}


@pytest.fixture(autouse=True)
def _private_cache_and_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    return zoo.save(zoo.create_model("mwrcanet", **SMALL), tmp_path / "small.safetensors")


def _psnr(capsys) -> float:
    return json.loads(capsys.readouterr().out)["summary"]["psnr"]


def test_eval_engine_onnxruntime_scores_as_torch(weights, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    base = ["eval", "mwrcanet", "--weights", str(weights), "--data", "synthraw", "--limit", "2", "--json"]
    assert main([*base, "--engine", "torch", "--threads", "1"]) == 0
    torch_psnr = _psnr(capsys)
    assert torch.get_num_threads() == 1
    assert main([*base, "--engine", "onnxruntime"]) == 0
    out, err = capsys.readouterr()
    assert "[onnxruntime: asked for with --engine]" in err
    assert abs(json.loads(out)["summary"]["psnr"] - torch_psnr) < 1e-3
    assert main([*base]) == 0  # auto names its choice and why
    assert "[torch: auto:" in capsys.readouterr().err


def test_eval_reports_a_missing_baseline_package_before_any_model_runs(weights, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bm3d" else real(name, *a))
    built: list[str] = []
    monkeypatch.setattr(eval_cli, "create_model", lambda name, **_: built.append(name))
    monkeypatch.setattr(eval_cli, "load_data", lambda name: built.append(name))
    assert main(["eval", "mwrcanet", "bm3d", "--weights", str(weights), "--data", "synthraw", "--json"]) == 2
    out, err = capsys.readouterr()
    assert built == []  # neither the data nor the network
    assert err.count("\n") == 1 and "bm3d" in err and "pip install" in err and "Traceback" not in err
    assert json.loads(out)["type"] == "ZooError"


def test_eval_threads_and_engine_mistakes_are_one_line(weights, capsys):
    base = ["eval", "mwrcanet", "--weights", str(weights), "--data", "synthraw", "--limit", "1"]
    assert main([*base, "--threads", "0"]) == 2
    assert main([*base, "--engine", "tensorflow"]) == 2
    err = capsys.readouterr().err
    assert "--threads must be at least 1" in err and "invalid choice: 'tensorflow'" in err and "Traceback" not in err
