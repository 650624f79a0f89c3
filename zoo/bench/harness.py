"""The benchmark: one model, several engines, measured side by side in one run."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import Any

import torch
from torch import nn

from zoo.bench.engines import DEFAULT_ENGINES, ENGINES, PRECISIONS, EngineUnavailable, engine_of, temporary_exports
from zoo.bench.memory import PeakMemory
from zoo.bench.peak import ConvPeak
from zoo.bench.peaks import kernel_of, peak_for
from zoo.bench.rounds import interleave
from zoo.timing import SPREAD_LIMIT, quartiles, spread, too_wide
from zoo.complexity import count_macs, count_parameters
from zoo.contract import input_channels, model_config, model_name, noise_channels, size_multiple
from zoo.errors import ZooError, first_line
from zoo.infer.allocator import keep_freed_memory
from zoo.infer.pipeline import denoise
from zoo.infer.runner import Runner, TorchRunner, parse_device, resolve_dtype
from zoo.infer.tiling import DEFAULT_OVERLAP, tile_grid
from zoo.limits import check_pixels
from zoo.machine import machine_info
from zoo.metrics import psnr
from zoo.table import format_table
from zoo.timing import time_call


@dataclass
class BackendResult:
    backend: str
    status: str  # "ok", "skipped: why" or "failed: why"
    device: str | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)  # median, min, max, q1, q3
    megapixels_per_s: float | None = None  # of the median run
    megapixels_per_s_quartiles: list[float] | None = None  # the middle half of the runs
    peak_memory_mib: float | None = None
    gflops: float | None = None
    fraction_of_peak: float | None = None
    psnr_vs_float32: float | None = None
    runs_ms: list[float] = field(default_factory=list)  # every timed run, in the order taken
    spread: dict[str, float | None] = field(default_factory=dict)  # latency, fraction_of_peak (zoo.bench.spread)
    precision: str | None = None  # what it computes in (zoo.bench.engines.PRECISIONS, else --dtype)
    peak: dict[str, Any] | None = None  # the reference kernel of its engine and precision: kernel, gflops, spread
    above_peak: str | None = None  # why its fraction exceeds 1, in words, when it does


# A row faster than its reference kernel is not faster than the hardware: the reference is one
# 128-channel 3x3 convolution, and an engine may run the model's own layers (fused with their
# activations, or a layout and blocking that suit smaller channel counts) at a higher rate.
ABOVE_PEAK = ("above its reference ({kernel}): this engine runs the model's layers faster than that one convolution "
              "(fused layers, kernels that suit the model's shapes); the fraction compares with a kernel, not the hardware")


def _row_peaks(calls: dict, precisions: dict[str, str], shared: ConvPeak, dtype: torch.dtype,
               device: torch.device) -> dict[str, Any]:
    """Each engine's own peak: its engine's kernel in its precision (one per engine and precision)."""
    made: dict[tuple[str, str], Any] = {("torch", str(dtype).removeprefix("torch.")): shared}
    peaks = {}
    for name in calls:
        key = (engine_of(name), precisions[name])
        if key not in made:
            made[key] = peak_for(*key, dtype, device)
        peaks[name] = made[key]
    return peaks


def _failed(name: str, exc: Exception) -> BackendResult:
    return BackendResult(name, f"failed: {type(exc).__name__}: {first_line(exc)[:200]}")


def count_tiled_macs(model: nn.Module, shape: tuple[int, ...], tile: int | None, overlap: int = DEFAULT_OVERLAP) -> int:
    """MACs of one pass over ``shape``, counting the work tiles repeat in their overlaps."""
    if tile is None:
        return count_macs(model, shape)
    height, width = shape[-2:]
    rows, cols, _ = tile_grid(height, width, tile, overlap, size_multiple(model))
    per_shape: dict[tuple[int, int], int] = {}
    total = 0
    for _, h in rows:
        for _, w in cols:
            if (h, w) not in per_shape:
                per_shape[(h, w)] = count_macs(model, (*shape[:2], h, w))
            total += per_shape[(h, w)]
    return total


def run_benchmark(
    model: nn.Module,
    *,
    size: int = 256,
    batch: int = 1,
    engines: Sequence[str] | None = None,
    dtype: torch.dtype | str | None = None,
    ensemble: bool = False,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    warmup: int = 2,
    runs: int = 5,
    device: torch.device | str | None = None,
    backends: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Time ``zoo.denoise`` of a random ``batch x C x size x size`` input on each of ``engines``
    (:data:`zoo.bench.engines.NAMES`; default :data:`~zoo.bench.engines.DEFAULT_ENGINES`;
    ``backends`` is their older name).

    The machine's 3x3-convolution peak for the same dtype is measured beside every timed run
    (shared machines drift), and the model's achieved GFLOP/s is reported as the median of the
    per-run fractions of it: ratios, not absolute numbers, compare across runs. The engines take
    their ``runs`` in turn, round by round; each figure carries its spread (interquartile range over
    median), and one past :data:`~zoo.timing.SPREAD_LIMIT` is listed under ``warnings``.
    Exports are made in a temporary folder, removed at the end (zoo's cache keeps none).
    """
    with temporary_exports():
        names = tuple(engines if engines is not None else backends if backends is not None else DEFAULT_ENGINES)
        return _run_benchmark(model, size=size, batch=batch, backends=names, dtype=dtype, ensemble=ensemble,
                              tile=tile, overlap=overlap, warmup=warmup, runs=runs, device=device)


