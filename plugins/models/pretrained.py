"""Small trained networks shipped in the package, so that ``zoo denoise``, ``zoo eval`` and
``zoo bench`` work with no download: two raw (Bayer mosaic) denoisers and an sRGB one, trained on
the mixed natural and procedural data of :mod:`zoo.data.synthetic`. Each file carries its model
card (``zoo info NAME``); how they were trained: ``benchmarks/results/robust-weights.md``."""

from __future__ import annotations

from importlib.resources import as_file, files

import torch
from torch import nn

import zoo
from zoo.checkpoint import read_checkpoint
from zoo.contract import record_weights

# name -> (architecture, weights file); the configuration is stored in the file itself.
PRETRAINED = {
    "mwrcanet-demo": ("mwrcanet", "mwrcanet-demo.safetensors"),
    "mwresnet-demo": ("mwresnet", "mwresnet-demo.safetensors"),
    "mwrcanet-srgb-demo": ("mwrcanet", "mwrcanet-srgb-demo.safetensors"),
}


def _pretrained(name: str) -> nn.Module:
    architecture, file = PRETRAINED[name]
    with as_file(files("zoo.plugins") / "weights" / file) as path:
        if not path.is_file():
            raise FileNotFoundError(f"{name}: its weights {file} are missing from the installed package")
        if torch.get_default_device().type == "meta":  # shapes only (zoo list, zoo info): no weights to copy in
            model = zoo.create_model(architecture, **(read_checkpoint(path).config or {}))
            record_weights(model, str(path))  # where its weights (and model card) are
            return model
        return zoo.create_model(architecture, weights=path)


def mwrcanet_demo() -> nn.Module:
    """mwrcanet, widths 32/48/64, 3 RCABs a group (raw RGGB mosaic, 1 channel)."""
    return _pretrained("mwrcanet-demo")


def mwresnet_demo() -> nn.Module:
    """mwresnet, widths 32/48/64, 2 residual blocks a group (raw RGGB mosaic, 1 channel)."""
    return _pretrained("mwresnet-demo")


def mwrcanet_srgb_demo() -> nn.Module:
    """mwrcanet, widths 32/48/64, 3 RCABs a group (sRGB, 3 channels): camera JPEGs and PNGs."""
    return _pretrained("mwrcanet-srgb-demo")
