"""INT8 files: ``zoo quantize MODEL --data SPEC -o FILE``, their runners, and their cards.

- ``FILE.xml`` (with ``FILE.bin``): NNCF post-training quantization for OpenVINO; ``FILE.onnx``:
  onnxruntime's static quantization in QDQ form (``--engine`` names one when the suffix does not).
- Calibration: the noisy images of a data spec (``--data``, as ``zoo eval --data`` takes). A noise-aware
  model's graph takes the image and its noise map: each image is given with the map of its level (the
  true one where the data carries it, else estimated from the image as ``zoo denoise`` does), and
  every loss is measured through ``zoo.denoise``, which builds the map beside the file
  (:class:`zoo.infer.conditioning.Conditioned`), as it runs it later.
- What stays in float is chosen by measurement: each of :data:`~zoo.export.quantizers.SCOPES`
  (nothing; the Haar transforms with the first and last learned convolutions and the addition that
  puts the input back; those and every residual addition) is quantized, scored on the validation
  set (``--val``, by default the calibration set) and timed at 256x256; the fastest within
  ``max_drop`` dB of float32 is kept. When none is within it, OpenVINO's file comes from NNCF's
  accuracy control (the costliest operations put back in float until it is within the bound);
  onnxruntime's, the least lossy, with a warning that ``--precision auto`` will pass it over.
- The file's card (its ``zoo.card`` metadata: ONNX metadata, or the IR's ``framework`` section)
  says what it was made from, how, and its loss against float32 on the validation set, for every
  scope tried. A copy is kept in zoo's cache (``int8/``), where ``zoo denoise MODEL --precision
  auto|int8`` finds it for the same weights.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo.cache import prune
from zoo.contract import input_channels, model_name, noise_channels, weights_source
from zoo.data.pairs import Pair
from zoo.errors import ZooError
from zoo.export.cache import cached_export, model_digest
from zoo.export import losses  # losses.held_out_pairs looked up at the call: tests give it a small set
from zoo.export.losses import HELD_OUT, mean_psnr
from zoo.export.openvino import OpenVinoRunner, require_openvino
from zoo.export.quantizers import SCOPES, nncf_accuracy_control, nncf_quantize, onnx_ops, openvino_ops, ort_quantize, \
    remove, save_openvino, scopes
from zoo.export.runner import OrtRunner
from zoo.fileio import cache_dir
from zoo.infer.conditioning import network_input
from zoo.infer.pipeline import denoise
from zoo.infer.runner import Runner
from zoo.machine import BF16_FLAGS, native, version
from zoo.version import __version__

SUFFIXES = {"openvino": ".xml", "onnxruntime": ".onnx"}
CARD_KEY = "zoo.card"
TIME_SIZE = 256
Log = Callable[[str], None]


@dataclass
class Tried:
    """One choice of what stays in float, as measured."""

    kept: str
    loss_db: float
    milliseconds: float
    kept_ops: int


def engine_for(path: str | Path, engine: str | None = None) -> str:
    """The engine a quantized file is for: ``engine`` when given (it must fit the suffix), else by suffix."""
    suffix = Path(path).suffix.lower()
    by_suffix = next((name for name, ending in SUFFIXES.items() if ending == suffix), None)
    if engine is not None:
        if engine not in SUFFIXES:
            raise ZooError(f"unknown engine '{engine}' for INT8; choose from {', '.join(SUFFIXES)}")
        if by_suffix not in (None, engine):
            raise ZooError(f"{path}: {engine} writes {SUFFIXES[engine]}, not {suffix}")
        return engine
    if by_suffix is None:
        raise ZooError(f"{path}: name the file .xml (OpenVINO, NNCF) or .onnx (onnxruntime, QDQ)")
    return by_suffix


def is_int8_file(path: str | Path) -> bool:
    """Whether ``path`` is a quantized zoo file: an IR, or an ONNX file with QuantizeLinear nodes."""
    path = Path(path)
    if path.suffix.lower() == ".xml":
        return True
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - not readable as ONNX: its runner says so in one line
        return False
    return any(node.op_type in ("QuantizeLinear", "DequantizeLinear") for node in graph.node)


def int8_runner(path: str | Path, *, engine: str | None = None, threads: int | None = None, cache: bool = True) -> Runner:
    """A runner for a quantized file: OpenVINO or onnxruntime on the CPU. OpenVINO runs what stayed
    out of INT8 in bfloat16 on a CPU with native bfloat16 (:func:`float_parts`), else in float32."""
    engine = engine_for(path, engine if engine in SUFFIXES else None)
    if engine == "openvino":
        return OpenVinoRunner(path, dtype=float_parts(), threads=threads, cache=cache)
    return OrtRunner(path, provider="cpu", threads=threads)


def float_parts() -> str:
    """The precision OpenVINO runs an INT8 file's float operations in here (its loss is measured so)."""
    return "bfloat16" if native(BF16_FLAGS) else "float32"


