"""Which engine runs a model: PyTorch, onnxruntime or OpenVINO, named or chosen automatically.

``auto`` on a GPU is what ran there before (PyTorch for ``zoo denoise``, onnxruntime's TensorRT or
CUDA provider for ``zoo ort``). On a CPU it is the fastest engine installed for the model and
precision: measured once per machine, model, precision and thread count (each engine on a random
256x256 image, warmed up, then in turning rounds of a few calls each, about
:data:`PROBE_BUDGET_S` seconds of timed calls per engine at most; the median) and kept in
``<zoo cache>/engines.json``; delete the file, or ``zoo cache clear``, to measure again.

- A measurement whose calls disagree (an engine's spread, :func:`zoo.timing.spread`, above
  :data:`BUSY_SPREAD`, 10%: the machine was busy) is kept marked ``busy`` and taken
  again by the next run, up to :data:`BUSY_TRIES` times in a row; after that the last one stands
  (a machine that is always busy should not pay for a probe on every run).
- A small model (under :data:`SMALL_MODEL_GMACS` GMACs per megapixel: the demo models) whose ONNX
  export is not in the cache yet runs in PyTorch without a measurement: the export alone takes
  10-30 s on 2 cores, and on these models the engines were measured within 4% of each other
  (``benchmarks/results/engines-probe-cpu-amd-epyc-2t.md``). Once an export is there (``--engine
  onnxruntime`` or ``openvino`` makes it), auto measures all of them.

Why a measurement and not a rule, with the numbers: ``docs/engines.md``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import torch
from torch import nn

from zoo.cache import keep_measurement, read_measurements
from zoo.contract import input_channels, model_config, model_name, size_multiple
from zoo.errors import ZooError, first_line
from zoo.export import engine_table
from zoo.export.cache import export_path
from zoo.export.engine_table import ENGINES
from zoo.export.openvino import OpenVinoRunner
from zoo.export.runner import OrtRunner
from zoo.fileio import cache_dir
from zoo.infer.budget import conv_profile
from zoo.infer.pipeline import denoise
from zoo.infer.runner import DTYPES, Runner, parse_device, resolve_dtype
from zoo.install import pip_hint
from zoo.machine import cpu_identity, versions
from zoo.timing import SPREAD_LIMIT, rotate, spread, warm

CHOICES = ("auto", *ENGINES)
FILE_ENGINES = ("onnxruntime", "openvino")  # what runs an exported .onnx file (zoo ort)
PROBE_SIZE = 256  # the challenge's block size, and the size issue 19's numbers were taken at
# Checked against the interleaved benchmark (benchmarks/results/engines-*.md): a probe alternating
# engines call by call (3 runs after one warm-up) chose onnxruntime for mwresnet-demo where it is
# 30% behind PyTorch; blocks of calls per engine rank the engines as the benchmark does.
PROBE_WARMUP = 2
PROBE_ROUNDS = 3
PROBE_BLOCK = 3
PROBE_BUDGET_S = 1.0  # timed calls per engine stop short of this (at least PROBE_MIN_CALLS of them)
PROBE_MIN_CALLS = 4  # two rounds of two: enough for a median and a spread
BUSY_TRIES = 3  # a busy measurement is taken again this many times in a row, then it stands
BUSY_SPREAD = SPREAD_LIMIT  # runs disagreeing by more than a tenth
SMALL_MODEL_GMACS = 200.0  # per megapixel: the demo models (42-67) are under, the full-size ones (1846-2674) over
Log = Callable[[str], None]


@dataclass
class EngineChoice:
    """The engine that runs, its runner, and why it was picked (one line)."""

    engine: str
    runner: Runner
    reason: str
    milliseconds: dict[str, float] = field(default_factory=dict)  # what auto measured, per engine
    model: nn.Module | None = None  # the model in memory it runs (None for an exported file)
    precision: str = ""  # what runs (zoo.export.precision sets it, with why in one line)
    precision_reason: str = ""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def export_available() -> bool:
    """Whether a model in memory can be exported to ONNX here (the ``onnx`` extra: the exporter
    checks its file in onnxruntime)."""
    return all(_installed(name) for name in ("onnx", "onnxscript", "onnxruntime"))


def precision_name(dtype: torch.dtype | str | None) -> str:
    if isinstance(dtype, torch.dtype):
        return next((name for name, value in DTYPES.items() if value == dtype), str(dtype).removeprefix("torch."))
    return dtype or "float32"


def make_runner(engine: str, model: nn.Module, *, dtype: torch.dtype | str | None = None,
                device: torch.device | str | None = None, threads: int | None = None) -> Runner:
    """A runner for ``model`` on ``engine`` (``torch``, ``onnxruntime`` or ``openvino``): its row of
    :data:`zoo.export.engine_table.TABLE`, exported into zoo's cache."""
    if engine not in ENGINES:
        raise ZooError(f"unknown engine '{engine}'; choose from {', '.join(CHOICES)}")
    return engine_table.build(engine, model, dtype=dtype, device=device, threads=threads)