def _run_benchmark(model: nn.Module, *, size: int, batch: int, backends: Sequence[str], dtype: torch.dtype | str | None,
                   ensemble: bool, tile: int | None, overlap: int, warmup: int, runs: int,
                   device: torch.device | str | None) -> dict[str, Any]:
    unknown = [name for name in backends if name not in ENGINES]
    if unknown:
        raise ZooError(f"unknown engine {', '.join(map(repr, unknown))}; choose from {', '.join(ENGINES)}")
    if size < 1 or batch < 1 or runs < 1 or warmup < 0:
        raise ZooError("size, batch and runs must be positive, warmup not negative")
    check_pixels(size, size * batch, f"the benchmark's input (--size {size}, --batch {batch})")  # 100000: a traceback
    torch_device = parse_device(device)
    compute_dtype = resolve_dtype(dtype, torch_device)
    if torch_device.type == "cpu":
        keep_freed_memory()  # as the runners will: peak and model measured under the same allocator
    channels = input_channels(model)
    x = torch.rand(batch, channels, size, size, generator=torch.Generator().manual_seed(0))
    # A noise-aware model's network also takes the map zoo builds beside the image (zoo.denoise
    # tells it the level estimated from x): its MACs count that input.
    macs = count_tiled_macs(model, (batch, channels + noise_channels(model), size, size), tile, overlap)
    passes = 8 if ensemble else 1
    megapixels = batch * size * size / 1e6
    peak = ConvPeak(compute_dtype, torch_device)
    dtype_name = str(compute_dtype).removeprefix("torch.")
    precisions = {name: PRECISIONS.get(name, dtype_name) for name in backends}

    reference = None
    if any(precision != "float32" for precision in precisions.values()):
        reference = denoise(TorchRunner(model, device=torch_device), x, ensemble=ensemble, tile=tile, overlap=overlap)

    # Each engine's memory is measured alone (one call, its prepared copy then freed), so that no
    # other engine's weights count in it. Then all are built and warmed again and timed
    # round-robin (zoo.bench.rounds): a machine busy for a while slows every engine alike.
    results: dict[str, BackendResult] = {}
    memory_mib: dict[str, float] = {}
    outputs: dict[str, torch.Tensor] = {}
    for name in backends:
        try:
            runner = ENGINES[name](model, compute_dtype, torch_device)
        except EngineUnavailable as exc:
            results[name] = BackendResult(name, f"skipped: {exc}")
            continue
        try:
            with PeakMemory(torch_device) as memory:
                denoise(runner, x, ensemble=ensemble, tile=tile, overlap=overlap)
                peak.sync()
        except Exception as exc:  # an engine failing (e.g. a compiler error) is reported, not fatal
            results[name] = _failed(name, exc)
            continue
        finally:
            del runner
        memory_mib[name] = memory.peak / 2**20

    runners: dict[str, Runner] = {}
    calls: dict[str, Callable[[], None]] = {}
    for name in memory_mib:
        try:
            runners[name] = ENGINES[name](model, compute_dtype, torch_device)

            def call(runner=runners[name], name=name) -> None:
                outputs[name] = denoise(runner, x, ensemble=ensemble, tile=tile, overlap=overlap)

            time_call(call, warmup, 0, peak.sync)
        except Exception as exc:
            results[name] = _failed(name, exc)
            continue
        calls[name] = call

    peaks = _row_peaks(calls, precisions, peak, compute_dtype, torch_device)
    timings = interleave(calls, runs, peaks)
    warnings: list[str] = []
    for name, error in timings.failed.items():
        results[name] = _failed(name, error)
    for name in calls:
        if name in timings.failed:
            continue
        seconds, peaks_ = timings.seconds[name], timings.peaks[name]
        mid = median(seconds)
        q1, q3 = quartiles(seconds)
        fractions = [2 * macs * passes / s / 1e9 / p for s, p in zip(seconds, peaks_)]
        spreads = {"latency": spread(seconds), "fraction_of_peak": spread(fractions)}
        latency = spreads["latency"]
        if latency is not None and too_wide(latency):
            warnings.append(f"{name}: latency spread {100 * latency:.0f}% (interquartile range over median, "
                            f"above {100 * SPREAD_LIMIT:.0f}%): the machine was busy; compare with care or run again")
        results[name] = BackendResult(
            name, "ok", runners[name].device,
            latency_ms={"median": mid * 1e3, "min": min(seconds) * 1e3, "max": max(seconds) * 1e3,
                        "q1": q1 * 1e3, "q3": q3 * 1e3},
            megapixels_per_s=megapixels / mid,
            megapixels_per_s_quartiles=[megapixels / q3, megapixels / q1],
            peak_memory_mib=memory_mib[name],
            gflops=2 * macs * passes / mid / 1e9,
            fraction_of_peak=median(fractions),
            psnr_vs_float32=None if reference is None or precisions[name] == "float32" else
            psnr(outputs[name], reference, data_range=1.0),
            runs_ms=[s * 1e3 for s in seconds],
            spread=spreads,
            precision=precisions[name],
            peak={"kernel": kernel_of(peaks[name]), "gflops": median(peaks_), "spread": spread(peaks_)},
        )
        if median(fractions) > 1:
            results[name].above_peak = ABOVE_PEAK.format(kernel=kernel_of(peaks[name]))
    runners.clear()
    peaks_seen = [p for name in calls if peaks[name] is peak for p in timings.peaks[name]]
    peak_spread = spread(peaks_seen)
    for kernel in dict.fromkeys(kernel_of(peaks[name]) for name in calls):
        values = [p for name in calls if kernel_of(peaks[name]) == kernel for p in timings.peaks[name]]
        kernel_spread = spread(values)
        if kernel_spread is not None and too_wide(kernel_spread):
            warnings.append(f"{kernel} peak spread {100 * kernel_spread:.0f}%: the machine's speed changed during the run")
    return {
        "model": model_name(model),
        "config": model_config(model),
        "parameters": count_parameters(model),
        "input_shape": list(x.shape),
        "dtype": str(compute_dtype).removeprefix("torch."),
        "ensemble": ensemble,
        "tile": tile,
        "overlap": overlap if tile else None,
        "gmacs_per_image": macs / batch / 1e9 * passes,
        "gmacs_per_megapixel": macs * passes / (batch * size * size) * 1e6 / 1e9,
        "machine": machine_info(torch_device),
        "conv_peak_gflops": median(peaks_seen) if peaks_seen else peak.measure(),
        "conv_peak_spread": peak_spread,
        "backends": [asdict(results[name]) for name in backends],
        "warnings": warnings,
    }


