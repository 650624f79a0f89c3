"""Exports kept between runs, keyed by everything that shapes the graph (``--engine``): in zoo's
cache, bounded by :mod:`zoo.cache` (an export is touched at each use; the least recently used go
first). ``zoo bench`` passes a temporary ``cache_dir`` instead: exports of random weights are never reused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from zoo.cache import prune, touch
from zoo.contract import model_config, model_name
from zoo.export.exporter import DEFAULT_OPSET, export_onnx
from zoo.export.runner import default_cache_dir
from zoo.version import __version__


def model_digest(model: nn.Module) -> str:
    """A hash of the model's name, configuration and every tensor of its state."""
    digest = hashlib.sha256()
    identity = [model_name(model), model_config(model)]
    digest.update(json.dumps(identity, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def export_path(model: nn.Module, *, fp16: bool = False, opset: int = DEFAULT_OPSET,
                cache_dir: Path | None = None) -> Path:
    """Where :func:`cached_export` keeps ``model``'s export (it may not be there yet)."""
    key = hashlib.sha256(f"{model_digest(model)}|{fp16}|{opset}|{__version__}|{torch.__version__}".encode()).hexdigest()
    name = model_name(model)
    return (cache_dir or default_cache_dir()) / "onnx" / f"{name}-{'fp16' if fp16 else 'fp32'}-{key[:16]}.onnx"


def cached_export(model: nn.Module, *, fp16: bool = False, opset: int = DEFAULT_OPSET,
                  cache_dir: Path | None = None) -> Path:
    """The .onnx file for ``model`` (dynamic sizes), exported and checked on first use only. In
    zoo's cache (no ``cache_dir``) a new export makes the cache keep to its cap (:func:`zoo.cache.prune`)."""
    path = export_path(model, fp16=fp16, opset=opset, cache_dir=cache_dir)
    if path.is_file():
        touch(path)  # the cap removes the exports used longest ago
        return path
    export_onnx(model, path, fp16=fp16, opset=opset)
    if cache_dir is None:
        prune(keep=[path])
    return path
