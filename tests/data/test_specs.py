"""The data-spec table (zoo.data.specs): one table for `zoo eval` and `zoo train`, each kind saying
what it serves, `pairs:DIR` everywhere, `sidd-srgb:DIR` its alias, errors naming the kinds that fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.cli import main
from zoo.data import specs
from zoo.data.patches import PairPatches
from zoo.errors import ZooError
from zoo.imageio import Image, write_image


def write_pairs(folder, count: int = 2, side: int = 24) -> None:
    rng = np.random.default_rng(0)
    like = Image(np.zeros((side, side), np.float32), "png", 16, "uint16")
    for i in range(count):
        clean = rng.random((side, side)).astype(np.float32)
        write_image(folder / "gt" / f"{i}.png", clean, like)
        write_image(folder / "noisy" / f"{i}.png", np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1), like)


def test_every_kind_serves_evaluation_or_training_or_both():
    assert all(kind.pairs or kind.patches for kind in specs.KINDS.values())
    both = {name for name, kind in specs.KINDS.items() if kind.pairs and kind.patches}
    assert {"synthraw", "sidd-medium", "pairs"} <= both
    assert "pairs:DIR" in specs.EVAL_KINDS and "pairs:DIR" in specs.TRAIN_KINDS
    assert "sidd-val:DIR" in specs.EVAL_KINDS and "sidd-val:DIR" not in specs.TRAIN_KINDS
    assert "mixed-raw" in specs.TRAIN_KINDS and "mixed-raw" not in specs.EVAL_KINDS
    assert "CONTENT-raw" in specs.TRAIN_KINDS and "natural-raw" in specs.KINDS  # a family is listed once


def test_pairs_folders_are_evaluated_and_trained_on_and_sidd_srgb_is_an_alias(tmp_path):
    write_pairs(tmp_path / "prs")
    for name in ("pairs", "sidd-srgb"):
        pairs = specs.load_data(f"{name}:{tmp_path / 'prs'}")
        assert [p.name for p in pairs] == ["0", "1"] and pairs[0].noisy.shape == (24, 24)
        source = specs.open_source(f"{name}:{tmp_path / 'prs'}")
        assert isinstance(source, PairPatches) and source.channels == 1
        noisy, clean = source.sample(np.random.default_rng(0), 16)
        assert noisy.shape == clean.shape == (1, 16, 16)


def test_a_kind_that_does_not_fit_the_command_lists_those_that_do():
    with pytest.raises(ZooError, match="mixed-raw is training data and cannot be evaluated on; use one of sidd-val:DIR") as info:
        specs.load_data("mixed-raw")
    assert "synthraw" in str(info.value) and "mixed-raw, " not in str(info.value)
    with pytest.raises(ZooError, match="sidd-val is evaluation data and cannot be trained on; use one of") as info:
        specs.open_sources(["sidd-val:/somewhere"])
    assert "pairs:DIR" in str(info.value) and "sidd-val:DIR" not in str(info.value)
    with pytest.raises(ZooError, match="unknown training data 'nosuch'; use one of sidd-medium:DIR"):
        specs.open_sources(["nosuch"])
    with pytest.raises(ZooError, match="pairs needs a folder: pairs:DIR"):
        specs.open_sources(["pairs"])
    with pytest.raises(ZooError, match="synthval is built in: give it without a folder"):
        specs.load_data("synthval:/x")


def test_the_cli_takes_pairs_in_eval_and_names_the_fitting_kinds(tmp_path, capsys):
    write_pairs(tmp_path / "prs")
    assert main(["eval", "wavelet", "--data", f"pairs:{tmp_path / 'prs'}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["images"] == 2
    assert main(["eval", "wavelet", "--data", "mixed-raw"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be evaluated on" in err and "crossdomain-raw" in err
