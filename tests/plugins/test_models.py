"""The MW network family: published sizes, any input size, residual structure, plain-dict configs."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import zoo
from zoo.complexity import count_macs, count_parameters

SMALL = {"widths": (16, 24, 32), "depth": 2}


def _meta(name, **config):
    with torch.device("meta"):
        return zoo.create_model(name, **config)


@pytest.mark.parametrize("name, parameters, gmacs_256", [("mwrcanet", 27_215_965, 172.1), ("mwresnet", 25_532_452, 121.0)])
def test_published_sizes(name, parameters, gmacs_256):
    model = _meta(name)
    assert count_parameters(model) == parameters
    assert count_macs(model, (1, 1, 256, 256)) / 1e9 == pytest.approx(gmacs_256, abs=0.1)


def test_srgb_variant_takes_three_channels():
    model = zoo.create_model("mwrcanet", in_channels=3, **SMALL)
    x = torch.rand(2, 3, 24, 40)
    assert model(x).shape == x.shape
    assert model.zoo_config["in_channels"] == 3


@pytest.mark.parametrize("name", ["mwrcanet", "mwresnet", "mwdensenet"])
@pytest.mark.parametrize("height, width", [(37, 101), (8, 8), (5, 3), (64, 48)])
def test_any_input_size_keeps_its_shape(name, height, width):
    model = zoo.create_model(name, **SMALL).eval()
    x = torch.rand(1, 1, height, width)
    with torch.no_grad():
        assert model(x).shape == x.shape


@pytest.mark.parametrize("name", ["mwrcanet", "mwresnet", "mwdensenet"])
def test_network_adds_a_learned_residual_to_its_input(name):
    """Head DWT and tail IWT are exact inverses: with the last conv zeroed, output equals input."""
    model = zoo.create_model(name, **SMALL).eval()
    last_conv = model.up3[-1]
    nn.init.zeros_(last_conv.weight)
    nn.init.zeros_(last_conv.bias)
    x = torch.rand(1, 1, 29, 30)
    with torch.no_grad():
        assert (model(x) - x).abs().max() < 1e-6


def test_named_configurations_match_the_design():
    rca, res, dense = (zoo.create_model(n, **SMALL) for n in ("mwrcanet", "mwresnet", "mwdensenet"))
    assert type(rca.down1[2].body[0]).__name__ == "RCAB" and rca.down1[2].tail is not None
    assert isinstance(rca.down1[1], nn.PReLU) and rca.down1[1].num_parameters == 1
    assert type(res.down1[2].body[0]).__name__ == "ResidualBlock" and res.down1[2].tail is None
    assert isinstance(res.down1[1], nn.ReLU)
    assert type(dense.middle.body[0]).__name__ == "DenseBlock"
    assert len(rca.middle.body) == SMALL["depth"]


def test_generic_skeleton_from_a_plain_json_dict():
    """The architecture search's output form: five group specs, round-tripped through JSON."""
    spec = {
        "in_channels": 1,
        "widths": [8, 16, 16],
        "act": "prelu",
        "groups": [
            {"block": "rcab", "depth": 1, "tail": True},
            {"block": "dense", "depth": 2, "options": {"layers": 2, "growth_rate": 4}},
            {"block": "residual", "depth": 3, "options": {"act": "relu"}},
            {"block": "dense", "depth": 1, "tail": True, "options": {"layers": 3, "growth_rate": 8}},
            {"block": "rcab", "depth": 2, "options": {"reduction": 4}},
        ],
    }
    model = zoo.create_model("mwnet", **json.loads(json.dumps(spec)))
    assert [len(g.body) for g in (model.down1[2], model.down2[3], model.middle, model.up2[0], model.up3[0])] == [1, 2, 3, 1, 2]
    assert model.down2[3].body[0].fuse.in_channels == 16 + 2 * 4
    x = torch.rand(2, 1, 20, 12)
    assert model(x).shape == x.shape


@pytest.mark.parametrize(
    "config, message",
    [
        ({"widths": (8, 8)}, "widths must be 3 positive ints"),
        ({"groups": [{"block": "rcab"}] * 2}, "give one spec or 5"),
        ({"groups": {"depth": 2}}, "block \\(required\\)"),
        ({"act": "swish"}, "unknown activation 'swish'"),
    ],
)
def test_bad_configurations_are_clear_errors(config, message):
    with pytest.raises(zoo.ZooError, match=message):
        zoo.create_model("mwnet", **config)


def test_unknown_block_inside_a_group_names_it():
    with pytest.raises(zoo.UnknownNameError, match="unknown block 'rcabb'"):
        zoo.create_model("mwnet", groups={"block": "rcabb"})


@pytest.mark.parametrize("block, options", [("residual", {}), ("residual", {"act": "prelu"}), ("rcab", {"reduction": 4}),
                                            ("dense", {"layers": 3, "growth_rate": 5})])
def test_blocks_preserve_shape_and_are_residual(block, options):
    module = zoo.create_block(block, 12, **options)
    for parameter in module.parameters():
        nn.init.zeros_(parameter)
    x = torch.randn(2, 12, 7, 9)
    out = module(x)
    assert out.shape == x.shape
    assert torch.allclose(out, x)  # zero weights: the block reduces to its skip connection


def test_rcab_channel_attention_reduction():
    block = zoo.create_block("rcab", 96)
    assert block.cuca.conv_du[0].out_channels == 6
    assert zoo.create_block("rcab", 8).cuca.conv_du[0].out_channels == 1