def runner_card(runner: Runner) -> dict[str, Any] | None:
    """The card a file's runner read from its metadata (None: none, or not a JSON object)."""
    text = getattr(runner, "metadata", {}).get(CARD_KEY)
    try:
        card = json.loads(text) if text else None
    except ValueError:
        return None
    return card if isinstance(card, dict) else None


def cached_int8(model: nn.Module, engine: str) -> Path:
    """Where ``zoo quantize`` keeps a copy of ``model``'s INT8 file for ``engine`` (there or not)."""
    digest = model_digest(model)[:16]
    return cache_dir() / "int8" / f"{model_name(model)}-{engine}-{digest}{SUFFIXES[engine]}"


def against_float32(loss_db: float) -> str:
    """``0.012 dB below float32`` (``above`` for a gain)."""
    return f"{abs(loss_db):.3f} dB {'below' if loss_db >= 0 else 'above'} float32"


def as_batch(pair: Pair, noise: int = 0) -> np.ndarray:
    """What the network is given for ``pair``'s noisy image: ``(1, C, H, W)`` float32; for a
    noise-aware network (``noise`` channels) followed by the map of the pair's level (its true
    level where the data carries one, else estimated from the image as at run time)."""
    if noise:
        return network_input(pair.noisy, pair.noise)
    x = np.ascontiguousarray(pair.noisy, dtype=np.float32)
    return x[None, None] if x.ndim == 2 else x[None]


def quantize(model: nn.Module, output: str | Path, calibration: Sequence[Pair], validation: Sequence[Pair], *,
             engine: str | None = None, max_drop: float = 0.05, data: str = "", val: str = "",
             log: Log | None = None) -> dict[str, Any]:
    """Quantize ``model`` to ``output`` as this module's docstring says; the file's card."""
    engine = engine_for(output, engine)
    if not calibration or not validation:
        raise ZooError("quantization needs calibration and validation images; the data given has none")
    if not 0 <= max_drop < 10:
        raise ZooError(f"--max-drop is in dB, from 0 to 10; got {max_drop:g}")
    source = cached_export(model)
    noise = noise_channels(model)
    calib = [as_batch(pair, noise) for pair in calibration]
    say = log or (lambda message: None)
    reference = int8_runner_float(source, engine)
    base = mean_psnr(reference, validation)
    names = scopes(openvino_ops(_read_openvino(source)) if engine == "openvino" else onnx_ops(_read_onnx(source)))
    suffix = SUFFIXES[engine]
    tried: list[Tried] = []
    with tempfile.TemporaryDirectory(prefix="zoo-quantize-") as folder:
        files = {}
        for label in SCOPES:
            say(f"quantizing with {label if label != 'none' else 'nothing'} kept in float ({len(names[label])} ops)")
            files[label] = Path(folder) / f"{label}{suffix}"
            (nncf_quantize if engine == "openvino" else ort_quantize)(source, calib, names[label], files[label])
            tried.append(_measure(label, files[label], engine, base, validation, len(names[label])))
            say(f"  {label}: {against_float32(tried[-1].loss_db)}, {tried[-1].milliseconds:.1f} ms at {TIME_SIZE}x{TIME_SIZE}")
        within = [t for t in tried if t.loss_db <= max_drop]
        method = "scope chosen by measurement"
        if within:
            chosen = min(within, key=lambda t: t.milliseconds)
        elif engine == "openvino":
            say(f"no scope within {max_drop:g} dB: NNCF's accuracy control puts the costliest operations back in float")
            files["accuracy control"] = Path(folder) / f"ac{suffix}"
            nncf_accuracy_control(source, calib, [(as_batch(p, noise), p.noisy, p.clean) for p in validation],
                                  names["head+tail+adds"], max_drop, files["accuracy control"],
                                  as_runner=lambda compiled: _CompiledRunner(compiled, reference))
            chosen = _measure("accuracy control", files["accuracy control"], engine, base, validation, -1)
            tried.append(chosen)
            method = "NNCF accuracy control"
        else:
            chosen = min(tried, key=lambda t: t.loss_db)
            say(f"warning: no scope within {max_drop:g} dB (the best loses {chosen.loss_db:.3f} dB): "
                "--precision auto will not pick this file")
        card = _card(model, engine, chosen, tried, method, base, max_drop, data, val, len(calibration), len(validation))
        card.update(_held_out_loss(files[chosen.kept], engine, reference, say))
        write_card(files[chosen.kept], card, engine)
        _place(files[chosen.kept], Path(output))
        keep = cached_int8(model, engine)
        _place(files[chosen.kept], keep, copy=True) if Path(output).resolve() != keep.resolve() else None
    prune(keep=[keep, keep.with_suffix(".bin")])
    return card


class _CompiledRunner:
    """NNCF's compiled model under accuracy control as a Runner, so that its validation runs through
    ``zoo.denoise`` as every other loss here (a noise-aware model's map built by Conditioned)."""

    def __init__(self, compiled, like: Runner) -> None:
        self.compiled = compiled
        self.in_channels, self.size_multiple = like.in_channels, like.size_multiple
        self.noise_channels = getattr(like, "noise_channels", 0)
        self.device = "OpenVINO CPU (NNCF accuracy control)"

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(np.asarray(self.compiled(x)[0], dtype=np.float32))


