"""Building models by name, optionally with weights: ``create_model`` and ``load``."""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from zoo.checkpoint import Checkpoint, load_state_dict_strict, read_checkpoint
from zoo.configcheck import build_within_limits, check_config
from zoo.contract import record_weights
from zoo.errors import CheckpointError
from zoo.modelfile import resolve_model_name
from zoo.registry import build_model


def _build_with(name: str, checkpoint: Checkpoint, source: str, config: dict[str, Any]) -> nn.Module:
    if checkpoint.model_name is not None and checkpoint.model_name != name:
        raise CheckpointError(
            f"{source} holds model '{checkpoint.model_name}', not '{name}' "
            f"(use zoo.load or `--weights` with model '{checkpoint.model_name}')"
        )
    # The file's own configuration, with explicitly given keywords on top. One from the file is a
    # stranger's: checked against the factory and built on the meta device within zoo.limits first.
    if checkpoint.config is not None:
        check_config(name, checkpoint.config, source)
        build_within_limits(name, {**checkpoint.config, **config}, source)
    model = build_model(name, **{**(checkpoint.config or {}), **config})
    load_state_dict_strict(model, checkpoint.state_dict, source)
    record_weights(model, source)
    return model


def create_model(name: str, *, weights: str | os.PathLike[str] | None = None, **config: Any) -> nn.Module:
    """Build the model registered as ``name``.

    ``weights``: a zoo safetensors file (its stored config is used, keywords given here override
    it) or a PyTorch file in the published layout (built from ``name`` and the keywords).
    ``name`` may be a model config file's path (``*.json``, :mod:`zoo.modelfile`).
    """
    name, config = resolve_model_name(name, config)
    if weights is None:
        return build_model(name, **config)
    return _build_with(name, read_checkpoint(weights), str(weights), config)


def load(path: str | os.PathLike[str], **config: Any) -> nn.Module:
    """Rebuild a model from a file written by :func:`zoo.save`, from the file alone."""
    checkpoint = read_checkpoint(path)
    if checkpoint.model_name is None:
        raise CheckpointError(f"{path} has no zoo metadata: use zoo.create_model(NAME, weights='{path}')")
    return _build_with(checkpoint.model_name, checkpoint, str(path), config)
