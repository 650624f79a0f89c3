"""A training run's settings (the options of ``zoo train``), their checks, and which of them a
resumed run must keep."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from zoo.contract import size_multiple
from zoo.data.specs import auto_validation
from zoo.errors import ZooError
from zoo.limits import check_steps
from zoo.precision import PRECISIONS

LOSSES = ("l1", "charbonnier", "relative-l1")
DEFAULT_WARMUP = 100
# Settings that must not change when a run is resumed: the batches, the model and its updates
# depend on them. (Validation, logging and checkpoint intervals may change.)
RESUME_KEYS = ("model", "model_config", "weights", "data", "batch", "patch", "seed", "loss", "steps", "warmup", "lr",
               "min_lr", "weight_decay", "ema", "clip", "precision")


@dataclass
class TrainConfig:
    model: str
    out: str
    model_config: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None  # start from these weights (fine-tuning)
    data: list[str] = field(default_factory=lambda: ["synthraw"])
    steps: int = 2000
    batch: int = 8
    patch: int = 128
    lr: float = 2e-4
    min_lr: float = 1e-6
    warmup: int | None = None  # None: DEFAULT_WARMUP steps, at most a tenth of the run
    weight_decay: float = 1e-4
    loss: str = "l1"
    ema: float = 0.999
    clip: float = 1.0  # max gradient norm; 0 turns clipping off
    precision: str = "float32"  # bfloat16 / float16: autocast on a GPU
    val: str | None = "auto"  # any `zoo eval` data; auto: see resolve_validation; None: no validation
    val_every: int = 250
    checkpoint_every: int = 250
    log_every: int = 10
    seed: int = 0

    def check(self, model: nn.Module | None = None) -> None:
        """Refuse settings that cannot train; with ``model``, also a patch off its size grid."""
        if self.loss not in LOSSES:
            raise ZooError(f"unknown loss '{self.loss}'; choose from {', '.join(LOSSES)}")
        for name in ("steps", "batch", "patch", "val_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ZooError(f"{name} must be at least 1")
        check_steps(self.steps, "steps")  # before anything is built or read: 10^12 steps ran without a word
        multiple = 1 if model is None else size_multiple(model)
        if self.patch % multiple:
            raise ZooError(f"patch must be a multiple of {multiple} (the model's size multiple), got {self.patch}")
        for name in ("lr", "min_lr", "ema", "clip", "weight_decay"):  # NaN passes every comparison below
            if not math.isfinite(getattr(self, name)):
                raise ZooError(f"{name} must be a finite number, got {getattr(self, name)}")
        if not 0 <= self.seed < 2**32:
            raise ZooError(f"seed must be a whole number from 0 to {2**32 - 1}, got {self.seed}")
        if not 0 <= self.ema < 1:
            raise ZooError("ema must be in [0, 1)")
        if not self.lr > 0:
            raise ZooError(f"lr must be positive, got {self.lr:g}")
        if self.min_lr < 0:
            raise ZooError(f"min_lr must not be negative, got {self.min_lr:g}")
        if self.warmup is not None and not 0 <= self.warmup <= self.steps:
            raise ZooError(f"warmup must be between 0 and steps ({self.steps}), got {self.warmup}")
        if self.clip < 0 or self.weight_decay < 0:
            raise ZooError("clip and weight_decay must not be negative")
        if self.precision not in PRECISIONS:
            raise ZooError(f"unknown precision '{self.precision}'; choose from {', '.join(PRECISIONS)}")

    @property
    def warmup_steps(self) -> int:
        """``warmup``, or by default :data:`DEFAULT_WARMUP` steps but at most a tenth of the run,
        so that a short run has most of its steps to decay in."""
        return warmup_steps(self.warmup, self.steps)


def warmup_steps(warmup: int | None, steps: int) -> int:
    return min(DEFAULT_WARMUP, steps // 10) if warmup is None else warmup


def training_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The :data:`RESUME_KEYS` of a config as ``dataclasses.asdict`` (then JSON) gives it. Of the
    starting weights only whether there were any counts: a checkpoint holds the weights since."""
    plain = json.loads(json.dumps(config))
    settings = {k: bool(plain.get(k)) if k == "weights" else plain.get(k) for k in RESUME_KEYS}
    settings["warmup"] = warmup_steps(plain.get("warmup"), plain.get("steps", 0))  # what the schedule used
    return settings


def changed_settings(stored: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """The training settings in which ``cfg`` differs from a run's ``stored`` config, each as
    ``name (the run has X, now Y)``."""
    old, new = training_settings(stored), training_settings(dataclasses.asdict(cfg))
    return [f"{k} (the run has {json.dumps(old[k])}, now {json.dumps(new[k])})" for k in RESUME_KEYS if old[k] != new[k]]


def resolve_validation(spec: str | None, channels: int | None) -> str | None:
    """``auto`` -> ``synthval`` for a raw (1-channel) model, ``synthval-srgb`` for an sRGB one,
    none for other inputs; any other spec as given."""
    return auto_validation(channels) if spec == "auto" else spec  # the data-kind table says which set
