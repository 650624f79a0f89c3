"""Issue 28, the model contract at run time: a model whose output shape differs from what its
input implies, a ``sys.exit`` in ``forward``, memory running out in it, and a block whose
channel count lies are each one line naming the model (or block), in eval, denoise and train."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import zoo
from zoo import registry
from zoo.cli import main


class Crops(nn.Module):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)

    def forward(self, x):
        return self.conv(x)[..., 1:, :]


class OneChannel(Crops):
    def forward(self, x):
        return self.conv(x)[:, :1]


class NoiseAwareKeepsTheMap(Crops):
    """Takes 3 image channels and 3 map channels (one a plane), and (wrongly) returns all 6."""

    noise_channels = 3

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__(in_channels)
        self.in_channels = in_channels
        self.conv = nn.Conv2d(in_channels + 3, in_channels + 3, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


class Exits(Crops):
    def forward(self, x):
        sys.exit(5)


class OutOfMemory(Crops):
    def forward(self, x):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")


class LyingBlock(nn.Module):
    def __init__(self, channels: int, **options) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 2 * channels, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


MODELS = {"crops": Crops, "one_channel": OneChannel, "keeps_map": NoiseAwareKeepsTheMap, "exits": Exits,
          "out_of_memory": OutOfMemory}
EXPECTED = {"crops": "returned (1, 3, 255, 256), not (1, 3, 256, 256)",
            "one_channel": "returned (1, 1, 256, 256), not (1, 3, 256, 256)",
            "keeps_map": "for an input of shape (1, 6, 256, 256) it returned (1, 6, 256, 256), not (1, 3, 256, 256)",
            "exits": "called sys.exit(5) in its forward pass",
            "out_of_memory": "ran out of memory in its forward pass"}


@pytest.fixture
def liars():
    for name, cls in MODELS.items():
        zoo.register_model(name, lambda in_channels=3, cls=cls: cls(in_channels))
    zoo.register_block("lying_block", LyingBlock)
    yield
    for name in MODELS:
        registry.MODELS.unregister(name)
    registry.BLOCKS.unregister("lying_block")


def one_line(err: str) -> str:
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_eval_json_names_the_model(liars, capsys, model):
    code = main(["eval", model, "--data", "synthval-srgb", "--limit", "1", "--engine", "torch", "--json"])
    captured = capsys.readouterr()
    assert code == 2
    line = one_line(captured.err)
    assert line.startswith(f"zoo: error: model '{model}' ") and EXPECTED[model] in line
    error = json.loads(captured.out.strip().splitlines()[-1])
    assert error["type"] == "ContractError" and f"model '{model}'" in error["error"]


@pytest.mark.parametrize("engine", ["torch", "auto"])
@pytest.mark.parametrize("model", ["crops", "one_channel", "exits", "out_of_memory"])
def test_denoise_names_the_model_and_writes_nothing(liars, capsys, tmp_path, model, engine):
    source, target = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)).save(source)
    code = main(["denoise", model, str(source), "-o", str(target), "--engine", engine, "--device", "cpu"])
    err = capsys.readouterr().err
    assert code in (1, 2) and not target.exists()  # 2: auto's engine choice ran it before any image
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("zoo: error: ")]
    assert errors and all(f"model '{model}' " in line for line in errors), err


def test_train_names_a_block_whose_channel_count_lies_before_the_first_step(liars, capsys, tmp_path):
    config = {"in_channels": 3, "widths": [8, 8, 8], "groups": {"block": "lying_block", "depth": 1}}
    out = tmp_path / "run"
    code = main(["train", "mwnet", "--config", json.dumps(config), "--data", "mixed-srgb", "--val", "none",
                 "--steps", "2", "--batch", "1", "--patch", "16", "--out", str(out)])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and line.startswith("zoo: error: block 'lying_block' in model 'mwnet' broke the block contract")
    assert "(1, 16, 8, 8)" in line and not (out / "last.pt").exists()


@pytest.mark.parametrize("model", ["one_channel", "exits", "out_of_memory"])
def test_train_names_the_model(liars, capsys, tmp_path, model):
    code = main(["train", model, "--data", "mixed-srgb", "--val", "none", "--steps", "2", "--batch", "1",
                 "--patch", "16", "--out", str(tmp_path / "run")])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and line.startswith(f"zoo: error: model '{model}' ")


def test_a_model_keeping_the_contract_runs(liars):
    from zoo.infer import TorchRunner

    runner = TorchRunner(nn.Conv2d(3, 3, 3, padding=1), device="cpu")
    assert runner(torch.rand(2, 3, 8, 8)).shape == (2, 3, 8, 8)
