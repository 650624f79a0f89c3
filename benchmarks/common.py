"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from zoo.fileio import atomic_path
from zoo.machine import cpu_name
from zoo.timing import rotate, warm

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


def interleaved(calls: dict, runs: int, warmup: int = 1, block: int = 1) -> dict[str, float]:
    """Median seconds of each call, timed side by side by :func:`zoo.timing.rotate`: ``runs``
    rounds in turning order, each call's turn one untimed call then ``block`` timed ones (not call
    by call: an engine's spinning threads would slow the next one), so that drift hits all alike."""
    warm(calls, warmup)
    return rotate(calls, runs, block=block, settle=1).medians()
