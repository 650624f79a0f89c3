"""Every CPU engine on one model, side by side: each call in turn (drift hits all alike), each
paired with the 3x3-conv peak of its own precision measured just before it.

Used by ``engines.py``; the engines are zoo's runners through ``zoo.denoise``, as a user runs them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

import torch
from torch import nn

from zoo.bench.engines import ENGINES, EngineUnavailable
from zoo.bench.peak import ConvPeak
from zoo.complexity import count_macs
from zoo.contract import input_channels
from zoo.errors import ZooError, first_line
from zoo.export.openvino import OpenVinoRunner
from zoo.infer import Runner, denoise
from zoo.metrics import psnr
from zoo.timing import rotate

REFERENCE = "torch channels_last"  # zoo.denoise's float32 path before this issue: the 1.00 of the table


@dataclass
class Engine:
    label: str
    precision: str  # float32 or bfloat16
    engine: str  # torch, onnxruntime or openvino: what --engine names
    build: Callable[[nn.Module], Runner]


def _backend(name: str, dtype: torch.dtype) -> Callable[[nn.Module], Runner]:
    return lambda model: ENGINES[name](model, dtype, torch.device("cpu"))


def plan(bfloat16: bool, compile: bool = True) -> list[Engine]:
    """The engines to compare: every CPU path zoo has, in float32 and (where the CPU has it) bfloat16."""
    engines = [
        Engine("torch eager", "float32", "torch", _backend("eager", torch.float32)),
        Engine(REFERENCE, "float32", "torch", _backend("channels_last", torch.float32)),
        Engine("torch compile", "float32", "torch", _backend("compile", torch.float32)),
        Engine("onnxruntime", "float32", "onnxruntime", _backend("onnxruntime", torch.float32)),
        Engine("openvino", "float32", "openvino", lambda model: OpenVinoRunner(model)),
    ]
    if bfloat16:
        engines += [
            Engine("torch channels_last bf16", "bfloat16", "torch", _backend("channels_last", torch.bfloat16)),
            Engine("torch compile bf16", "bfloat16", "torch", _backend("compile", torch.bfloat16)),
            Engine("openvino bf16", "bfloat16", "openvino", lambda model: OpenVinoRunner(model, dtype="bfloat16")),
        ]
    return [e for e in engines if compile or "compile" not in e.label]


def side_by_side(model: nn.Module, engines: list[Engine], size: int, runs: int, log: Callable[[str], None] = print
                 ) -> dict[str, Any]:
    """Median latency, fraction of the conv peak, speed against :data:`REFERENCE` and error against
    float32 PyTorch of every engine in ``engines``, on a random ``size`` x ``size`` image."""
    x = torch.rand(1, input_channels(model), size, size, generator=torch.Generator().manual_seed(0))
    macs = count_macs(model, tuple(x.shape))
    peaks = {p: ConvPeak(getattr(torch, p)) for p in sorted({e.precision for e in engines})}
    reference = denoise(model, x, device="cpu")
    runners, skipped, outputs = {}, {}, {}
    for engine in engines:
        try:
            runner = engine.build(model)
            log(f"warm  {engine.label} on {runner.device}")
            outputs[engine.label] = denoise(runner, x)  # compiles, builds, tunes: not timed
            runners[engine.label] = runner
        except (EngineUnavailable, ZooError) as exc:
            skipped[engine.label] = first_line(exc)
            log(f"skip  {engine.label}: {skipped[engine.label]}")
    precision = {e.label: e.precision for e in engines}
    beside: dict[str, list[float]] = {label: [] for label in runners}  # the conv peak measured at each turn
    calls = {label: functools.partial(denoise, runner, x) for label, runner in runners.items()}
    seconds = rotate(calls, runs, block=1, settle=1,
                     before=lambda label: beside[label].append(peaks[precision[label]].measure())).seconds
    fractions = {label: [2 * macs / s / 1e9 / p for s, p in zip(seconds[label], beside[label])] for label in runners}
    rows = []
    reference_ms = median(seconds[REFERENCE]) * 1e3 if REFERENCE in seconds else None
    for engine in engines:
        if engine.label not in runners:
            continue
        ms = median(seconds[engine.label]) * 1e3
        out = outputs[engine.label]
        rows.append({
            "engine": engine.label, "precision": engine.precision, "zoo_engine": engine.engine,
            "device": runners[engine.label].device,
            "median_ms": round(ms, 2), "min_ms": round(min(seconds[engine.label]) * 1e3, 2),
            "max_ms": round(max(seconds[engine.label]) * 1e3, 2),
            "megapixels_per_s": round(x.shape[-1] * x.shape[-2] / 1e6 / (ms / 1e3), 4),
            "gflops": round(2 * macs / (ms / 1e3) / 1e9, 1),
            "fraction_of_peak": round(median(fractions[engine.label]), 4),
            "speed_vs_reference": round(reference_ms / ms, 3) if reference_ms else None,
            "max_abs_vs_float32": float((out - reference).abs().max()),
            "psnr_vs_float32": None if engine.precision == "float32" else round(psnr(out, reference, data_range=1.0), 2),
        })
    return {"input": list(x.shape), "gmacs": round(macs / 1e9, 3), "runs": runs, "reference": REFERENCE,
            "engines": rows, "skipped": skipped}


def format_rows(rows: list[dict[str, Any]]) -> list[str]:
    """A Markdown table of :func:`side_by_side`'s rows."""
    lines = ["| engine | precision | median ms | of its conv peak | vs zoo.denoise float32 | vs float32 |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        error = f"{r['psnr_vs_float32']:.1f} dB" if r["psnr_vs_float32"] is not None else f"{r['max_abs_vs_float32']:.1e}"
        speed = f"{r['speed_vs_reference']:.2f}" if r["speed_vs_reference"] else "-"
        lines.append(f"| {r['engine']} | {r['precision']} | {r['median_ms']:.1f} | {100 * r['fraction_of_peak']:.0f}% "
                     f"| {speed} | {error} |")
    return lines
