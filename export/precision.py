"""Which precision runs a model: ``--precision auto|float32|bfloat16|int8`` (and ``float16`` on a GPU).

``auto`` on a CPU takes the fastest precision whose PSNR loss against float32 is at most
:data:`~zoo.precision.LOSS_BOUND_DB` (0.05 dB):

- The loss comes from the model's card (measured on its whole held-out set), else it is measured
  once on a small built-in set and kept (:mod:`zoo.export.losses`); an INT8 file carries its own.
  A model with random weights has nothing to measure and stays in float32.
- bfloat16 is a candidate only on a CPU that runs it natively (``avx512_bf16`` or ``amx_bf16`` in its
  flags): elsewhere it is emulated, slower than float32, and auto passes it over by the flags
  without measuring. INT8 is a candidate when ``zoo quantize`` left a file for these weights in
  zoo's cache.
- Among the candidates within the bound (each engine with each precision it runs: PyTorch and
  OpenVINO in bfloat16, OpenVINO or onnxruntime in INT8, every engine in float32), the fastest is
  measured on this machine, as ``--engine auto`` measures engines (:func:`zoo.export.engines.fastest`),
  and kept in ``engines.json``.

On a GPU auto is float32, as before (the cards' losses are measured on the CPU engines).

A noise-aware model is no exception: each engine runs its whole network (the image and the noise
map), the map built beside it by :class:`zoo.infer.conditioning.Conditioned` whichever engine runs
it, and every loss is measured through ``zoo.denoise``, so with the map.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from zoo.cache import touch
from zoo.contract import input_channels, model_config, model_name, size_multiple, weights_source
from zoo.errors import ZooError
from zoo.export.cache import export_path
from zoo.export import engines
from zoo.export.engines import EngineChoice, candidates, choose_engine, choose_file_engine, file_digest, file_runner, make_runner
from zoo.export.losses import Loss, loss_of, measured_loss
from zoo.export.openvino import openvino_installed
from zoo.export.quantize import SUFFIXES, cached_int8, int8_runner, is_int8_file, runner_card
from zoo.infer import pipeline  # as a module: this one's denoise (zoo.denoise) wraps pipeline.denoise
from zoo.infer.budget import conv_profile
from zoo.infer.runner import Runner, parse_device
from zoo.machine import BF16_FLAGS, native
from zoo.precision import INFERENCE_PRECISIONS, LOSS_BOUND_DB

Log = Callable[[str], None]


@dataclass
class Candidate:
    engine: str
    precision: str
    build: Callable[[], Runner]
    loss: Callable[[], Loss | None] | None = None  # None for float32 itself

    @property
    def name(self) -> str:
        return f"{self.engine}/{self.precision}"


def check_precision(precision: str) -> str:
    if precision not in INFERENCE_PRECISIONS:
        raise ZooError(f"unknown precision '{precision}'; choose from {', '.join(INFERENCE_PRECISIONS)}")
    return precision


def native_bf16_note() -> str | None:
    """None where this CPU runs bfloat16 natively; else why auto passes it over, in words."""
    if native(BF16_FLAGS):
        return None
    return f"bfloat16 passed over by the CPU flags: no native bfloat16 here (no {' or '.join(BF16_FLAGS)})"


def choose(model: nn.Module, *, precision: str = "auto", engine: str = "auto", device: torch.device | str | None = None,
           threads: int | None = None, remeasure: bool = False, log: Log | None = None) -> EngineChoice:
    """The engine and precision that run ``model`` (``zoo denoise --precision --engine``): the choice
    carries ``precision`` and ``precision_reason`` (one line: which precision and why)."""
    check_precision(precision)
    if precision == "int8":
        return _int8(model, engine, threads)
    if precision != "auto":
        choice = choose_engine(model, engine=engine, dtype=precision, device=device, threads=threads,
                               remeasure=remeasure, log=log)
        ran = str(getattr(choice.runner, "dtype", getattr(choice.runner, "precision", precision))).removeprefix("torch.")
        return _with(choice, ran, f"{ran}: asked for with --precision" if ran == precision else
                     f"{ran}: {precision} was asked for, and this CPU has no {precision}")
    torch_device = parse_device(device)
    if torch_device.type != "cpu":
        choice = choose_engine(model, engine=engine, dtype="float32", device=torch_device, threads=threads, log=log)
        return _with(choice, "float32", "float32: auto on a GPU (the cards' losses are measured on the CPU engines)")
    found, notes = _candidates(model, engine, threads, log)
    if all(c.precision == "float32" for c in found):
        choice = choose_engine(model, engine=engine, dtype="float32", device=torch_device, threads=threads,
                               remeasure=remeasure, log=log)
        return _with(choice, "float32", "float32: " + ("; ".join(notes) or "no reduced precision here"))
    return pick(found, notes, {"model": model_name(model), "config": model_config(model), "precision": "auto"},
                threads=threads, remeasure=remeasure, log=log, what=model_name(model), model=model, named=engine != "auto")


def pick(found: list[Candidate], notes: list[str], identity: dict, *, threads: int | None, remeasure: bool,
         log: Log | None, what: str, model: nn.Module | None = None, named: bool = False) -> EngineChoice:
    """The fastest of ``found`` (measured once and kept, as engines are) whose loss is within the
    bound: the fastest first, its loss looked up (card, kept measurement, or measured now) only
    then, and passed over for the next when it is too lossy."""
    by_name = {c.name: c for c in found}
    measured = engines.fastest({c.name: c.build for c in found}, identity, precision="auto", threads=threads,
                               remeasure=remeasure, log=log,
                               what=f"{what} (float32 and the reduced precisions that may keep within {LOSS_BOUND_DB:g} dB)")
    timings = measured.milliseconds
    order = [measured.engine] + sorted((n for n in timings if n != measured.engine), key=timings.__getitem__)
    for name in order:
        chosen = by_name[name]
        loss = chosen.loss() if chosen.loss else None
        if chosen.loss and (loss is None or loss.db > LOSS_BOUND_DB):
            notes.append(f"{name} passed over: " + ("no loss known (no card, no built-in set for its channel count)"
                         if loss is None else f"{loss.db:.2f} dB below float32 {loss.source}, over the {LOSS_BOUND_DB:g} dB bound"))
            continue
        runner = measured.runner if name == measured.engine else chosen.build()
        reason = "asked for with --engine" if named else f"auto: the fastest within {LOSS_BOUND_DB:g} dB" + (
            f", measured ({_timings(timings)} at 256x256)" if timings else "")
        return _with(EngineChoice(chosen.engine, runner, reason, timings, model), chosen.precision,
                     _reason(chosen, loss, timings, notes))
    raise ZooError("no candidate precision")  # float32 is always among them: never reached


def _with(choice: EngineChoice, precision: str, reason: str) -> EngineChoice:
    choice.precision, choice.precision_reason = precision, reason
    return choice


def _timings(milliseconds: dict[str, float]) -> str:
    return ", ".join(f"{name} {ms:.0f} ms" for name, ms in sorted(milliseconds.items(), key=lambda kv: kv[1]))


def _reason(chosen: Candidate, loss: Loss | None, milliseconds: dict[str, float], notes: list[str]) -> str:
    """``bfloat16: 0.01 dB below float32 on its card, 5.2x faster`` (than the fastest float32 engine)."""
    float32 = [ms for key, ms in milliseconds.items() if key.endswith("/float32")]
    if loss is None:
        words = "float32: the fastest measured" if milliseconds else "float32"
    else:
        words = f"{chosen.precision}: {_below(loss)}"
        if float32 and chosen.name in milliseconds:
            words += f", {min(float32) / milliseconds[chosen.name]:.1f}x faster (measured)"
    return "; ".join([words, *notes])


def _candidates(model: nn.Module, engine: str, threads: int | None, log: Log | None) -> tuple[list[Candidate], list[str]]:
    """float32 on each engine auto may use, then the reduced precisions this CPU runs natively (and
    INT8 files ``zoo quantize`` left for these weights), each with how to learn its loss; with notes
    on what was passed over and why."""
    float32_engines = [e for e in candidates(torch.float32)[0] if engine in ("auto", e)] or [engine]
    bf16_engines = [e for e in candidates(torch.bfloat16)[0] if engine in ("auto", e)]
    if engine == "auto" and _small_without_export(model):
        float32_engines, bf16_engines = ["torch"], ["torch"]  # as --engine auto: PyTorch (until the export exists)
    build = functools.partial(make_runner, model=model, device="cpu", threads=threads)
    found = [Candidate(e, "float32", functools.partial(build, e, dtype="float32")) for e in float32_engines]
    if weights_source(model) is None:
        return found, ["random weights (no card, nothing to measure a loss on)"]
    notes: list[str] = []
    passed = native_bf16_note()
    if passed:
        notes.append(passed)
    else:
        for name in bf16_engines:
            runner = functools.partial(build, name, dtype="bfloat16")
            found.append(Candidate(name, "bfloat16", runner, functools.partial(loss_of, model, "bfloat16", name, runner, log)))
    for name in SUFFIXES:
        path = cached_int8(model, name)
        if engine in ("auto", name) and path.is_file():
            touch(path)  # in use: the cache's cap removes the files used longest ago
            runner = functools.partial(int8_runner, path, engine=name, threads=threads)
            found.append(Candidate(name, "int8", runner, functools.partial(_file_loss, runner)))
    return found, notes


def _small_without_export(model: nn.Module) -> bool:
    """As ``--engine auto`` judges: a small model runs in PyTorch until its export exists (one whose
    profiling pass fails, a plugin refusing a small image, is left in PyTorch too)."""
    try:
        gmacs = conv_profile(model, input_channels(model), size_multiple(model)).gmacs_per_megapixel
    except Exception:  # noqa: BLE001 - a plugin's own refusal: no probe for it
        return True
    return gmacs < engines.SMALL_MODEL_GMACS and not export_path(model).is_file()


def _below(loss: Loss) -> str:
    """``0.01 dB below float32 on its card (crossdomain-raw)``."""
    return f"{abs(loss.db):.2f} dB {'below' if loss.db >= 0 else 'above'} float32 {loss.source}"


def _same(runner: Runner) -> Runner:
    return runner


def _file_loss(build: Callable[[], Runner]) -> Loss | None:
    """An INT8 file's loss from its card: on the held-out set where it was measured there, else on
    the validation set that chose it."""
    card = runner_card(build()) or {}
    for key, where in (("held_out_loss_db", "held_out"), ("loss_db", "validation")):
        if isinstance(card.get(key), (int, float)):
            return Loss(float(card[key]), f"on its file's card ({card.get(where, 'its ' + where + ' set')})")
    return None


def _int8(model: nn.Module, engine: str, threads: int | None) -> EngineChoice:
    """``--precision int8``: the file ``zoo quantize`` left in the cache for these weights."""
    names = [name for name in SUFFIXES if engine in ("auto", name)]
    if engine not in ("auto", *SUFFIXES):
        raise ZooError(f"int8 runs in {' or '.join(SUFFIXES)}, not {engine}")
    for name in names:
        path = cached_int8(model, name)
        if path.is_file():
            touch(path)
            runner = int8_runner(path, engine=name, threads=threads)
            loss = _file_loss(functools.partial(_same, runner))
            said = f", {_below(loss)}" if loss else ""
            return EngineChoice(name, runner, "asked for with --precision int8", model=model, precision="int8",
                                precision_reason=f"int8: asked for with --precision{said}")
    raise ZooError(f"no INT8 file for these weights of {model_name(model)}: make one with "
                   f"`zoo quantize {model_name(model)} --data SPEC -o FILE.xml` (or .onnx for onnxruntime)")


def choose_file(path, *, precision: str = "auto", engine: str = "auto", provider: str | None = None,
                threads: int | None = None, remeasure: bool = False, log: Log | None = None) -> EngineChoice:
    """The engine and precision for an exported file (``zoo ort``). An INT8 file runs as it is
    quantized; a float32 one in ``auto`` as :func:`choose` says, its losses measured once on the
    small built-in set (a file carries no card) and kept under the file's SHA-256."""
    check_precision(precision)
    if is_int8_file(path):
        if precision not in ("auto", "int8"):
            raise ZooError(f"{path} is an INT8 file: it runs in int8 (--precision int8 or auto), not {precision}")
        if provider not in (None, "cpu"):
            raise ZooError(f"{path} is an INT8 file: it runs on the CPU (--provider cpu or none)")
        runner = int8_runner(path, engine=engine if engine != "auto" else None, threads=threads)
        loss = _file_loss(lambda: runner)
        said = f", {_below(loss)}" if loss else ", no loss on its card"
        name = "openvino" if str(path).lower().endswith(".xml") else "onnxruntime"
        return EngineChoice(name, runner, "the file's engine", precision="int8",
                            precision_reason=f"int8: the file is quantized{said}")
    if precision == "int8":
        raise ZooError(f"{path} is a float32 file: make an INT8 one with `zoo quantize`")
    if precision != "auto" or provider is not None:
        dtype = "float32" if precision == "auto" else precision
        choice = choose_file_engine(path, engine=engine, dtype=dtype, provider=provider, threads=threads,
                                    remeasure=remeasure, log=log)
        return _with(choice, dtype, f"{dtype}: " + ("asked for with --precision" if precision != "auto" else
                                                    "auto with --provider (onnxruntime runs the file as exported)"))
    float32 = choose_file_engine(path, engine=engine, dtype="float32", threads=threads, remeasure=remeasure, log=log)
    note = native_bf16_note()
    if getattr(float32.runner, "provider_used", "cpu") != "cpu":
        return _with(float32, "float32", "float32: auto on a GPU")
    if note or engine == "onnxruntime" or not openvino_installed():
        return _with(float32, "float32", "float32: " + (note or "bfloat16 runs the file in OpenVINO only"))
    identity = {"file_sha256": file_digest(Path(path))}
    channels = getattr(float32.runner, "in_channels", None)
    bf16 = functools.partial(file_runner, "openvino", path, dtype="bfloat16", threads=threads)
    found = [Candidate(float32.engine, "float32", lambda: float32.runner),
             Candidate("openvino", "bfloat16", bf16, lambda: measured_loss(
                 identity, channels, "bfloat16", "openvino", bf16, lambda: float32.runner, log))]
    return pick(found, [], identity, threads=threads, remeasure=remeasure, log=log, what=Path(path).name,
                named=engine != "auto")


def denoise(model, image, *, precision: str | None = None, **options):
    """``zoo.denoise``: :func:`zoo.infer.denoise`, and ``precision`` for a model in memory.

    ``precision="auto"`` runs the model as ``zoo denoise`` would (the fastest precision within
    0.05 dB of float32 on its card; see this module), ``"float32"``, ``"bfloat16"`` or ``"int8"`` (a
    ``zoo quantize`` file for these weights) one of them; None (the default) is ``dtype``'s choice,
    float32 unless told, as before. Each call chooses anew (the measurements are kept): for many
    images take the runner once, ``choose(model, precision="auto").runner``, and denoise with it.
    """
    if precision is None:
        return pipeline.denoise(model, image, **options)
    if not isinstance(model, nn.Module):
        raise ZooError("precision is set on the runner, not on denoise()")
    if options.get("dtype") is not None:
        raise ZooError("give precision= or dtype=, not both")
    options.pop("dtype", None)
    choice = choose(model, precision=precision, device=options.pop("device", None))
    return pipeline.denoise(choice.runner, image, **options)
