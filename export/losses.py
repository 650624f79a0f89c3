"""What a reduced precision costs a model: its PSNR against float32 on a held-out set, in dB.

A shipped model's card holds it (``card["precision"]``, measured on the model's whole held-out set
by ``benchmarks/precision.py --card``)::

    "precision": {"set": "crossdomain-raw", "blocks": 120, "float32_psnr": 42.186,
                  "loss_db": {"bfloat16": {"torch": -0.011, "openvino": -0.012}}}

The card's number holds for the engines it names. For an engine it does not name (the shipped
noise-aware models' cards name PyTorch only), and for a model whose weights carry no card, it is
measured once here, on :data:`SMALL_BLOCKS` blocks of
the built-in held-out set for its channel count, and kept in ``<zoo cache>/precision.json`` under a
hash of its weights (``zoo cache clear`` forgets it). A model with no weights at all (random
initial ones) has nothing worth measuring: auto keeps it in float32. An INT8 file carries its own
loss (:mod:`zoo.export.quantize`). Every loss is measured through ``zoo.denoise``: a noise-aware
model's map is built beside each engine's network (:class:`zoo.infer.conditioning.Conditioned`), as
it is when the model runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo.cache import keep_measurement, read_measurements
from zoo.checkpoint import read_card
from zoo.contract import input_channels, weights_source
from zoo.data import crossdomain
from zoo.data.pairs import Pair
from zoo.data.specs import load_data
from zoo.errors import ZooError
from zoo.export.cache import model_digest
from zoo.infer.pipeline import denoise
from zoo.infer.runner import Runner, TorchRunner
from zoo.machine import versions
from zoo.metrics import psnr

CARD_KEY = "precision"
HELD_OUT = crossdomain.BY_CHANNELS["test"]  # the built-in held-out set per input channel count
SMALL_BLOCKS = 30  # a model without a card is measured on every 4th of the 120 blocks (each kind and level)
CACHE_FILE = "precision.json"


@dataclass(frozen=True)
class Loss:
    """A precision's loss (dB below float32; negative: above) and where the number comes from."""

    db: float
    source: str  # "on its card (crossdomain-raw)", "(measured on 30 blocks of crossdomain-raw)"


def card_loss(card: dict[str, Any] | None, precision: str, engine: str) -> float | None:
    """The loss a card gives for ``precision`` on ``engine`` (the worst of its engines when that one
    is not listed); None when the card says nothing of it."""
    section = (card or {}).get(CARD_KEY)
    if not isinstance(section, dict):
        return None
    per_engine = (section.get("loss_db") or {}).get(precision)
    if not isinstance(per_engine, dict) or not per_engine:
        return None
    values = [v for v in per_engine.values() if isinstance(v, (int, float))]
    value = per_engine.get(engine)
    if isinstance(value, (int, float)):
        return float(value)
    return max(values) if values else None


def model_card(model: nn.Module) -> dict[str, Any] | None:
    """The card of the file the model's weights came from (None: no file, or no card in it)."""
    source = weights_source(model)
    if not source or not str(source).endswith(".safetensors"):
        return None
    try:
        return read_card(source)
    except (ZooError, OSError):
        return None