def int8_runner_float(source: Path, engine: str) -> Runner:
    """The float32 export on the same engine: the reference the losses are taken against."""
    if engine == "openvino":
        return OpenVinoRunner(source, dtype="float32", cache=False)
    return OrtRunner(source, provider="cpu")


def _measure(label: str, path: Path, engine: str, base: float, validation: Sequence[Pair], kept_ops: int) -> Tried:
    runner = int8_runner(path, engine=engine, cache=False)
    loss = round(base - mean_psnr(runner, validation), 4)
    channels = runner.in_channels or 1
    image = torch.rand(1, channels, TIME_SIZE, TIME_SIZE, generator=torch.Generator().manual_seed(0))
    for _ in range(2):
        denoise(runner, image)
    seconds = []
    for _ in range(5):
        start = time.perf_counter()
        denoise(runner, image)
        seconds.append(time.perf_counter() - start)
    return Tried(label, loss, round(1e3 * median(seconds), 2), kept_ops)


def _held_out_loss(path: Path, engine: str, reference: Runner, say: Log) -> dict[str, Any]:
    """The chosen file's loss on the built-in held-out set for its channel count, all of it (what
    ``--precision auto`` holds to the bound: the validation set chose the file, so its own loss
    there flatters it); nothing for a channel count zoo has no set for."""
    runner = int8_runner(path, engine=engine, cache=False)
    if runner.in_channels not in HELD_OUT:
        return {}
    name, pairs = losses.held_out_pairs(runner.in_channels, None)
    loss = round(mean_psnr(reference, pairs) - mean_psnr(runner, pairs), 4)
    say(f"on the held-out set ({name}, {len(pairs)} blocks): {against_float32(loss)}")
    return {"held_out": f"{name} ({len(pairs)} blocks)", "held_out_loss_db": loss}


def _card(model: nn.Module, engine: str, chosen: Tried, tried: list[Tried], method: str, base: float, max_drop: float,
          data: str, val: str, calibration: int, validation: int) -> dict[str, Any]:
    tool = f"nncf {version('nncf')}, openvino {version('openvino')}" if engine == "openvino" else \
        f"onnxruntime {version('onnxruntime') or version('onnxruntime-gpu')} quantize_static (QDQ)"
    return {"precision": "int8", "engine": engine, "model": model_name(model), "in_channels": input_channels(model),
            "noise_channels": noise_channels(model),
            "weights": Path(source).name if (source := weights_source(model)) else None,
            "weights_digest": model_digest(model), "made_by": f"zoo {__version__} quantize, {tool}",
            "calibration": f"{data} ({calibration} images)", "validation": f"{val or data} ({validation} images)",
            "float32_psnr": round(base, 4), "loss_db": chosen.loss_db, "max_drop_db": max_drop,
            "kept_in_float": chosen.kept, "float_parts": float_parts() if engine == "openvino" else "float32",
            "method": method, "milliseconds_256": chosen.milliseconds,
            "tried": [asdict(t) for t in tried], "made": time.strftime("%Y-%m-%dT%H:%M:%S")}


def _read_openvino(path: Path):
    return require_openvino().Core().read_model(str(path))


def _read_onnx(path: Path):
    import onnx

    return onnx.load(str(path))


def write_card(path: Path, card: dict[str, Any], engine: str) -> None:
    """The card into the file's metadata, with the export's ``zoo.*`` entries (channels, size multiple);
    a card's ``in_channels`` and ``noise_channels`` are written as those entries too, so that a
    noise-aware file's runner reports its noise channels whatever the quantizer kept of the export's."""
    text = json.dumps(card, sort_keys=True)
    entries = {CARD_KEY: text, "zoo.precision": "int8"}
    if isinstance(card.get("in_channels"), int):
        entries["zoo.in_channels"] = str(card["in_channels"])
    if isinstance(card.get("noise_channels"), int) and card["noise_channels"] > 0:
        entries["zoo.noise_channels"] = str(card["noise_channels"])
    if engine == "openvino":
        model = _read_openvino(path)
        for key, value in entries.items():
            model.set_rt_info(value, ["framework", key])
        saved = path.with_name("carded" + path.suffix)
        save_openvino(model, saved)
        del model
        remove(path)
        saved.rename(path)
        saved.with_suffix(".bin").rename(path.with_suffix(".bin"))
        return
    import onnx

    model = _read_onnx(path)
    kept = {p.key: p.value for p in model.metadata_props}
    kept.update(entries)
    del model.metadata_props[:]
    for key, value in kept.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def _place(source: Path, target: Path, copy: bool = False) -> None:
    """``source`` (and an IR's .bin) at ``target``, replacing what is there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    pairs = [(source, target)] + ([(source.with_suffix(".bin"), target.with_suffix(".bin"))] if source.suffix == ".xml" else [])
    for src, dst in reversed(pairs):  # the .bin first: an .xml is never there without its weights
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
