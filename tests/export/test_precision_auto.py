"""--precision auto|float32|bfloat16|int8 (zoo.export.precision): auto takes the fastest precision
within 0.05 dB of float32, by the loss on the model's card (or measured once and kept), passes
bfloat16 over where the CPU has no native bfloat16, and says which precision ran and why."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import zoo
from zoo import machine as cpu
from zoo.cli import main
from zoo.data.pairs import Pair
from zoo.errors import ZooError
from zoo.export import engines, losses
from zoo.export import precision as chooser

TINY = {"in_channels": 1, "widths": (8, 8, 8), "depth": 1}
MEASURING = engines.fastest  # conftest makes auto take the first candidate; these tests measure (with fixed timings)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(engines, "fastest", MEASURING)
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16", "avx512_bf16"}))


def timed(monkeypatch, milliseconds: dict[str, float]) -> list[list[str]]:
    """The probe measures each candidate at these fixed timings; the list records what it measured."""
    calls: list[list[str]] = []

    def measure(runners, channels, **_):
        calls.append(sorted(runners))
        return {name: [milliseconds[name]] * 4 for name in runners}

    monkeypatch.setattr(engines, "measure", measure)
    return calls


def saved(tmp_path, card: dict | None, name: str = "tiny.safetensors"):
    torch.manual_seed(0)
    path = tmp_path / name
    zoo.save(zoo.create_model("mwrcanet", **TINY), path, card=card)
    return zoo.create_model("mwrcanet", weights=str(path)), path


def bf16_card(loss: float) -> dict:
    return {"precision": {"set": "crossdomain-raw", "blocks": 120, "loss_db": {"bfloat16": {"torch": loss, "openvino": loss}}}}


def test_auto_takes_bfloat16_from_the_card_when_it_is_faster(tmp_path, monkeypatch):
    model, _ = saved(tmp_path, bf16_card(0.012))
    calls = timed(monkeypatch, {"torch/float32": 52.0, "torch/bfloat16": 10.0})
    choice = chooser.choose(model)
    assert choice.precision == "bfloat16" and choice.engine == "torch"
    assert choice.runner.dtype == torch.bfloat16
    assert choice.precision_reason.startswith("bfloat16: 0.01 dB below float32 on its card (crossdomain-raw), 5.2x faster")
    assert calls == [["torch/bfloat16", "torch/float32"]]
    again = chooser.choose(model)  # kept: not measured again
    assert again.precision == "bfloat16" and len(calls) == 1


def test_auto_keeps_float32_when_the_card_says_bfloat16_loses_too_much(tmp_path, monkeypatch):
    model, _ = saved(tmp_path, bf16_card(0.08))
    timed(monkeypatch, {"torch/float32": 52.0, "torch/bfloat16": 10.0})
    choice = chooser.choose(model)
    assert choice.precision == "float32" and choice.runner.dtype == torch.float32
    assert "torch/bfloat16 passed over: 0.08 dB below float32 on its card" in choice.precision_reason
    assert "over the 0.05 dB bound" in choice.precision_reason


def test_auto_keeps_float32_when_it_measures_faster(tmp_path, monkeypatch):
    model, _ = saved(tmp_path, bf16_card(0.0))
    timed(monkeypatch, {"torch/float32": 10.0, "torch/bfloat16": 30.0})
    choice = chooser.choose(model)
    assert choice.precision == "float32"
    assert choice.precision_reason == "float32: the fastest measured"


def test_without_native_bfloat16_auto_decides_by_the_cpu_flags(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    model, _ = saved(tmp_path, bf16_card(0.0))
    calls = timed(monkeypatch, {"torch/float32": 52.0, "torch/bfloat16": 1.0})
    choice = chooser.choose(model)
    assert choice.precision == "float32" and calls == []  # nothing to measure: bfloat16 is not a candidate
    assert "bfloat16 passed over by the CPU flags" in choice.precision_reason
    assert "avx512_bf16 or amx_bf16" in choice.precision_reason


def test_random_weights_run_in_float32_without_a_measurement(monkeypatch):
    calls = timed(monkeypatch, {})
    choice = chooser.choose(zoo.create_model("mwrcanet", **TINY))
    assert choice.precision == "float32" and calls == []
    assert "random weights" in choice.precision_reason


def test_a_model_without_a_card_is_measured_once_and_kept(tmp_path, monkeypatch):
    model, _ = saved(tmp_path, None)
    rng = np.random.default_rng(0)
    clean = [rng.random((32, 32), dtype=np.float32) for _ in range(3)]
    pairs = [Pair(f"b{i}", np.clip(c + 0.05 * rng.standard_normal(c.shape), 0, 1).astype(np.float32), c, raw=True)
             for i, c in enumerate(clean)]
    loaded = []
    monkeypatch.setattr(losses, "held_out_pairs", lambda channels: (loaded.append(channels), ("crossdomain-raw", pairs))[1])
    timed(monkeypatch, {"torch/float32": 52.0, "torch/bfloat16": 10.0})
    notes: list[str] = []
    first = chooser.choose(model, log=notes.append)
    assert loaded == [1] and any("measuring what bfloat16 costs" in n for n in notes)
    kept = json.loads((tmp_path / "cache" / "precision.json").read_text())
    (entry,) = kept.values()
    assert abs(entry["loss_db"]) < 1.0  # a tiny random network: bfloat16 moves its PSNR by little
    from zoo.cache import entries, prune

    prune(limit=0)  # the cap never removes a measurement
    assert [e.kind for e in entries() if e.name == "precision.json"] == ["precision"]
    second = chooser.choose(model)
    assert loaded == [1]  # not measured again
    assert second.precision == first.precision
    assert "measured on 30 blocks of crossdomain-raw" in second.precision_reason


def test_card_loss_takes_the_engine_or_the_worst():
    card = {"precision": {"loss_db": {"bfloat16": {"torch": 0.01, "openvino": 0.04}}}}
    assert losses.card_loss(card, "bfloat16", "torch") == 0.01
    assert losses.card_loss(card, "bfloat16", "onnxruntime") == 0.04
    assert losses.card_loss(card, "int8", "openvino") is None
    assert losses.card_loss({"precision": "hostile"}, "bfloat16", "torch") is None
    assert losses.card_loss(None, "bfloat16", "torch") is None


def test_named_precisions_and_the_python_api(tmp_path):
    model, _ = saved(tmp_path, bf16_card(0.01))
    choice = chooser.choose(model, precision="float32")
    assert choice.precision == "float32" and choice.precision_reason == "float32: asked for with --precision"
    image = np.random.default_rng(1).random((40, 40), dtype=np.float32)
    exact = zoo.denoise(model, image)  # no precision: float32 as before
    assert np.array_equal(zoo.denoise(model, image, precision="float32"), exact)
    with pytest.raises(ZooError, match="unknown precision 'float64'"):
        zoo.denoise(model, image, precision="float64")
    with pytest.raises(ZooError, match="no INT8 file for these weights"):
        zoo.denoise(model, image, precision="int8")


def test_denoise_says_which_precision_ran_and_why(tmp_path, monkeypatch, capsys):
    _, weights = saved(tmp_path, bf16_card(0.012))
    timed(monkeypatch, {"torch/float32": 52.0, "torch/bfloat16": 10.0})
    image = tmp_path / "in.npy"
    np.save(image, np.random.default_rng(2).random((48, 48), dtype=np.float32))
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(tmp_path / "out.npy")]) == 0
    first = capsys.readouterr().err.strip().splitlines()[-1]
    assert "(bfloat16, channels_last) [bfloat16: 0.01 dB below float32 on its card (crossdomain-raw), 5.2x faster" in first
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(tmp_path / "f.npy"),
                 "--precision", "float32"]) == 0
    assert "[float32: asked for with --precision]" in capsys.readouterr().err


def test_dtype_still_works_as_a_deprecated_alias(tmp_path, capsys):
    _, weights = saved(tmp_path, None)
    image = tmp_path / "in.npy"
    np.save(image, np.random.default_rng(3).random((32, 32), dtype=np.float32))
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(tmp_path / "out.npy"),
                 "--dtype", "float32"]) == 0
    err = capsys.readouterr().err
    assert "--dtype is deprecated: use --precision float32" in err and "[float32: asked for with --precision]" in err


@pytest.mark.parametrize("args, message", [
    (["--dtype", "bfloat16", "--precision", "float32"], "--dtype bfloat16 and --precision float32 disagree"),
    (["--precision", "int8"], "no INT8 file for these weights of mwrcanet"),
])
def test_precision_mistakes_are_one_line(tmp_path, capsys, args, message):
    _, weights = saved(tmp_path, None)
    image = tmp_path / "in.npy"
    np.save(image, np.zeros((16, 16), np.float32))
    assert main(["denoise", "mwrcanet", "--weights", str(weights), str(image), "-o", str(tmp_path / "o.npy"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("zoo: error: ") and message in err[-1]


def test_eval_json_error_for_a_precision_it_cannot_run(tmp_path, capsys):
    _, weights = saved(tmp_path, None)
    assert main(["eval", "mwrcanet", "--weights", str(weights), "--data", "synthval", "--limit", "1",
                 "--precision", "int8", "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == 2 and "no INT8 file" in out["error"]
    assert main(["eval", "mwrcanet", "--data", "synthval", "--precision", "float64", "--json"]) == 2
    assert "invalid choice: 'float64'" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