def candidates(dtype: torch.dtype) -> tuple[list[str], list[str]]:
    """The CPU engines that can run a model in memory in ``dtype`` here, and why the others cannot."""
    engines, missing = ["torch"], []
    export_hint = pip_hint("onnx", "onnxscript", extra="onnx")
    exportable = export_available()
    if dtype == torch.float32:
        if not _installed("onnxruntime"):
            missing.append("onnxruntime not installed")
        elif not exportable:
            missing.append(f"onnxruntime: no ONNX export here ({export_hint})")
        else:
            engines.append("onnxruntime")
    if not _installed("openvino"):
        missing.append(f"openvino not installed ({pip_hint('openvino', extra='openvino')})")
    elif not exportable:
        missing.append(f"openvino: no ONNX export here ({export_hint})")
    else:
        engines.append("openvino")
    return engines, missing


def choose_engine(model: nn.Module, *, engine: str = "auto", dtype: torch.dtype | str | None = None,
                  device: torch.device | str | None = None, threads: int | None = None,
                  remeasure: bool = False, log: Log | None = None) -> EngineChoice:
    """The runner for ``model`` on ``engine`` (``zoo denoise --engine``); ``auto`` as this
    module's docstring says. ``remeasure`` measures again even where a measurement is kept;
    ``log`` is told in one line when a measurement starts (seconds; the first time a model is
    seen, also its ONNX export)."""
    choice = _choose_engine(model, engine=engine, dtype=dtype, device=device, threads=threads, remeasure=remeasure, log=log)
    choice.model = model
    return choice


def _choose_engine(model: nn.Module, *, engine: str, dtype: torch.dtype | str | None, device: torch.device | str | None,
                   threads: int | None, remeasure: bool, log: Log | None) -> EngineChoice:
    if engine not in CHOICES:
        raise ZooError(f"unknown engine '{engine}'; choose from {', '.join(CHOICES)}")
    torch_device = parse_device(device)
    if engine != "auto":
        return EngineChoice(engine, make_runner(engine, model, dtype=dtype, device=torch_device, threads=threads),
                            "asked for with --engine")
    if torch_device.type != "cpu":
        return EngineChoice("torch", make_runner("torch", model, dtype=dtype, device=torch_device), "auto: PyTorch on a GPU")
    compute = resolve_dtype(dtype, torch_device)
    names, missing = candidates(compute)
    precision = precision_name(compute)
    builders = {name: functools.partial(make_runner, name, model, dtype=compute, device=torch_device, threads=threads)
                for name in names}
    if len(names) == 1:
        why = f"auto: the only CPU engine for {precision} here" + (f" ({'; '.join(missing)})" if missing else "")
        return EngineChoice("torch", builders["torch"](), why)
    gmacs = conv_profile(model, input_channels(model), size_multiple(model)).gmacs_per_megapixel
    if gmacs < SMALL_MODEL_GMACS and not export_path(model).is_file():
        return EngineChoice("torch", builders["torch"](),
                            f"auto: PyTorch, not measured: {model_name(model)} is small ({gmacs:.0f} GMACs per megapixel), "
                            f"where the CPU engines measured within 4% of each other, and {', '.join(names[1:])} "
                            "would need its ONNX export first (10-30 s; --engine openvino makes it, then auto measures)")
    identity = {"model": model_name(model), "config": model_config(model)}  # not the weights: they do not change the speed
    return fastest(builders, identity, precision=precision, threads=threads, remeasure=remeasure, log=log,
                   what=f"{model_name(model)} ({precision})")


