"""The classic baselines keep the image's shape: grey, raw mosaic and RGB, in the API and `zoo eval`."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from zoo.baselines import denoise_classic
from zoo.cli import main

NAMES = ["wavelet", "nlmeans"] + (["bm3d"] if importlib.util.find_spec("bm3d") else [])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape, raw", [((32, 48), False), ((32, 48), True), ((1, 32, 48), False), ((3, 32, 48), False)])
def test_every_baseline_keeps_the_shape(name, shape, raw):
    rng = np.random.default_rng(0)
    clean = np.full(shape, 0.5, np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.05, shape), 0, 1).astype(np.float32)
    out = denoise_classic(name, noisy, 0.05, raw=raw)
    assert out.shape == shape and out.dtype == np.float32
    assert np.abs(out - clean).mean() < np.abs(noisy - clean).mean()


@pytest.mark.parametrize("name", ["wavelet", "nlmeans"])
def test_zoo_eval_runs_the_baselines_on_grey_pairs(tmp_path, capsys, name):
    rng = np.random.default_rng(1)
    for folder in ("noisy", "gt"):
        (tmp_path / folder).mkdir()
    for index in range(2):
        clean = np.full((40, 56), 128, np.uint8)
        noisy = np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "gt" / f"{index}.png"), clean)
        cv2.imwrite(str(tmp_path / "noisy" / f"{index}.png"), noisy)
    assert main(["eval", name, "--data", f"sidd-srgb:{tmp_path}", "--json"]) == 0, capsys.readouterr().err
    assert '"psnr"' in capsys.readouterr().out


def test_zoo_eval_runs_nlmeans_on_raw_pairs(capsys):
    assert main(["eval", "nlmeans", "--data", "synthraw", "--limit", "2"]) == 0, capsys.readouterr().err
    assert "nlmeans" in capsys.readouterr().out