def held_out_pairs(channels: int, blocks: int | None = SMALL_BLOCKS) -> tuple[str, Sequence[Pair]]:
    """The built-in held-out set for ``channels`` (every n-th block, ``blocks`` of them; None: all)."""
    name = HELD_OUT.get(channels)
    if name is None:
        raise ZooError(f"no built-in held-out set for {channels}-channel images (zoo has {', '.join(map(str, HELD_OUT))})")
    pairs = load_data(name)
    if blocks is not None and blocks < len(pairs):
        pairs = list(pairs)[:: max(1, len(pairs) // blocks)][:blocks]
    return name, pairs


def mean_psnr(runner: Runner | nn.Module, pairs: Sequence[Pair]) -> float:
    """Mean PSNR over ``pairs`` of ``zoo.denoise`` through ``runner`` (per block, peak 1.0)."""
    values = [psnr(np.asarray(denoise(runner, pair.noisy)), pair.clean, data_range=1.0) for pair in pairs]
    return float(np.mean(values))


def measure_losses(reference: Runner, candidates: dict[str, Runner], pairs: Sequence[Pair]) -> tuple[float, dict[str, float]]:
    """float32's mean PSNR over ``pairs`` and each candidate's loss against it (dB, 4 decimals)."""
    base = mean_psnr(reference, pairs)
    return base, {name: round(base - mean_psnr(runner, pairs), 4) for name, runner in candidates.items()}


def _key(identity: dict[str, Any], precision: str, engine: str, data: str, blocks: int) -> str:
    # the engines' versions: a new kernel may round otherwise
    return json.dumps({**identity, "precision": precision, "engine": engine, "set": data, "blocks": blocks,
                       "versions": versions()}, sort_keys=True)


def loss_of(model: nn.Module, precision: str, engine: str, build: Callable[[], Runner],
            log: Callable[[str], None] | None = None) -> Loss | None:
    """``precision``'s loss on ``engine`` for ``model``: from its card, else measured before on the
    small built-in set, else measured now (``build`` makes the runner; the reference is PyTorch in
    float32) and kept. None for a model with random weights, or one no built-in set fits."""
    card = model_card(model)
    value = card_loss(card, precision, engine)
    data = (card or {}).get(CARD_KEY, {}).get("set", "its held-out set") if value is not None else None
    if value is not None and _names(card, precision, engine):
        return Loss(value, f"on its card ({data})")
    if weights_source(model) is None:
        return None
    # An engine the card does not name is measured (a noise-aware model's map, for one, enters each
    # engine's graph its own way), through zoo.denoise and so with the map; the card's worst engine
    # stands in only where no built-in set fits.
    measured = measured_loss({"weights": model_digest(model)}, input_channels(model), precision, engine, build,
                             lambda: TorchRunner(model, device="cpu"), log)
    if measured is None and value is not None:
        return Loss(value, f"on its card ({data}, its worst engine)")
    return measured


def _names(card: dict[str, Any] | None, precision: str, engine: str) -> bool:
    """Whether the card gives ``precision``'s loss for ``engine`` itself."""
    section = (card or {}).get(CARD_KEY)
    per_precision = section.get("loss_db") if isinstance(section, dict) else None
    found = per_precision.get(precision) if isinstance(per_precision, dict) else None
    return isinstance(found, dict) and isinstance(found.get(engine), (int, float))


def measured_loss(identity: dict[str, Any], channels: int | None, precision: str, engine: str,
                  build: Callable[[], Runner], reference: Callable[[], Runner],
                  log: Callable[[str], None] | None = None) -> Loss | None:
    """The loss of ``build``'s runner against ``reference``'s (float32) on :data:`SMALL_BLOCKS` blocks
    of the built-in held-out set for ``channels``, kept under ``identity`` (a hash of the weights or
    of the file); None when no built-in set fits."""
    if channels not in HELD_OUT:
        return None
    data = HELD_OUT[channels]
    key = _key(identity, precision, engine, data, SMALL_BLOCKS)
    kept = read_measurements(CACHE_FILE).get(key)
    where = f"(measured on {SMALL_BLOCKS} blocks of {data}"
    if isinstance(kept, dict) and isinstance(kept.get("loss_db"), (int, float)):
        return Loss(float(kept["loss_db"]), f"{where}, kept)")
    if log:
        log(f"measuring what {precision} costs on {engine}: {SMALL_BLOCKS} blocks of {data}, once for these weights")
    _, pairs = held_out_pairs(channels)
    with torch.inference_mode():
        base, losses = measure_losses(reference(), {precision: build()}, pairs)
    keep_measurement(CACHE_FILE, key, {"loss_db": losses[precision], "float32_psnr": round(base, 4),
                                       "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}, "the precision measurement")
    return Loss(losses[precision], where + ")")