def file_runner(engine: str, path: str | Path, *, dtype: torch.dtype | str | None = None, provider: str | None = None,
                threads: int | None = None) -> Runner:
    """A runner for an exported .onnx file on ``engine`` (``onnxruntime`` or ``openvino``)."""
    precision = precision_name(dtype)
    if engine == "onnxruntime":
        if precision != "float32":
            raise ZooError(f"onnxruntime runs the file as it was exported, not in {precision}: use --engine openvino")
        return OrtRunner(path, provider=provider, threads=threads)
    if engine != "openvino":
        raise ZooError(f"unknown engine '{engine}' for an ONNX file; choose from auto, {', '.join(FILE_ENGINES)}")
    if provider is not None:
        raise ZooError("--provider chooses among onnxruntime's providers: leave it out with --engine openvino")
    return OpenVinoRunner(path, dtype=precision, threads=threads)


def choose_file_engine(path: str | Path, *, engine: str = "auto", dtype: torch.dtype | str | None = None,
                       provider: str | None = None, threads: int | None = None, remeasure: bool = False,
                       log: Log | None = None) -> EngineChoice:
    """The runner for an exported file (``zoo ort --engine``). ``auto``: onnxruntime when a
    ``provider`` is named or it starts on a GPU; OpenVINO for bfloat16 (onnxruntime has no
    bfloat16 CPU path); else the faster of the two on this CPU, measured and kept."""
    if engine != "auto":
        return EngineChoice(engine, file_runner(engine, path, dtype=dtype, provider=provider, threads=threads),
                            "asked for with --engine")
    precision = precision_name(dtype)
    if provider is not None:
        return EngineChoice("onnxruntime", file_runner("onnxruntime", path, dtype=dtype, provider=provider, threads=threads),
                            "auto: --provider is onnxruntime's")
    if precision != "float32":
        return EngineChoice("openvino", file_runner("openvino", path, dtype=dtype, threads=threads),
                            f"auto: {precision} on a CPU runs in OpenVINO")
    openvino, onnxruntime = _installed("openvino"), _installed("onnxruntime")
    if not openvino:
        return EngineChoice("onnxruntime", file_runner("onnxruntime", path, threads=threads),
                            f"auto: OpenVINO is not installed ({pip_hint('openvino', extra='openvino')})")
    if not onnxruntime:
        return EngineChoice("openvino", file_runner("openvino", path, threads=threads), "auto: onnxruntime is not installed")
    ort = file_runner("onnxruntime", path, threads=threads)
    provider = getattr(ort, "provider_used", "cpu")
    if provider != "cpu":
        return EngineChoice("onnxruntime", ort, f"auto: onnxruntime's {provider} provider on the GPU")
    builders = {"onnxruntime": lambda: ort, "openvino": lambda: file_runner("openvino", path, threads=threads)}
    identity = {"file_sha256": file_digest(Path(path))}
    return fastest(builders, identity, precision=precision, threads=threads, remeasure=remeasure, log=log,
                   what=Path(path).name)


