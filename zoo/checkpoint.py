"""Weights files: zoo's own safetensors (with model name and config) and the published layout.

zoo writes safetensors only, with ``zoo.model`` and ``zoo.config`` in the metadata, so a file
rebuilds its model alone. It reads those and PyTorch files such as the released checkpoints
(``{'state_dict': {'module.<key>': tensor}}``), the latter with ``weights_only=True``: loading
never runs pickled code. Loading is strict: every tensor used, none left over, shapes checked,
no integer tensor where the model holds floats, and no NaN or infinity. The JSON in the metadata
is read within :mod:`zoo.limits` (size and depth); the configuration is checked by the factory
(:mod:`zoo.configcheck`) before any model is built from it.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from zoo.contract import model_config, model_name, registered_name
from zoo.errors import CheckpointError, ZooError
from zoo.fileio import atomic_path
from zoo.reading import check_regular, parse_json
from zoo.ops.haar import HAAR_FILTERS, HaarDWT, HaarIWT
from zoo.version import __version__

MODEL_KEY, CONFIG_KEY, VERSION_KEY = "zoo.model", "zoo.config", "zoo.version"
CARD_KEY = "zoo.card"  # a model card: what the weights were trained on, how, and their held-out scores
_PREFIX = "module."  # nn.DataParallel's, in the released checkpoints
_LISTED = 6  # keys named per category in a mismatch message


@dataclass
class Checkpoint:
    """Tensors read from a weights file, and the model name, config and card when zoo wrote it."""

    state_dict: dict[str, torch.Tensor]
    model_name: str | None = None
    config: dict[str, Any] | None = None
    card: dict[str, Any] | None = None


def save(model: nn.Module, path: str | os.PathLike[str], *, card: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights to a safetensors file, atomically, with its name and config, and
    ``card`` (any JSON object: training data, recipe, scores) when given."""
    name, config = registered_name(model), model_config(model)
    if name is None:
        raise CheckpointError("model has no zoo name/config: build it with zoo.create_model(...) before zoo.save")
    metadata = {MODEL_KEY: name, CONFIG_KEY: json.dumps(config), VERSION_KEY: __version__}
    if card is not None:
        if not isinstance(card, dict):
            raise CheckpointError(f"a model card must be a dict, got {type(card).__name__}")
        metadata[CARD_KEY] = json.dumps(card)
    tensors = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    target = Path(path)
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
        _sort_header(tmp)
    return target


def to_half(path: str | os.PathLike[str]) -> None:
    """Rewrite a zoo safetensors file with its float32 tensors in float16, atomically, metadata
    kept (half the bytes, for weights that must be committed; loading casts them back to the
    model's dtype). A tensor float16 cannot hold (beyond its range) stays float32."""
    file = Path(path)
    with safe_open(str(file), framework="pt") as source:
        metadata = source.metadata() or {}
        tensors = {key: source.get_tensor(key) for key in source.keys()}
    half = {key: value.half() if value.dtype == torch.float32 and (value.numel() == 0 or bool(value.abs().max() < 6e4))
            else value
            for key, value in tensors.items()}
    with atomic_path(file) as tmp:
        save_file(half, str(tmp), metadata=metadata)
        _sort_header(tmp)


