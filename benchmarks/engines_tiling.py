"""A large raw mosaic in tiles through one engine: the process's peak memory during the tiled run
and its throughput against untiled passes of 1024x1024 (two before it, two after it, so that
drift over the long run counts on both sides).

Runs in a process of its own, so the kernel's high-water mark is this job's alone:

    python benchmarks/engines_tiling.py '{"model": "mwrcanet", "engine": "openvino", "dtype": "float32"}'

prints one JSON object. ``engines.py`` runs it for the record (after exporting the model, so the
export's memory is not counted here).
"""

from __future__ import annotations

import json
import sys
import time
from statistics import mean
from typing import Any

import numpy as np
import torch

import zoo
from zoo.bench.memory import PeakMemory
from zoo.export.engines import make_runner
from zoo.infer import DEFAULT_OVERLAP, DEFAULT_TILE, denoise

DEFAULTS = {"model": "mwrcanet", "config": {}, "engine": "openvino", "dtype": "float32", "height": 4000, "width": 6000,
            "tile": DEFAULT_TILE, "overlap": DEFAULT_OVERLAP, "untiled": 1024, "threads": None}


def run(settings: dict[str, Any]) -> dict[str, Any]:
    s = {**DEFAULTS, **settings}
    if s["threads"]:
        torch.set_num_threads(s["threads"])
    model = zoo.create_model(s["model"], **s["config"])
    runner = make_runner(s["engine"], model, dtype=s["dtype"], device="cpu")
    side = s["untiled"]
    square = torch.rand(1, 1, side, side)
    mosaic = np.random.default_rng(0).random((s["height"], s["width"]), dtype=np.float32)

    def untiled(times: int) -> list[float]:
        seconds = []
        for _ in range(times):
            start = time.perf_counter()
            denoise(runner, square)
            seconds.append(time.perf_counter() - start)
        return seconds

    untiled(1)  # warm-up: kernels for this size, memory for its activations
    before = untiled(2)
    with PeakMemory("cpu") as memory:
        start = time.perf_counter()
        out = denoise(runner, mosaic, tile=s["tile"], overlap=s["overlap"])
        tiled_seconds = time.perf_counter() - start
    after = untiled(2)
    untiled_mp_s = side * side / 1e6 / mean(before + after)
    tiled_mp_s = s["height"] * s["width"] / 1e6 / tiled_seconds
    return {**s, "device": runner.device, "shape_ok": out.shape == mosaic.shape,
            "tiled_seconds": round(tiled_seconds, 2), "tiled_megapixels_per_s": round(tiled_mp_s, 4),
            "untiled_seconds": [round(t, 3) for t in before + after], "untiled_megapixels_per_s": round(untiled_mp_s, 4),
            "tiled_over_untiled_throughput": round(tiled_mp_s / untiled_mp_s, 4),
            "peak_rss_gib": round(memory.peak / 2**30, 3)}


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})))
