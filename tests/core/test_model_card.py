"""Model cards: what shipped weights were trained on and how they score, in the file's metadata."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file, save_file

import zoo
from zoo.checkpoint import CARD_KEY, read_card, read_checkpoint
from zoo.errors import CheckpointError


def test_a_card_travels_with_the_weights(tmp_path):
    model = zoo.create_model("mwrcanet", widths=(8, 16, 16), depth=1)
    card = {"summary": "a test", "trained_on": ["mixed-raw"], "held_out": {"crossdomain-raw": {"psnr": 40.0}}}
    path = zoo.save(model, tmp_path / "m.safetensors", card=card)
    assert read_card(path) == card and read_checkpoint(path).card == card
    assert read_card(zoo.save(model, tmp_path / "plain.safetensors")) is None
    with pytest.raises(CheckpointError, match="must be a dict"):
        zoo.save(model, tmp_path / "bad.safetensors", card=["not", "a", "card"])


def test_a_broken_card_is_one_line(tmp_path):
    model = zoo.create_model("mwrcanet", widths=(8, 16, 16), depth=1)
    path = zoo.save(model, tmp_path / "m.safetensors")
    tensors = load_file(path)
    for bad, message in (("{not json", "not valid JSON"), (json.dumps([1, 2]), "not a JSON object")):
        save_file(tensors, str(path), metadata={"zoo.model": "mwrcanet", "zoo.config": "{}", CARD_KEY: bad})
        with pytest.raises(CheckpointError, match=message):
            read_card(path)