def format_report(report: dict[str, Any]) -> str:
    def number(value: float | None, spec: str) -> str:
        return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)

    tiling = [f"tile {report['tile']}, overlap {report['overlap']}"] if report["tile"] else []
    setting = [report["dtype"]] + (["x8 ensemble"] if report["ensemble"] else []) + tiling
    shape = "x".join(map(str, report["input_shape"]))
    lines = [
        f"{report['model']}: {report['parameters'] / 1e6:.2f} M params, {report['gmacs_per_image']:.1f} GMACs per image "
        f"({report['gmacs_per_megapixel']:.0f} per megapixel), input {shape}, {', '.join(setting)}",
        f"machine: {report['machine']['cpu']}, {report['machine']['threads']} threads, torch {report['machine']['torch']}; "
        f"3x3 conv peak {report['conv_peak_gflops']:.0f} GFLOP/s ({report['dtype']}, torch, measured in this run); "
        "each row's fraction is of its own engine's and precision's peak",
        "",
    ]
    rows: list[list[str]] = []
    notes: list[str] = []
    above: list[str] = []
    reduced = any((r.get("precision") or report["dtype"]) != "float32" for r in report["backends"])
    for r in report["backends"]:
        if r["status"] != "ok":
            notes.append(f"{r['backend']}: {r['status']}")
            continue
        lat = r["latency_ms"]
        latency_spread = (r.get("spread") or {}).get("latency")
        marks = "*" * (len(above) + 1) if r.get("above_peak") else ""
        if marks:
            above.append(f"{marks} {r['backend']}: {100 * r['fraction_of_peak']:.0f}% of its peak, {r['above_peak']}")
        own = r.get("peak") or {}
        row = [r["backend"], r.get("precision") or report["dtype"], number(lat["median"], ".1f"),
               f"{lat['min']:.1f} / {lat['max']:.1f}",
               "-" if latency_spread is None else f"{100 * latency_spread:.0f}%", number(r["megapixels_per_s"], ".3f"),
               number(r["gflops"], ".0f"), number(100 * r["fraction_of_peak"], ".0f") + "%" + marks,
               f"{own.get('kernel', 'torch 3x3 conv').removesuffix(' 3x3 conv')} {number(own.get('gflops'), '.0f')}",
               number(r["peak_memory_mib"], ".0f")]
        if reduced:
            row.append(number(r["psnr_vs_float32"], ".1f"))
        rows.append(row + [r["device"]])
    headers = ["engine", "precision", "median ms", "min / max ms", "spread", "MP/s", "GFLOP/s", "of peak",
               "its peak GFLOP/s", "peak MiB"]
    if reduced:
        headers.append("PSNR vs fp32")
    if rows:
        lines.append(format_table(headers + ["device"], rows, right=tuple(i for i in range(2, len(headers)))))
    lines += above
    lines += [f"note: {n}" for n in notes]
    lines += [f"warning: {w}" for w in report.get("warnings", [])]
    return "\n".join(lines)
