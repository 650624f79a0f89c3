"""The demo weights shipped in the package: they load with no download and beat BM3D."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zoo
from zoo.data.sets import load_set
from zoo.metrics import psnr

# `zoo eval bm3d --data synthraw` (BM3D given each block's true noise level); recorded with the
# training run in benchmarks/results/demo-weights.md.
BM3D_SYNTHRAW_PSNR = 36.59


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("name, architecture", [("mwrcanet-demo", "mwrcanet"), ("mwresnet-demo", "mwresnet")])
def test_demo_models_are_registered_trained_networks(name, architecture):
    model = zoo.create_model(name)
    assert model.zoo_name == name and model.size_multiple == 8
    assert model.zoo_architecture["model"] == architecture  # what it is built as, for zoo info
    assert model.zoo_architecture["config"]["widths"] == [32, 48, 64]
    assert sum(p.numel() for p in model.parameters()) < 2_000_000  # small: a few MB in the package
    untrained = zoo.create_model(architecture, widths=(32, 48, 64), depth=3 if architecture == "mwrcanet" else 2)
    assert untrained.state_dict().keys() == model.state_dict().keys()


def test_shipped_mwrcanet_beats_bm3d_by_a_decibel_on_synthraw():
    model = zoo.create_model("mwrcanet-demo")
    pairs = load_set("synthraw")
    score = np.mean([psnr(zoo.denoise(model, p.noisy), p.clean, data_range=1.0) for p in pairs])
    assert score >= BM3D_SYNTHRAW_PSNR + 1.0


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU has no bfloat16 support")
def test_bfloat16_inference_costs_the_shipped_mwrcanet_at_most_0_05_db():
    from zoo.infer import TorchRunner

    pairs = load_set("synthraw")
    model = zoo.create_model("mwrcanet-demo")
    runners = {dtype: TorchRunner(model, dtype=dtype) for dtype in ("float32", "bfloat16")}
    scores = {dtype: np.mean([psnr(zoo.denoise(runner, p.noisy), p.clean, data_range=1.0) for p in pairs])
              for dtype, runner in runners.items()}
    assert scores["float32"] - scores["bfloat16"] <= 0.05


def test_zoo_eval_warns_of_random_weights_only_when_there_are_none(capsys):
    from zoo.cli import main

    assert main(["eval", "mwrcanet-demo", "--data", "synthraw", "--limit", "1"]) == 0
    assert "random initial weights" not in capsys.readouterr().err  # a pretrained name brings its own
    assert main(["eval", "mwrcanet", "--data", "synthraw", "--limit", "1"]) == 0
    assert "warning: no --weights: scoring mwrcanet with random initial weights" in capsys.readouterr().err


# BM3D given each block's true noise level on the held-out cross-domain sets; recorded with the
# training runs in benchmarks/results/robust-weights.md (BM3D takes minutes, the networks seconds).
BM3D_CROSSDOMAIN_PSNR = {"crossdomain-raw": 38.57, "crossdomain-srgb": 26.70}
SHIPPED = [("mwrcanet-demo", "crossdomain-raw", 1.0), ("mwresnet-demo", "crossdomain-raw", 1.0),
           ("mwrcanet-srgb-demo", "crossdomain-srgb", 0.5)]


def test_the_srgb_model_is_a_registered_trained_network_for_photographs():
    model = zoo.create_model("mwrcanet-srgb-demo")
    assert model.zoo_architecture == {"model": "mwrcanet",
                                      "config": {**model.zoo_architecture["config"], "in_channels": 3}}
    photo = np.random.default_rng(0).random((3, 40, 56), dtype=np.float32)
    assert zoo.denoise(model, photo).shape == photo.shape


@pytest.mark.parametrize("name, data, margin", SHIPPED)
def test_shipped_weights_carry_their_card_and_hold_its_held_out_score(name, data, margin):
    from zoo.checkpoint import read_card
    from zoo.contract import weights_source
    from zoo.evaluation import evaluate, load_data, network_denoiser
    from zoo.infer import TorchRunner

    model = zoo.create_model(name)
    card = read_card(weights_source(model))
    assert card["trained_on"] and card["validated_on"].startswith("crossval-")
    report = evaluate(network_denoiser(TorchRunner(model)), load_data(data), model=name, data=data, progress=False)
    assert report.summary()["psnr"] == pytest.approx(card["held_out"][data]["psnr"], abs=0.01)
    assert report.summary()["psnr"] >= BM3D_CROSSDOMAIN_PSNR[data] + margin
    for group in report.breakdown():  # every kind and every noise level: better than the noisy input
        assert group["psnr"] > group["noisy_psnr"], group
