"""Model config files: a named architecture as a small JSON file, used wherever a model name is.

``zoo search export`` writes one; ``zoo.create_model("arch.json")``, ``zoo train arch.json``,
``zoo distill --siamese arch.json``, ``zoo bench arch.json`` and ``zoo export arch.json`` take it.
A name ending in ``.json`` is read as such a file. The model it builds is the file's registered
model (``mwnet`` for a search result) with the file's configuration, so weights saved from it load
anywhere without the file. Nothing here needs Optuna.

    {"format": "zoo-model-config/1", "name": "knee", "model": "mwnet",
     "config": {"in_channels": 1, "widths": [32, 48, 64], "act": "prelu", "groups": [...]},
     "provenance": {"study": ..., "trial": 12, "values": {...}, "space_hash": ..., "versions": {...}}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.configcheck import build_within_limits, check_config
from zoo.fileio import atomic_path
from zoo.reading import read_json

FORMAT = "zoo-model-config/1"
SUFFIX = ".json"


@dataclass
class ModelFile:
    name: str
    model: str
    config: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "model": self.model, "config": self.config,
                "provenance": self.provenance}


def is_model_file(name: str | os.PathLike[str]) -> bool:
    """A model name that is a config file's path: it ends in ``.json``."""
    return str(name).endswith(SUFFIX)


def read_model_file(path: str | os.PathLike[str]) -> ModelFile:
    """Read and check a model config file; every mistake is one line."""
    path = Path(path).expanduser()
    data = read_json(path, "the model config file")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ZooError(f"{path} is not a zoo model config file (expected \"format\": \"{FORMAT}\")")
    if not isinstance(data.get("model"), str) or not isinstance(data.get("config"), dict):
        raise ZooError(f"{path}: a model config file needs \"model\" (a registered name) and \"config\" (an object)")
    return ModelFile(str(data.get("name") or path.stem), data["model"], data["config"],
                     data.get("provenance") or {}, str(path))


def write_model_file(path: str | os.PathLike[str], model_file: ModelFile) -> Path:
    """Write atomically (a reader never sees half a file)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ZooError(f"{path} is a folder: give a file name ending in {SUFFIX}")
    if not is_model_file(path):
        raise ZooError(f"a model config file's name ends in {SUFFIX} (that is how commands tell it from a model name): {path}")
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(model_file.as_dict(), indent=2) + "\n")
    except OSError as exc:
        raise ZooError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def resolve_model_name(name: str | os.PathLike[str], config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(registered name, configuration)`` for a model name or a config file's path; the
    keywords given override the file's configuration."""
    if not is_model_file(name):
        return str(name), config
    model_file = read_model_file(name)
    if is_model_file(model_file.model):
        raise ZooError(f"{name}: \"model\" must be a registered model name, not another file")
    # A config file may come from anyone (a shared search result): checked as a weights file's is.
    check_config(model_file.model, model_file.config, str(name))
    build_within_limits(model_file.model, {**model_file.config, **config}, str(name))
    return model_file.model, {**model_file.config, **config}
