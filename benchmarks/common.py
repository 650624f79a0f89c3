"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from statistics import median
from typing import Any

import torch

from zoo.bench.harness import cpu_name
from zoo.bench.peak import time_call
from zoo.fileio import atomic_path

RESULTS = Path(__file__).resolve().parent / "results"


def machine_slug(device: torch.device | None = None) -> str:
    """A file name for this machine: e.g. ``cpu-amd-epyc-2t`` or ``gpu-nvidia-h100-80gb-hbm3``."""
    if device is not None and device.type == "cuda":
        name = f"gpu-{torch.cuda.get_device_name(device)}"
    else:
        name = f"cpu-{cpu_name()}-{torch.get_num_threads()}t"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def write_json(data: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return path


def interleaved(calls: dict, runs: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each call, the calls taken in turn so that drift hits all alike."""
    for fn in calls.values():
        time_call(fn, warmup, 0)
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, fn in calls.items():
            seconds[name] += time_call(fn, 0, 1)
    return {name: median(values) for name, values in seconds.items()}
