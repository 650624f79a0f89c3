"""A space that searches noise-aware networks too (``noise_map = [false, true]``)."""

from __future__ import annotations

import torch

from zoo.search.candidate import Proxy
from zoo.search.genome import SEEDS, project, to_config
from zoo.search.objectives import count_cost
from zoo.search.space import load_space, parse_space
from zoo.factory import create_model

TINY = load_space("tiny").text


def test_noise_map_gene_only_where_the_space_asks():
    blind = parse_space(TINY)
    aware = parse_space("noise_map = [false, true]\n" + TINY)
    assert "noise_map" not in [g.name for g in blind.genes()] and blind.hash == load_space("tiny").hash
    assert "noise_map" in [g.name for g in aware.genes()] and aware.hash != blind.hash
    genome, _ = project(aware, SEEDS["mwresnet"])
    assert genome["noise_map"] is False  # the seeds are blind networks
    genome["noise_map"] = True
    config = to_config(aware, genome)
    assert config["noise_map"] is True
    model = create_model("mwnet", **config)
    assert model(torch.rand(1, 2, 32, 32)).shape == (1, 1, 32, 32)  # the image and its noise map
    assert count_cost(config).gmacs > count_cost(to_config(aware, {**genome, "noise_map": False})).gmacs
    # trained with the noise-aware recipe's loss on raw images
    assert Proxy().train_config(config, "x").loss == "relative-l1"
    assert Proxy().train_config({**config, "noise_map": False}, "x").loss == "l1"


def test_noise_map_takes_booleans_only():
    import pytest
    from zoo.errors import ZooError

    with pytest.raises(ZooError, match="noise_map"):
        parse_space("noise_map = [0, 1]\n" + TINY)
