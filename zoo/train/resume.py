"""Resuming a run: its own saved settings, what a resumed run may change, and extending it.

A run folder's ``config.json`` holds the settings it was started with, so ``zoo train --resume
--out RUN`` needs nothing else (:func:`saved_settings`). A resumed run keeps every setting that
shapes its batches and updates (:data:`~zoo.train.config.RESUME_KEYS`) but one: ``steps`` may
grow, which extends the run (:func:`resume_changes`). An extended run keeps the warm-up it had
(:func:`resumed_config`), and from the step it resumes at its learning rate follows the schedule
of the new step count (:func:`follow_schedule`): the steps already taken keep the rates they ran
at. docs/training-recipe.md says when that equals a run started with the new count.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from typing import Any

from torch.optim.lr_scheduler import LambdaLR

from zoo.errors import ZooError
from zoo.reading import read_json_object
from zoo.train.config import TrainConfig, changed_settings, warmup_steps
from zoo.train.runfolder import RunFolder


def saved_settings(folder: str | os.PathLike[str], kind: type = TrainConfig) -> dict[str, Any] | None:
    """The settings saved in ``folder``'s ``config.json`` that are fields of the dataclass
    ``kind`` (TrainConfig, or zoo distill's DistillConfig), or None when the folder has none.
    ``out`` is left out: the folder is wherever it is now, not where it was made."""
    path = RunFolder(folder).config  # a zoo distill folder keeps its settings under the same name
    stored = read_json_object(path, "the run's settings", missing_ok=True, advice="repair it, or use another --out")
    if stored is None:
        return None
    hints = typing.get_type_hints(kind)
    settings = {k: v for k, v in stored.items() if k in hints and k != "out"}
    for name, value in settings.items():  # a hand-edited file: one line here, not a TypeError mid-run
        if not _fits(value, hints[name]):
            raise ZooError(f"{path}: {name} is {json.dumps(value)}, not a value of this setting; repair it, "
                           "or use another --out")
    return settings


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a settings field's type hint (a JSON list fits a tuple)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint in (int, float) and isinstance(value, bool):
        return False
    if hint is float:
        return isinstance(value, (int, float))
    base = origin or hint
    if base in (list, tuple):
        return isinstance(value, list)
    return base is Any or isinstance(value, base)


def _extends(stored: dict[str, Any], cfg: TrainConfig) -> bool:
    steps = stored.get("steps")
    return isinstance(steps, int) and not isinstance(steps, bool) and cfg.steps > steps


def resumed_config(stored: dict[str, Any], cfg: TrainConfig) -> TrainConfig:
    """``cfg`` as it resumes a run of ``stored`` settings. Extended (more steps than the run's),
    it keeps the warm-up the run had: the default warm-up depends on the step count."""
    if _extends(stored, cfg) and cfg.warmup is None:
        return dataclasses.replace(cfg, warmup=warmup_steps(stored.get("warmup"), stored["steps"]))
    return cfg


def resume_changes(stored: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """:func:`~zoo.train.config.changed_settings`, except that more steps than the run's is an
    extension, not a change; fewer are refused as any other change is."""
    if _extends(stored, cfg):
        stored = {**stored, "steps": cfg.steps, "warmup": warmup_steps(stored.get("warmup"), stored["steps"])}
    return [f"{change[:-1]}: more steps extend a run, fewer are refused)" if change.startswith("steps (") else change
            for change in changed_settings(stored, cfg)]


def follow_schedule(scheduler: LambdaLR) -> None:
    """Set the optimizer's rates to what ``scheduler``'s own function gives at its current step.
    After an extension the restored rates are the old step count's; the next step must run at
    the new one's (a plain resume sets the very same values)."""
    for group, base, factor in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
        group["lr"] = base * factor(scheduler.last_epoch)