def fastest(builders: Mapping[str, Callable[[], Runner]], identity: dict[str, Any], *, precision: str,
            threads: int | None, remeasure: bool, log: Log | None, what: str) -> EngineChoice:
    """The fastest of ``builders`` on this CPU: as measured before for ``identity``, else now.
    A measurement taken while the machine was busy is taken again (module docstring)."""
    key = probe_key(identity, precision, list(builders), threads)
    kept = None if remeasure else read_choices().get(key)
    tries = 0
    if kept and kept.get("engine") in builders:
        milliseconds = kept.get("milliseconds", {})
        tries = int(kept.get("busy_tries", 0)) if kept.get("busy") else 0
        if not tries or tries >= BUSY_TRIES:
            when = "measured earlier" + (f" while busy ({tries} tries)" if tries else "")
            return EngineChoice(kept["engine"], builders[kept["engine"]](), _reason(kept["engine"], milliseconds, precision, when),
                                milliseconds)
    if log:
        again = f"the last measurement was taken while the machine was busy (try {tries + 1} of {BUSY_TRIES}); " if tries else ""
        log(f"{again}choosing the fastest CPU engine for {what} among {', '.join(builders)}: "
            f"measuring each on a {PROBE_SIZE}x{PROBE_SIZE} image" + ("" if tries else ", once for this machine"))
    runners = {name: build() for name, build in builders.items()}
    channels = next((r.in_channels for r in runners.values() if r.in_channels), 1)
    runs = measure(runners, channels)
    milliseconds = {name: round(median(values), 1) for name, values in runs.items()}
    spreads = {name: spread(values) for name, values in runs.items()}
    busy = any(value is not None and value > BUSY_SPREAD for value in spreads.values())
    best = min(milliseconds, key=milliseconds.__getitem__)
    entry = {"engine": best, "milliseconds": milliseconds, "what": what, "precision": precision,
             "measured": time.strftime("%Y-%m-%dT%H:%M:%S"),
             "spread": {name: None if value is None else round(value, 3) for name, value in spreads.items()}}
    if busy:
        entry.update(busy=True, busy_tries=tries + 1)
    write_choice(key, entry)
    when = "measured now" + (" while busy: measured again next time" if busy and tries + 1 < BUSY_TRIES else "")
    return EngineChoice(best, runners[best], _reason(best, milliseconds, precision, when), milliseconds)


def measure(runners: dict[str, Runner], channels: int, size: int = PROBE_SIZE, rounds: int = PROBE_ROUNDS,
            block: int = PROBE_BLOCK, warmup: int = PROBE_WARMUP, budget: float = PROBE_BUDGET_S) -> dict[str, list[float]]:
    """Milliseconds of each timed ``zoo.denoise`` call per runner on one random image. Each runner
    is warmed first (an engine's first calls build kernels and buffers); then they are timed in
    :func:`zoo.timing.rotate`'s turning rounds: ``rounds`` rounds, each runner one untimed call and
    ``block`` timed ones in a row, as a real job runs one engine (not call by call: see
    :mod:`zoo.timing`). Rounds and blocks shrink (to two of two) when the slowest warm-up call says
    they would take more than ``budget`` seconds per engine."""
    image = torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(0))
    calls = {name: functools.partial(denoise, runner, image) for name, runner in runners.items()}
    slowest = max(warm(calls, warmup).values(), default=0.0)  # the last warm-up call: the nearest to a timed one
    timed = max(PROBE_MIN_CALLS, min(rounds * block, int(budget / slowest) if slowest else rounds * block))
    if timed < rounds * block:
        rounds = 2 if timed < 6 else min(rounds, 3)
        block = max(2, timed // rounds)
    seconds = rotate(calls, rounds, block=block, settle=1).seconds
    return {name: [round(s * 1e3, 2) for s in values] for name, values in seconds.items()}


def _reason(engine: str, milliseconds: dict[str, float], precision: str, when: str) -> str:
    timings = ", ".join(f"{name} {ms:.0f} ms" for name, ms in sorted(milliseconds.items(), key=lambda kv: kv[1]))
    return f"auto: the fastest {precision} engine on this CPU, {when} ({timings} at {PROBE_SIZE}x{PROBE_SIZE})"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (an exported file names its model only in optional metadata)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    except OSError as exc:
        raise ZooError(f"cannot read {path}: {first_line(exc)}") from None
    return digest.hexdigest()


def probe_key(identity: dict[str, Any], precision: str, engines: list[str], threads: int | None) -> str:
    """What a measurement holds for: this CPU and thread count, the engines' versions, the model
    (``identity``) and the precision."""
    return json.dumps({"cpu": cpu_identity(), "threads": threads or torch.get_num_threads(), "versions": versions(),
                       "model": identity, "precision": precision, "engines": sorted(engines)},
                      sort_keys=True, default=str)


CHOICES_FILE = "engines.json"  # in zoo's cache (zoo.cache.KEPT)


def choices_file() -> Path:
    return cache_dir() / CHOICES_FILE


def read_choices() -> dict[str, dict]:
    """The measurements kept so far, by :func:`probe_key` (a damaged file counts as none)."""
    return read_measurements(CHOICES_FILE)


def write_choice(key: str, entry: dict) -> None:
    """Keep ``entry`` under ``key``; a cache that cannot be written costs a measurement next time."""
    keep_measurement(CHOICES_FILE, key, entry, "the engine measurement")
