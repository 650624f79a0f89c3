"""INT8: `zoo quantize` (NNCF for OpenVINO, onnxruntime's static QDQ), the file's card, its runners,
`--precision int8|auto` finding it, and the bench's INT8 backends and per-precision peaks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("openvino")
pytest.importorskip("nncf")

import zoo  # noqa: E402
from zoo import machine as cpu  # noqa: E402
from zoo.cli import main  # noqa: E402
from zoo.data.pairs import Pair  # noqa: E402
from zoo.export import engines, losses  # noqa: E402
from zoo.export import precision as chooser  # noqa: E402
from zoo.export.quantize import cached_int8, int8_runner, runner_card, write_card  # noqa: E402
from zoo.export.quantizers import scopes  # noqa: E402
from zoo.metrics import psnr  # noqa: E402

TINY = {"in_channels": 1, "widths": (8, 8, 8), "depth": 1}
MEASURING = engines.fastest  # conftest makes auto take the first candidate; one test measures (fixed timings)
QUICK = ["--data", "crossval-raw", "--limit", "3", "--max-drop", "9"]  # 9 dB: no accuracy control on a random net


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(5)  # a small stand-in for the held-out set (building crossdomain-raw takes seconds)
    clean = [rng.random((32, 32), dtype=np.float32) * 0.5 for _ in range(3)]
    pairs = [Pair(f"h{i}", np.clip(c + 0.03 * rng.standard_normal(c.shape), 0, 1).astype(np.float32), c, raw=True)
             for i, c in enumerate(clean)]
    monkeypatch.setattr(losses, "held_out_pairs", lambda channels, blocks=30: ("crossdomain-raw", pairs))


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    zoo.save(zoo.create_model("mwrcanet", **TINY), path)
    return path


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "in.npy"
    np.save(path, np.random.default_rng(0).random((40, 56), dtype=np.float32) * 0.3)
    return path


@pytest.mark.parametrize("suffix, engine, marker", [(".xml", "openvino", "FakeQuantize"),
                                                   (".onnx", "onnxruntime", "QuantizeLinear")])
def test_a_quantized_file_round_trips_with_its_card_and_runs(tmp_path, capsys, weights, image, suffix, engine, marker):
    target = tmp_path / f"q{suffix}"
    assert main(["quantize", "mwrcanet", "--weights", str(weights), *QUICK, "-o", str(target), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["precision"] == "int8" and card["engine"] == engine and card["in_channels"] == 1
    assert [t["kept"] for t in card["tried"]] == ["none", "head+tail", "head+tail+adds"]
    assert card["kept_in_float"] in {"none", "head+tail", "head+tail+adds"} and card["method"] == "scope chosen by measurement"
    chosen = next(t for t in card["tried"] if t["kept"] == card["kept_in_float"])
    assert card["loss_db"] == chosen["loss_db"] and card["calibration"] == "crossval-raw (3 images)"
    assert card["held_out"] == "crossdomain-raw (3 blocks)" and isinstance(card["held_out_loss_db"], float)
    assert marker in target.read_text(errors="replace") if suffix == ".xml" else marker.encode() in target.read_bytes()
    if suffix == ".xml":
        assert target.with_suffix(".bin").is_file()
    runner = int8_runner(target)
    assert runner_card(runner) == card and runner.in_channels == 1 and runner.size_multiple == 8
    model = zoo.create_model("mwrcanet", weights=str(weights))
    assert cached_int8(model, engine).is_file()  # the copy auto finds
    from zoo.cache import entries

    (kept,) = [entry for entry in entries() if entry.kind == "int8"]  # an IR's .xml and .bin: one entry
    assert sorted(p.suffix for p in kept.files) == ([".bin", ".xml"] if suffix == ".xml" else [".onnx"])

    out = tmp_path / "out.npy"
    assert main(["ort", str(target), str(image), "-o", str(out)]) == 0
    assert "[int8: the file is quantized" in capsys.readouterr().err
    exact = zoo.denoise(model, np.load(image))
    assert np.load(out).shape == exact.shape and psnr(np.load(out), exact, data_range=1.0) > 25

    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(tmp_path / "i.npy"),
                 "--precision", "int8", "--engine", engine]) == 0
    assert "[int8: asked for with --precision" in capsys.readouterr().err
    assert main(["ort", str(target), str(image), "-o", str(tmp_path / "x.npy"), "--precision", "float32"]) == 2
    assert "is an INT8 file: it runs in int8" in capsys.readouterr().err


def test_auto_takes_int8_by_its_files_held_out_loss(tmp_path, monkeypatch, weights):
    assert main(["quantize", "mwrcanet", "--weights", str(weights), *QUICK, "-o", str(tmp_path / "q.onnx")]) == 0
    model = zoo.create_model("mwrcanet", weights=str(weights))
    kept = cached_int8(model, "onnxruntime")
    card = runner_card(int8_runner(kept))
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset())  # no bfloat16: float32 against int8 only
    monkeypatch.setattr(engines, "fastest", MEASURING)
    monkeypatch.setattr(engines, "measure", lambda runners, channels, **_: {
        name: [5.0 if name.endswith("int8") else 20.0] * 4 for name in runners})
    write_card(kept, {**card, "loss_db": 0.0, "held_out_loss_db": 0.02}, "onnxruntime")
    choice = chooser.choose(model, remeasure=True)
    assert choice.precision == "int8" and choice.engine == "onnxruntime"
    assert choice.precision_reason.startswith(
        "int8: 0.02 dB below float32 on its file's card (crossdomain-raw (3 blocks)), 4.0x faster (measured)")
    write_card(kept, {**card, "loss_db": 0.0, "held_out_loss_db": 0.2}, "onnxruntime")  # good on validation only
    choice = chooser.choose(model)
    assert choice.precision == "float32"
    assert "onnxruntime/int8 passed over: 0.20 dB below float32 on its file's card" in choice.precision_reason


@pytest.mark.parametrize("args, message", [
    (["-o", "q.txt"], "name the file .xml (OpenVINO, NNCF) or .onnx (onnxruntime, QDQ)"),
    (["-o", "q.xml", "--engine", "onnxruntime"], "onnxruntime writes .onnx, not .xml"),
    (["-o", "q.xml", "--max-drop", "nan"], "--max-drop is in dB, from 0 to 10"),
    (["-o", "q.xml", "--max-drop", "-1"], "--max-drop is in dB, from 0 to 10"),
    (["-o", "q.xml", "--limit", "0"], "--limit must be at least 1"),
    (["-o", "missing/q.xml"], "give a file in an existing folder"),
    (["-o", "q.onnx", "--data", "no-such-set"], "no-such-set"),
])
def test_quantize_mistakes_are_one_line_with_json_too(tmp_path, monkeypatch, capsys, weights, args, message):
    monkeypatch.chdir(tmp_path)
    base = ["quantize", "mwrcanet", "--weights", str(weights), "--data", "crossval-raw"]
    for extra in ([], ["--json"]):
        assert main(base + args + extra) == 2
        captured = capsys.readouterr()
        assert captured.err.strip().splitlines()[-1].startswith("zoo: error: ") and message in captured.err
        if extra:
            assert message in json.loads(captured.out)["error"]
    assert not any(tmp_path.glob("q.*"))


def test_quantize_refuses_an_existing_file(tmp_path, capsys, weights):
    existing = tmp_path / "q.onnx"
    existing.write_text("mine")
    assert main(["quantize", "mwrcanet", "--weights", str(weights), *QUICK, "-o", str(existing)]) == 2
    assert "exists (use --force to overwrite)" in capsys.readouterr().err and existing.read_text() == "mine"
    # A noise-aware model is quantized like a blind one now: tests/export/test_noise_aware_export.py.


def test_scopes_keep_head_tail_and_residual_additions():
    ops = [("dwt", "haar", [], False), ("c1", "conv", [], False), ("bias", "add", [], False),
           ("c2", "conv", [], False), ("skip", "add", [], True), ("c3", "conv", [], False),
           ("back", "add", [], True), ("iwt", "haar", [], False)]
    found = scopes(ops)
    assert found["none"] == []
    assert found["head+tail"] == ["dwt", "iwt", "c1", "c3", "back"]
    assert found["head+tail+adds"] == ["dwt", "iwt", "c1", "c3", "back", "skip"]


def test_bench_int8_rows_are_measured_against_their_own_peak(weights):
    from zoo.bench import format_report, run_benchmark

    model = zoo.create_model("mwrcanet", weights=str(weights))
    report = run_benchmark(model, size=32, backends=["channels_last", "openvino-int8", "onnxruntime-int8"], warmup=0,
                           runs=1, device="cpu")
    rows = {r["backend"]: r for r in report["backends"]}
    assert all(r["status"] == "ok" for r in rows.values()), rows
    assert rows["openvino-int8"]["precision"] == "int8" and rows["onnxruntime-int8"]["precision"] == "int8"
    assert rows["openvino-int8"]["peak"]["kernel"] == "openvino int8 3x3 conv"
    assert rows["onnxruntime-int8"]["peak"]["kernel"] == "onnxruntime int8 3x3 conv"
    assert rows["channels_last"]["peak"]["kernel"] == "torch float32 3x3 conv"
    assert rows["channels_last"]["psnr_vs_float32"] is None and rows["openvino-int8"]["psnr_vs_float32"] > 10
    assert "int8" in rows["onnxruntime-int8"]["device"]
    assert "PSNR vs fp32" in format_report(report)


def test_a_row_above_its_peak_is_explained():
    from zoo.bench import format_report
    from zoo.bench.harness import ABOVE_PEAK

    row = {"backend": "openvino-bf16", "status": "ok", "device": "OpenVINO", "precision": "bfloat16",
           "latency_ms": {"median": 10.0, "min": 9.0, "max": 11.0}, "spread": {"latency": 0.01},
           "megapixels_per_s": 6.5, "gflops": 300.0, "fraction_of_peak": 1.99, "peak_memory_mib": 100.0,
           "psnr_vs_float32": 50.0, "peak": {"kernel": "openvino bfloat16 3x3 conv", "gflops": 150.0},
           "above_peak": ABOVE_PEAK.format(kernel="openvino bfloat16 3x3 conv")}
    report = {"model": "m", "parameters": 1e6, "gmacs_per_image": 1.0, "gmacs_per_megapixel": 15.0, "input_shape": [1, 1, 256, 256],
              "dtype": "float32", "ensemble": False, "tile": None, "conv_peak_gflops": 100.0,
              "machine": {"cpu": "x", "threads": 2, "torch": "2"}, "backends": [row], "warnings": []}
    text = format_report(report)
    assert "199%*" in text
    assert "* openvino-bf16: 199% of its peak, above its reference (openvino bfloat16 3x3 conv)" in text
