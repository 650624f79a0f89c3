"""Issue 24, engine choice and cache: a busy measurement is taken again, a small model's first run
does not wait for an export, the probe keeps to its budget, the cache keeps to its cap (LRU) and
`zoo cache list|clear`, zoo bench leaves nothing in the cache, large images tile on their own."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
import torch

import zoo
from zoo import cache
from zoo.cli import main
from zoo.errors import ZooError
from zoo.export import engines
from zoo.infer.runner import TorchRunner
from zoo.infer.budget import auto_tile, bytes_per_pixel, conv_profile, memory_budget

SMALL = {"widths": (8, 16, 16), "depth": 1}
MEASURING = engines.fastest  # conftest makes auto take the first candidate; these tests measure


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ZOO_CACHE_LIMIT", raising=False)
    monkeypatch.delenv("ZOO_MEMORY_BUDGET", raising=False)


@pytest.fixture
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return zoo.create_model("mwrcanet", **SMALL).eval()


def fake_builders(names):
    return {name: (lambda: TorchRunner(zoo.create_model("mwrcanet", **SMALL))) for name in names}


def fake_measure(runs_by_call: list[dict[str, list[float]]], calls: list[int]):
    def measure(runners, channels, **_):
        calls.append(1)
        return runs_by_call[min(len(calls), len(runs_by_call)) - 1]
    return measure


QUIET = {"torch": [10.0, 10.1, 10.0, 10.2], "openvino": [20.0, 20.1, 20.2, 20.0]}
BUSY = {"torch": [10.0, 30.0, 11.0, 25.0], "openvino": [20.0, 20.1, 20.2, 20.0]}  # torch's spread: over 10%


def choose(monkeypatch, runs, calls):
    monkeypatch.setattr(engines, "measure", fake_measure(runs, calls))
    return MEASURING(fake_builders(["torch", "openvino"]), {"model": "x"}, precision="float32", threads=None,
                     remeasure=False, log=None, what="x")


def test_a_quiet_measurement_is_kept(monkeypatch):
    calls: list[int] = []
    assert choose(monkeypatch, [QUIET], calls).engine == "torch"
    second = choose(monkeypatch, [QUIET], calls)
    assert len(calls) == 1 and "measured earlier" in second.reason
    kept = next(iter(engines.read_choices().values()))
    assert not kept.get("busy") and kept["spread"]["torch"] < 0.1


def test_a_busy_measurement_is_taken_again_then_stands(monkeypatch):
    calls: list[int] = []
    first = choose(monkeypatch, [BUSY], calls)
    assert "while busy: measured again next time" in first.reason
    kept = next(iter(engines.read_choices().values()))
    assert kept["busy"] and kept["busy_tries"] == 1 and kept["spread"]["torch"] > 0.1
    for _ in range(engines.BUSY_TRIES - 1):
        choose(monkeypatch, [BUSY], calls)
    assert len(calls) == engines.BUSY_TRIES  # each run measured again
    last = choose(monkeypatch, [BUSY], calls)  # now it stands: no probe on every run of a busy machine
    assert len(calls) == engines.BUSY_TRIES and "while busy" in last.reason and "measured earlier" in last.reason


def test_a_busy_measurement_followed_by_a_quiet_one_is_kept(monkeypatch):
    calls: list[int] = []
    choose(monkeypatch, [BUSY, QUIET], calls)
    choose(monkeypatch, [BUSY, QUIET], calls)  # measured again: quiet this time
    kept = next(iter(engines.read_choices().values()))
    assert len(calls) == 2 and not kept.get("busy")
    choose(monkeypatch, [BUSY, QUIET], calls)
    assert len(calls) == 2


def test_the_probe_keeps_to_its_budget(monkeypatch):
    timed: list[str] = []

    def slow(runner, image):  # every call 50 ms: nine timed calls would take 0.45 s per engine
        timed.append(runner)
        time.sleep(0.05)

    monkeypatch.setattr(engines, "denoise", slow)
    runs = engines.measure({"a": "a", "b": "b"}, 1, size=8, budget=0.2)
    assert all(len(values) == engines.PROBE_MIN_CALLS for values in runs.values())
    assert all(45 <= v < 500 for values in runs.values() for v in values)
    timed.clear()
    monkeypatch.setattr(engines, "denoise", lambda runner, image: timed.append(runner))
    runs = engines.measure({"a": "a"}, 1, size=8, budget=10.0)  # fast calls: the full three rounds of three
    assert len(runs["a"]) == engines.PROBE_ROUNDS * engines.PROBE_BLOCK


def test_a_small_model_does_not_wait_for_its_export(model, monkeypatch):
    pytest.importorskip("openvino")
    monkeypatch.setattr(engines, "fastest", MEASURING)
    monkeypatch.setattr(engines, "_installed", lambda module: True)
    monkeypatch.setattr(engines, "export_available", lambda: True)
    exported: list[int] = []
    monkeypatch.setattr(engines, "measure", lambda runners, channels, **_: exported.append(1) or
                        {name: [1.0, 1.0] for name in runners})
    choice = engines.choose_engine(model, device="cpu")
    assert choice.engine == "torch" and "not measured" in choice.reason and "small" in choice.reason
    assert not exported and not engines.export_path(model).exists() and not engines.choices_file().exists()
    big = monkeypatch.setattr(engines, "SMALL_MODEL_GMACS", 0.0) or None  # a large model is measured
    assert big is None
    monkeypatch.setattr(engines, "make_runner", lambda name, *a, **k: TorchRunner(model))
    assert "measured now" in engines.choose_engine(model, device="cpu").reason and exported == [1]


def test_a_small_model_is_measured_once_its_export_is_there(model, monkeypatch):
    monkeypatch.setattr(engines, "fastest", MEASURING)
    monkeypatch.setattr(engines, "_installed", lambda module: True)
    monkeypatch.setattr(engines, "export_available", lambda: True)
    monkeypatch.setattr(engines, "make_runner", lambda name, *a, **k: TorchRunner(model))
    monkeypatch.setattr(engines, "measure", lambda runners, channels, **_: {n: [5.0, 5.0] for n in runners})
    path = engines.export_path(model)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"an export")
    assert "measured now" in engines.choose_engine(model, device="cpu").reason


def _file(root, name, size, age):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_the_cap_removes_the_least_recently_used_first(tmp_path):
    root = tmp_path / "cache"
    old = _file(root, "onnx/old.onnx", 1000, 300)
    _file(root, "onnx/new.onnx", 1000, 10)
    blob = _file(root, "openvino/1.blob", 1000, 5)  # compiled from old.onnx, used since: one entry with it
    cache.link_blobs(old, [blob])
    os.utime(old, (time.time() - 1, time.time() - 1))  # old.onnx used a second ago: now the newest
    middle = _file(root, "sets/set.npz", 1000, 100)
    measured = _file(root, "engines.json", 1000, 1000)  # the oldest, but never removed by the cap
    kinds = {e.name: (e.kind, e.bytes) for e in cache.entries(root)}
    assert kinds["onnx/old.onnx"][0] == "export" and kinds["onnx/old.onnx"][1] > 2000
    removed = cache.prune(4100, root=root)  # 5 kB with engines.json, which stays
    assert [e.name for e in removed] == ["sets/set.npz"]  # the least recently used
    assert not middle.exists() and old.exists() and blob.exists() and measured.exists()
    removed = cache.prune(3100, root=root)
    assert [e.name for e in removed] == ["onnx/new.onnx"] and old.exists() and blob.exists()
    assert [e.name for e in cache.prune(1500, root=root, keep=[old])] == []  # in use now: kept
    cache.prune(1500, root=root)
    assert not old.exists() and not blob.exists() and measured.exists()  # the export goes with its blob


def test_an_export_is_touched_when_used_and_a_new_one_prunes(model, tmp_path, monkeypatch):
    from zoo.export import cache as export_cache

    made: list[str] = []
    monkeypatch.setattr(export_cache, "export_onnx", lambda m, path, **_: made.append(str(path)) or
                        path.write_bytes(b"y" * 3000))
    root = tmp_path / "cache"
    stale = _file(root, "onnx/stale.onnx", 3000, 3600)
    monkeypatch.setenv("ZOO_CACHE_LIMIT", "4K")
    path = export_cache.cached_export(model)
    assert made == [str(path)] and path.exists() and not stale.exists()  # over the cap: the stale one went
    then = time.time() - 3600
    os.utime(path, (then, then))
    assert export_cache.cached_export(model) == path and len(made) == 1
    assert time.time() - path.stat().st_mtime < 60  # used: touched


def test_cache_cli_list_and_clear(tmp_path, capsys, monkeypatch):
    root = tmp_path / "cache"
    _file(root, "onnx/a.onnx", 2048, 10)
    _file(root, "engines.json", 100, 5)
    assert main(["cache", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["bytes"] == 2148 and listed["limit_bytes"] == cache.DEFAULT_LIMIT
    assert [e["name"] for e in listed["entries"]] == ["engines.json", "onnx/a.onnx"]
    assert main(["cache", "list"]) == 0
    assert "2 entries" in capsys.readouterr().out
    monkeypatch.setenv("ZOO_CACHE_LIMIT", "lots")
    assert main(["cache", "list", "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["type"] == "ZooError" and err.count("\n") == 1 and "ZOO_CACHE_LIMIT" in err
    monkeypatch.setenv("ZOO_CACHE_LIMIT", "1.5G")
    assert cache.cache_limit() == int(1.5 * (1 << 30))
    assert main(["cache", "clear", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"folder": str(root), "removed": 2, "bytes": 2148}
    assert not any(p.is_file() for p in root.rglob("*"))


def test_bench_exports_never_enter_the_cache(model, tmp_path, monkeypatch):
    from zoo.bench import engines as bench_engines
    from zoo.bench.harness import run_benchmark
    from zoo.export import engine_table

    seen: list = []

    def export(m, fp16=False, cache_dir=None):
        path = cache_dir / "onnx" / "m.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"random weights")
        seen.append(path)
        return path

    monkeypatch.setattr(bench_engines, "cached_export", export)
    monkeypatch.setattr(engine_table, "require", lambda name: None)
    monkeypatch.setattr(engine_table, "OrtRunner", lambda path, **_: TorchRunner(model))
    report = run_benchmark(model, size=16, backends=["onnxruntime"], runs=1, warmup=0)
    assert report["backends"][0]["status"] == "ok"
    root = tmp_path / "cache"
    assert seen and root not in seen[0].parents and not seen[0].exists()  # a temporary folder, removed
    assert not root.exists() or not any(root.rglob("*.onnx"))


def test_auto_tile_from_the_memory_budget(model):
    profile = conv_profile(model, 1, 8)
    per_pixel = bytes_per_pixel(profile)
    assert per_pixel > 4 * 5  # at least the image's own copies and one layer
    assert auto_tile(per_pixel, 100, 100, budget=int(per_pixel * 100 * 100)) is None  # fits
    tile = auto_tile(per_pixel, 1000, 1000, budget=int(per_pixel * 200 * 200), multiple=8)
    assert tile is not None and tile % 8 == 0 and tile <= 200 and per_pixel * tile * tile <= per_pixel * 200 * 200
    assert auto_tile(per_pixel, 1000, 1000, budget=None) is None
    assert memory_budget("0") is None and memory_budget("64M") == 64 << 20
    with pytest.raises(ZooError, match="--memory-budget"):
        memory_budget("big")
    wide = conv_profile(zoo.create_model("mwrcanet", widths=(32, 64, 64), depth=1), 1, 8)  # wider: more per pixel
    assert bytes_per_pixel(wide) > 2 * per_pixel and wide.gmacs_per_megapixel > 4 * profile.gmacs_per_megapixel


@pytest.fixture
def _threads_kept():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # --threads sets the process's count


def test_denoise_tiles_on_its_own_past_the_budget(tmp_path, model, capsys, _threads_kept):
    weights = zoo.save(model, tmp_path / "m.safetensors")
    source = tmp_path / "in.npy"
    np.save(source, np.random.default_rng(0).random((256, 320), dtype=np.float32))
    base = ["denoise", "mwrcanet", "--weights", str(weights), str(source), "--mosaic", "RGGB"]
    assert main([*base, "-o", str(tmp_path / "auto.npy"), "--memory-budget", "2M", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    tile = int(err.split("tiles of ")[1].split()[0])
    assert "memory budget" in err and tile < 256 and torch.get_num_threads() == 1
    assert main([*base, "-o", str(tmp_path / "tiled.npy"), "--tile", str(tile)]) == 0
    assert main([*base, "-o", str(tmp_path / "whole.npy"), "--memory-budget", "0"]) == 0
    assert "tiles of" not in capsys.readouterr().err
    auto, tiled, whole = (np.load(tmp_path / f"{n}.npy") for n in ("auto", "tiled", "whole"))
    assert np.array_equal(auto, tiled) and not np.array_equal(auto, whole)
    assert main([*base, "-o", str(tmp_path / "x.npy"), "--memory-budget", "lots"]) == 2
    assert main([*base, "-o", str(tmp_path / "y.npy"), "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert "--memory-budget" in err and "--threads must be at least 1" in err and "Traceback" not in err


def test_the_probe_spread_is_the_benchmark_s():
    from zoo import timing

    assert engines.BUSY_SPREAD == timing.SPREAD_LIMIT and engines.spread is timing.spread


def test_a_model_that_cannot_be_profiled_is_not_tiled_on_its_own(tmp_path, model, capsys, monkeypatch):
    from zoo.infer import budget

    def refuse(*_, **__):
        raise ValueError("this plugin wants 512x512 at least")

    monkeypatch.setattr(budget, "conv_profile", refuse)
    weights = zoo.save(model, tmp_path / "m.safetensors")
    source = tmp_path / "in.npy"
    np.save(source, np.random.default_rng(0).random((64, 64), dtype=np.float32))
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(source), "--mosaic", "RGGB",
                 "-o", str(tmp_path / "out.npy"), "--memory-budget", "1K"]) == 0
    err = capsys.readouterr().err
    assert "zoo: warning: cannot estimate the memory" in err and "give --tile" in err
    assert "tiles of" not in err and (tmp_path / "out.npy").exists()


def test_threads_reach_the_exported_engines(tmp_path, model, capsys, _threads_kept):
    pytest.importorskip("openvino")
    pytest.importorskip("onnxscript")
    weights = zoo.save(model, tmp_path / "m.safetensors")
    source = tmp_path / "in.npy"
    np.save(source, np.random.default_rng(0).random((32, 32), dtype=np.float32))
    base = ["denoise", "mwrcanet", "--weights", str(weights), str(source), "--mosaic", "RGGB", "--threads", "1"]
    assert main([*base, "-o", str(tmp_path / "ov.npy"), "--engine", "openvino"]) == 0
    assert "OpenVINO" in (err := capsys.readouterr().err) and "1 threads" in err  # INFERENCE_NUM_THREADS
    from zoo.export import runner as ort_runner

    seen: list[int] = []
    real = ort_runner.OrtRunner.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        seen.append(self.session.get_session_options().intra_op_num_threads)

    import unittest.mock
    with unittest.mock.patch.object(ort_runner.OrtRunner, "__init__", spy):
        assert main([*base, "-o", str(tmp_path / "ort.npy"), "--engine", "onnxruntime"]) == 0
    assert seen == [1]
