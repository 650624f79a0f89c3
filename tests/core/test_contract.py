"""The model contract (zoo.contract): what a third-party model declares, what it gets by default,
and that tiling and training follow the model's own size multiple."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import zoo
from zoo import contract
from zoo.cli import main
from zoo.ops import pad_to_multiple
from zoo.train.trainer import TrainConfig, train


class Plain(nn.Module):
    """A model zoo never built and that declares nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.01 * self.conv(x)


class Grid16(nn.Module):
    """A third-party-style model on a 16-pixel grid: it refuses other sizes, as a network with
    four stride-2 levels would give wrong shapes on them, and records the windows it sees."""

    size_multiple = 16

    def __init__(self, in_channels: int = 1) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.seen: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        padded = pad_to_multiple(x, 16)  # its own padding, as zoo's tiling pads a whole image
        self.seen.append(tuple(padded.shape[-2:]))
        return (padded + 0.01 * self.conv(padded))[..., :height, :width]


class AnySize(nn.Module):
    """Size multiple 1 (declared): runs on any size, odd ones too."""

    size_multiple = 1

    def __init__(self, in_channels: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


@pytest.fixture
def grid16():
    zoo.register_model("grid16", Grid16)
    zoo.register_model("anysize", AnySize)
    yield


def test_a_model_zoo_did_not_build_gets_the_defaults():
    model = Plain()
    assert contract.model_name(model) == "Plain" and contract.registered_name(model) is None
    assert contract.model_config(model) == {} and contract.built_as(model) is None
    assert contract.weights_source(model) is None
    assert contract.size_multiple(model) == 1
    assert contract.input_channels(model) == 2  # its first convolution's
    assert contract.input_channels_if_known(nn.Identity()) is None
    with pytest.raises(zoo.ZooError, match="cannot tell Identity's input channels"):
        contract.input_channels(nn.Identity())


def test_what_a_model_declares_and_what_zoo_records(tmp_path, grid16):
    model = zoo.create_model("grid16", in_channels=3)
    assert contract.size_multiple(model) == 16 and contract.input_channels(model) == 3
    assert contract.model_name(model) == "grid16" and contract.model_config(model) == {"in_channels": 3}
    zoo.save(model, tmp_path / "g.safetensors")
    again = zoo.create_model("grid16", weights=tmp_path / "g.safetensors")
    assert contract.weights_source(again) == str(tmp_path / "g.safetensors")
    demo = zoo.create_model("mwrcanet-demo")
    assert contract.built_as(demo)["model"] == "mwrcanet" and contract.weights_source(demo).endswith(".safetensors")
    model.size_multiple = 0
    with pytest.raises(zoo.ZooError, match="size_multiple 0"):
        contract.size_multiple(model)


def test_tiles_start_on_the_model_grid_of_16(grid16):
    model = zoo.create_model("grid16")
    image = np.random.default_rng(0).random((1, 70, 90), dtype=np.float32)
    whole = zoo.denoise(model, image)
    runner = zoo.infer.TorchRunner(model)
    assert runner.size_multiple == 16
    tiled = zoo.denoise(runner, image, tile=40, overlap=16)  # kept to 32 and 16 on the 16-pixel grid
    assert runner.model.seen and all(h % 16 == 0 and w % 16 == 0 for h, w in runner.model.seen)
    np.testing.assert_allclose(tiled, whole, atol=1e-6)  # a 3x3 model, well inside a quarter of the overlap


def test_the_cli_checks_tiling_on_the_model_grid(grid16, tmp_path, capsys):
    source = tmp_path / "a.npy"
    np.save(source, np.zeros((40, 40), np.float32))
    # 24 and 8 are fine on an 8-pixel grid, but on a 16-pixel one the tile (16) does not exceed the overlap (16).
    args = [str(source), "-o", str(tmp_path / "b.npy"), "--tile", "24", "--overlap", "8"]
    assert main(["denoise", "grid16", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "multiples of 16" in err
    assert main(["denoise", "anysize", *args]) == 0  # any size: 24 and 8 as given
    assert main(["eval", "grid16", "--data", "synthraw", "--limit", "1", "--tile", "24", "--overlap", "8"]) == 2
    assert "multiples of 16" in capsys.readouterr().err
    assert main(["bench", "grid16", "--size", "32", "--runs", "1", "--tile", "24"]) == 2
    assert "multiples of 16" in capsys.readouterr().err


def test_training_patches_follow_the_model_grid(grid16, tmp_path):
    with pytest.raises(zoo.ZooError, match="patch must be a multiple of 16"):
        train(TrainConfig(model="grid16", out=str(tmp_path / "g"), patch=24, steps=1, batch=1, val=None), progress=False)
    assert not (tmp_path / "g").exists()
    TrainConfig(model="m", out="o", patch=12).check()  # without a model: any positive patch
    final = train(TrainConfig(model="anysize", out=str(tmp_path / "a"), patch=12, steps=2, batch=1, val=None),
                  progress=False)
    assert zoo.load(final)(torch.rand(1, 1, 13, 13)).shape == (1, 1, 13, 13)