def _sort_header(path: Path) -> None:
    """Rewrite a safetensors file's JSON header with its keys sorted. safetensors writes its
    metadata from a hash map, in an order that changes from process to process: the same
    weights gave another sha256 in every process (distill's recorded fingerprints differed after a
    resume). The tensors' offsets are relative to the data, so only the header changes."""
    with open(path, "r+b") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = handle.read(length)
        canonical = json.dumps(json.loads(header), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if len(canonical) <= length:  # always, as the same entries are written compactly: pad as safetensors does
            handle.seek(8)
            handle.write(canonical.ljust(length, b" "))
            return
        data = handle.read()
    padded = canonical.ljust(-(-len(canonical) // 8) * 8, b" ")
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(padded)) + padded + data)


def _is_safetensors(path: Path) -> bool:
    # An 8-byte little-endian header length, then the JSON header.
    with open(path, "rb") as handle:
        return handle.read(9)[8:9] == b"{"


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a weights file without building a model (safetensors, or a PyTorch file of tensors).

    The file must be a regular file (``/dev/zero`` read forever), its tensors named by strings
    and of a floating-point type zoo computes in, or integers and booleans (refused later where the
    model holds floats)."""
    file = Path(path)
    if not file.exists():
        raise CheckpointError(f"weights file not found: {file}")
    try:
        check_regular(file, "the weights file")
    except ZooError as exc:
        raise CheckpointError(str(exc)) from None
    checkpoint = _read_safetensors(file) if _is_safetensors(file) else _read_torch(file)
    _check_tensors(checkpoint.state_dict, file)
    return checkpoint


#: Floating-point types a weights file may hold: float8 and the like are no type zoo computes in,
#: and torch cannot even test them for NaN.
FLOAT_TYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _check_tensors(state_dict: dict[Any, torch.Tensor], file: Path) -> None:
    """Names that are strings, and tensors of a type zoo loads: one line naming the first that is not."""
    odd_keys = [key for key in state_dict if not isinstance(key, str)]
    if odd_keys:
        raise CheckpointError(f"{file}: tensors must be named by strings, found {len(odd_keys)} that are not "
                              f"({', '.join(_show_key(k) for k in odd_keys[:_LISTED])})")
    odd_types = [f"{key} {str(tensor.dtype).removeprefix('torch.')}" for key, tensor in state_dict.items()
                 if (tensor.is_floating_point() and tensor.dtype not in FLOAT_TYPES) or tensor.is_complex()
                 or tensor.is_quantized or tensor.layout != torch.strided]
    if odd_types:
        raise CheckpointError(f"{file}: {len(odd_types)} tensor(s) of a type zoo does not load ({_names(odd_types)}); "
                              "weights are float16, bfloat16, float32 or float64")


def _show_key(key: Any) -> str:
    text = repr(key)
    return f"{text if len(text) <= 40 else text[:37] + '...'} ({type(key).__name__})"


def _read_safetensors(file: Path) -> Checkpoint:
    try:
        with safe_open(str(file), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            state_dict = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read safetensors file {file}: {exc}") from exc
    config, card = (_json_metadata(file, metadata, key) for key in (CONFIG_KEY, CARD_KEY))
    return Checkpoint(state_dict, metadata.get(MODEL_KEY), config, card)


def _json_metadata(file: Path, metadata: dict[str, str], key: str) -> Any:
    if key not in metadata:
        return None
    try:
        return parse_json(metadata[key], f"{file}: its '{key}' metadata")
    except CheckpointError:
        raise
    except ZooError as exc:  # too big, too deep, not JSON: as the weights file's error
        raise CheckpointError(str(exc)) from None


def read_card(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The model card in a zoo safetensors file's metadata, read without its tensors; None when
    the file has none (or is not safetensors)."""
    file = Path(path)
    if not file.is_file() or not _is_safetensors(file):
        return None
    try:
        with safe_open(str(file), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read safetensors file {file}: {exc}") from exc
    card = _json_metadata(file, metadata, CARD_KEY)
    if card is not None and not isinstance(card, dict):
        raise CheckpointError(f"{file}: its '{CARD_KEY}' metadata is not a JSON object")
    return card


def _read_torch(file: Path) -> Checkpoint:
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch words every refusal alike; the line naming a blocked global tells code from damage.
        blocked = [line.strip() for line in str(exc).splitlines() if "GLOBAL" in line.upper()]
        if blocked:
            raise CheckpointError(f"refusing {file}: it holds more than plain tensors, and zoo never runs pickled code "
                                  f"({blocked[0]})") from exc
        raise CheckpointError(f"cannot read weights file {file}: not a safetensors or PyTorch file of tensors") from exc
    except Exception as exc:  # torch raises RuntimeError, EOFError, ... for a damaged file
        raise CheckpointError(f"cannot read weights file {file}: not a safetensors or PyTorch file ({type(exc).__name__})") from exc
    state_dict = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f"{file}: expected a dict of tensors, or {{'state_dict': dict of tensors}}")
    return Checkpoint(dict(state_dict))


def _names(keys: list[str]) -> str:
    listed = ", ".join(keys[:_LISTED])
    return listed + (f", ... ({len(keys) - _LISTED} more)" if len(keys) > _LISTED else "")


def load_state_dict_strict(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str = "weights") -> None:
    """Load ``state_dict`` into ``model``: every tensor used, none left over, shapes equal.

    A ``module.`` prefix on every key is dropped. Haar filters stored as tensors (the released
    checkpoints do) are checked to be the Haar filters and then dropped: zoo keeps them constant.
    """
    tensors = dict(state_dict)
    if tensors and all(key.startswith(_PREFIX) for key in tensors):
        tensors = {key[len(_PREFIX):]: value for key, value in tensors.items()}

    not_haar = []
    for path, module in model.named_modules():
        key = f"{path}.weight" if path else "weight"
        if isinstance(module, (HaarDWT, HaarIWT)) and key in tensors:
            stored = tensors.pop(key)
            if stored.shape != HAAR_FILTERS.shape or not torch.allclose(stored.float(), HAAR_FILTERS, atol=1e-6):
                not_haar.append(key)

    expected = model.state_dict()
    missing = [key for key in expected if key not in tensors]
    unexpected = [key for key in tensors if key not in expected]
    misshaped = [
        f"{key} {tuple(tensors[key].shape)} vs model {tuple(value.shape)}"
        for key, value in expected.items()
        if key in tensors and tensors[key].shape != value.shape
    ]
    problems = [
        f"{len(keys)} {label} ({_names(keys)})"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped),
                            ("stored wavelet filters that are not Haar", not_haar))
        if keys
    ]
    if problems:
        raise CheckpointError(f"{source} does not fit model '{model_name(model)}': {'; '.join(problems)}")
    check_tensor_values(tensors, expected, source)
    model.load_state_dict(tensors, strict=True)


def _kind(dtype: torch.dtype) -> str:
    return "float" if dtype.is_floating_point else "complex" if dtype.is_complex else "bool" if dtype == torch.bool else "integer"


def check_tensor_values(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], source: str) -> None:
    """Refuse, naming the tensors, stored integers where the model holds floats (they were
    cast silently) and NaN or infinity (the error came later and blamed the image)."""
    wrong_kind = [f"{key} {tensors[key].dtype} vs model {value.dtype}" for key, value in expected.items()
                  if _kind(tensors[key].dtype) != _kind(value.dtype)]
    if wrong_kind:
        raise CheckpointError(f"{source}: {len(wrong_kind)} tensor(s) of another kind than the model's "
                              f"({_names(wrong_kind)})")
    broken = [key for key, tensor in tensors.items() if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if broken:
        raise CheckpointError(f"{source}: {len(broken)} tensor(s) hold NaN or infinite values ({_names(broken)}): "
                              "these weights are broken (a training that diverged?)")
