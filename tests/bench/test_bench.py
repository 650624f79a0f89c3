"""The benchmark harness and `zoo bench`: every reported figure present and consistent."""

from __future__ import annotations

import json

import pytest

import zoo
from zoo.bench import run_benchmark
from zoo.cli import main

SMALL = {"widths": (8, 8, 8), "depth": 1}


def test_report_has_every_figure_per_backend():
    model = zoo.create_model("mwrcanet", **SMALL)
    report = run_benchmark(model, size=32, batch=2, backends=["eager", "channels_last"], warmup=1, runs=2)
    assert report["input_shape"] == [2, 1, 32, 32]
    assert report["parameters"] == sum(p.numel() for p in model.parameters())
    assert report["gmacs_per_megapixel"] == pytest.approx(report["gmacs_per_image"] / (32 * 32 / 1e6), rel=1e-9)
    assert report["conv_peak_gflops"] > 0
    for result in report["backends"]:
        assert result["status"] == "ok"
        latency = result["latency_ms"]
        assert 0 < latency["min"] <= latency["median"] <= latency["max"]
        assert result["megapixels_per_s"] == pytest.approx(2 * 32 * 32 / 1e6 / (latency["median"] / 1e3))
        assert result["gflops"] == pytest.approx(2 * report["gmacs_per_image"] * 2 / (latency["median"] / 1e3))
        assert 0 < result["fraction_of_peak"] and result["peak_memory_mib"] > 0
        assert result["device"].startswith("cpu (float32")
        assert result["psnr_vs_float32"] is None
    assert "channels_last" in report["backends"][1]["device"]


def test_reduced_precision_reports_psnr_against_float32():
    model = zoo.create_model("mwresnet", **SMALL)
    report = run_benchmark(model, size=32, backends=["channels_last"], dtype="bfloat16", warmup=0, runs=1)
    assert report["dtype"] == "bfloat16"
    assert 30 < report["backends"][0]["psnr_vs_float32"] < 200


def test_ensemble_counts_eight_passes():
    model = zoo.create_model("mwresnet", **SMALL)
    single = run_benchmark(model, size=32, backends=["eager"], warmup=0, runs=1)
    ensemble = run_benchmark(model, size=32, backends=["eager"], ensemble=True, warmup=0, runs=1)
    assert ensemble["gmacs_per_image"] == pytest.approx(8 * single["gmacs_per_image"])


def test_unavailable_backend_is_a_note(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler")
    report = run_benchmark(zoo.create_model("mwresnet", **SMALL), size=16, backends=["compile"], warmup=0, runs=1)
    assert report["backends"][0]["status"].startswith("skipped: torch.compile on CPU needs a C++ compiler")


def test_cli_json_table_and_plot(tmp_path, capsys):
    plot = tmp_path / "bench.png"
    args = ["bench", "mwresnet", "--size", "32", "--runs", "1", "--warmup", "0", "--threads", "1"]
    assert main(args + ["--json", "--plot", str(plot)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [b["backend"] for b in report["backends"]] == ["eager", "channels_last"]
    assert report["machine"]["threads"] == 1
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "GFLOP/s" in table and "of peak" in table and "channels_last" in table
    assert table.splitlines()[3].split()[0] == "engine"  # the column says engine; the JSON keeps "backend"


def test_cli_bad_engine_is_one_line(capsys):
    assert main(["bench", "mwresnet", "--engines", "eager,warp-drive"]) == 2
    assert capsys.readouterr().err.strip() == ("zoo: error: unknown engine 'warp-drive'; choose from eager, channels_last, "
                                               "compile, onnxruntime, onnxruntime-fp16, onnxruntime-cuda, onnxruntime-cuda-fp16, "
                                               "onnxruntime-tensorrt, onnxruntime-tensorrt-fp16, openvino, openvino-bf16, "
                                               "openvino-int8, onnxruntime-int8")


@pytest.mark.parametrize("args, message", [(["--threads", "0"], "--threads must be at least 1"),
                                           (["--tile", "8"], "must exceed overlap"),
                                           (["--device", "gpu"], "unknown device 'gpu'")])
def test_cli_bad_settings_are_one_line(capsys, args, message):
    assert main(["bench", "mwresnet", "--size", "16", "--runs", "1", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_plot_into_a_folder_is_refused_up_front(tmp_path, capsys):
    assert main(["bench", "mwresnet", "--size", "16", "--runs", "1", "--plot", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_tiled_macs_count_the_overlaps():
    model = zoo.create_model("mwresnet", **SMALL)
    untiled = run_benchmark(model, size=256, backends=[], warmup=0, runs=1)
    tiled = run_benchmark(model, size=256, backends=[], tile=128, warmup=0, runs=1)
    # 256 in tiles of at most 128 sharing 32: three tiles of 112 a side (336 px of work per 256).
    assert tiled["gmacs_per_image"] == pytest.approx(untiled["gmacs_per_image"] * (336 / 256) ** 2, rel=1e-3)


def test_the_tile_overlap_is_an_option_as_in_denoise_and_eval(capsys):
    model = zoo.create_model("mwresnet", **SMALL)
    untiled = run_benchmark(model, size=256, backends=[], warmup=0, runs=1)
    narrow = run_benchmark(model, size=256, backends=[], tile=128, overlap=8, warmup=0, runs=1)
    # 256 in tiles of at most 128 sharing 8: three tiles of 96 a side (288 px of work per 256).
    assert narrow["gmacs_per_image"] == pytest.approx(untiled["gmacs_per_image"] * (288 / 256) ** 2, rel=1e-3)
    assert (narrow["tile"], narrow["overlap"]) == (128, 8) and untiled["overlap"] is None
    assert main(["bench", "mwresnet", "--size", "32", "--runs", "1", "--warmup", "0", "--backends", "eager",
                 "--tile", "24", "--overlap", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["overlap"] == 8
