"""What a search optimises: validation PSNR against GMACs per megapixel, optionally latency or
parameters; and the data it may be scored on (a validation set, never a test set)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from zoo.data.specs import VALIDATION_KINDS, auto_validation, is_test_set
from zoo.errors import ZooError
from zoo.bench.harness import run_benchmark
from zoo.complexity import count_parameters, macs_per_megapixel
from zoo.evaluation import load_data
from zoo.factory import create_model
from zoo.metrics import psnr

# name -> (direction, unit, what it is)
OBJECTIVES: dict[str, tuple[str, str, str]] = {
    "psnr": ("maximize", "dB", "validation PSNR after the proxy training"),
    "gmacs": ("minimize", "GMACs/MP", "multiply-accumulates per megapixel (zoo.complexity)"),
    "latency": ("minimize", "ms", "median latency of a 256x256 input (zoo.bench, channels_last)"),
    "params": ("minimize", "M", "parameters, millions"),
}
DEFAULT_OBJECTIVES = ("psnr", "gmacs")
UNTRAINED_PSNR = 0.0  # the PSNR recorded for a candidate never trained (over a cap): worse than any


def parse_objectives(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``psnr,gmacs[,latency|params]``: PSNR and GMACs always, in that order, then the extras."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown:
        raise ZooError(f"unknown objective {', '.join(map(repr, unknown))}; choose from {', '.join(OBJECTIVES)}")
    if len(set(names)) != len(names):
        raise ZooError(f"an objective is listed twice: {','.join(names)}")
    if names[:2] != list(DEFAULT_OBJECTIVES):
        raise ZooError(f"objectives start with psnr,gmacs (then latency and/or params), got {','.join(names)}")
    return tuple(names)


def check_validation_data(spec: str | None, in_channels: int) -> str:
    """The validation set a search scores candidates on (``auto``: the one `zoo train` takes); a
    test set is refused. Which sets are which is the data-kind table's (:mod:`zoo.data.specs`)."""
    if spec in (None, "", "auto"):
        auto = auto_validation(in_channels)
        if auto is None:
            raise ZooError(f"no built-in validation set for {in_channels}-channel models: give --val pairs:DIR")
        return auto
    if is_test_set(spec):
        allowed = ", ".join(VALIDATION_KINDS)
        raise ZooError(f"--val {spec} is a test set: a search that selects on it would report a biased score; "
                       f"use {allowed} or a folder of your own")
    return spec


@dataclass
class Cost:
    """What a candidate costs to run, counted before any training (nothing is computed)."""

    gmacs: float  # per megapixel
    params: int

    @property
    def mparams(self) -> float:
        return self.params / 1e6


def count_cost(config: dict[str, Any]) -> Cost:
    """GMACs per megapixel and parameters of an ``mwnet`` configuration, on meta tensors."""
    with torch.device("meta"):
        model = create_model("mwnet", **config)
    return Cost(macs_per_megapixel(model, config["in_channels"]) / 1e9, count_parameters(model))


def measure_latency(config: dict[str, Any], *, size: int = 256, runs: int = 5) -> float:
    """Median milliseconds of one ``size`` x ``size`` input through ``zoo.bench`` (channels_last),
    with random weights: latency does not depend on their values."""
    report = run_benchmark(create_model("mwnet", **config), size=size, backends=["channels_last"], warmup=1, runs=runs)
    result = report["backends"][0]
    if result["status"] != "ok":
        raise ZooError(f"latency could not be measured: {result['status']}")
    return float(result["latency_ms"]["median"])


def noisy_psnr(spec: str) -> float:
    """The validation set's noisy-input PSNR: doing nothing. The hypervolume's reference PSNR."""
    pairs = list(load_data(spec))
    values = [psnr(p.noisy, p.clean, data_range=1.0) for p in pairs]
    finite = [v for v in values if math.isfinite(v)]
    return float(sum(finite) / len(finite)) if finite else 0.0
