"""One candidate's proxy training, with the project's own trainer, in a folder named by what it
trains (configuration and proxy settings hashed): a trial killed part-way is retried into the
same folder and resumes from the trainer's checkpoint; a genome met again reuses the result."""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DamagedFile, ZooError
from zoo.fileio import atomic_path
from zoo.reading import read_json_object
from zoo.runlock import waiting_lock
from zoo.search.earlystop import EarlyStop, StopCandidate
from zoo.search.genome import config_key
from zoo.train.trainer import RunFolder, TrainConfig, train
from zoo.train.data import open_sources

CANDIDATES = "candidates"
RESULT = "result.json"


@dataclass
class Proxy:
    """The short training every candidate gets (the trainer's recipe, fewer steps)."""

    steps: int = 300
    data: list[str] = field(default_factory=lambda: ["synthraw"])
    val: str = "synthval"
    batch: int = 8
    patch: int = 64
    lr: float = 1e-3
    seed: int = 0
    validations: int = 4  # evenly spaced, the last at the end: the early-stopping rule's checkpoints

    def check(self) -> None:
        if self.validations < 1:
            raise ZooError(f"--validations must be at least 1, got {self.validations}")
        if self.steps < self.validations:
            raise ZooError(f"--steps must be at least {self.validations} (the proxy validates {self.validations} times)")
        TrainConfig(model="mwnet", out="", steps=self.steps, batch=self.batch, patch=self.patch, lr=self.lr).check()

    @property
    def interval(self) -> int:
        return max(1, self.steps // self.validations)

    def train_config(self, config: dict[str, Any], out: Path) -> TrainConfig:
        # Checkpoint at every validation: the log (which the stopping rule reads) is written with it.
        return TrainConfig(model="mwnet", out=str(out), model_config=config, data=list(self.data), steps=self.steps,
                           batch=self.batch, patch=self.patch, lr=self.lr, val=self.val, val_every=self.interval,
                           checkpoint_every=self.interval, log_every=self.interval, seed=self.seed)


@dataclass
class Result:
    psnr: float
    ssim: float
    steps: int  # steps trained
    seconds: float  # training time, over all the runs that made it (resumes included)
    curve: list[list[float]]  # [step, validation PSNR]
    stopped: dict[str, Any] | None = None  # the early-stopping rule's record, when it stopped the run
    resumed_from: int = 0  # the checkpoint step this run started from (0: from scratch)
    reused: bool = False  # the result was there already (the same candidate, trained before)


def _as_result(data: dict[str, Any], path: Path) -> Result:
    """``data`` as a :class:`Result`; a :class:`DamagedFile` unless it holds what
    :func:`train_candidate` writes (numbers where numbers go, a finite PSNR)."""
    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    try:
        result = Result(**data)
    except TypeError:  # keys missing, or not a Result's
        raise DamagedFile(f"the candidate's result {path} is not a result zoo search writes") from None
    if not (number(result.psnr) and math.isfinite(result.psnr) and number(result.ssim) and number(result.seconds)
            and isinstance(result.steps, int) and isinstance(result.resumed_from, int)
            and isinstance(result.curve, list) and isinstance(result.stopped, (dict, type(None)))):
        raise DamagedFile(f"the candidate's result {path} holds values of the wrong kind")
    return result


def stored_result(folder: Path) -> Result | None:
    """The result a finished training left in ``folder`` (None: none yet). A damaged one is
    treated as absent, with a warning: the candidate trains again (from its checkpoint) and
    writes it anew, rather than failing its trial each time it is drawn."""
    path = folder / RESULT
    try:
        data = read_json_object(path, "the candidate's result", missing_ok=True)
        return None if data is None else _as_result(data, path)
    except DamagedFile as exc:
        warnings.warn(f"{exc}; training the candidate again", RuntimeWarning, stacklevel=2)
        return None


def candidate_folder(out: Path, config: dict[str, Any], proxy: Proxy) -> Path:
    return out / CANDIDATES / config_key(config, dataclasses.asdict(proxy))


class _Watched:
    """A training source that checks the run's log before each patch: when a new validation
    row appears, the stopping rule sees it and may end the run (the trainer has checkpointed that
    step, so nothing is lost). The trainer's own data path is untouched."""

    def __init__(self, source, run: RunFolder, rule: EarlyStop | None, start: int) -> None:
        self.source, self.run, self.rule = source, run, rule
        self.channels = source.channels
        self.checked, self.stamp = start, None

    def sample(self, rng: np.random.Generator, patch: int):
        if self.rule is not None:
            try:
                stat = self.run.log.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
            except FileNotFoundError:
                stamp = None
            if stamp is not None and stamp != self.stamp:
                self.stamp = stamp
                for step, value in _curve(self.run):
                    if step > self.checked:
                        self.checked = step
                        self.rule.check(step, value)  # raises StopCandidate
        return self.source.sample(rng, patch)


def open_training_data(specs: list[str]):
    """The training data as the trainer opens it (the same specs, mixtures and weights)."""
    return open_sources(specs)


def _curve(run: RunFolder) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r["val_psnr"])) for r in run.read_log() if r.get("val_psnr") not in ("", None)]


def _checkpoint_step(run: RunFolder) -> int:
    """The step of the run's checkpoint (0 without one): the trainer's own record, since the log
    is written just after the checkpoint and a kill can fall between the two."""
    if not run.last.exists():
        return 0
    import torch

    return int(torch.load(run.last, map_location="cpu", weights_only=True)["step"])


def _seconds(run: RunFolder) -> float:
    values = [float(r["seconds"]) for r in run.read_log() if r.get("seconds") not in ("", None)]
    return values[-1] if values else 0.0


def train_candidate(folder: Path, config: dict[str, Any], proxy: Proxy, rule: EarlyStop | None,
                    before_training: Callable[[], None] | None = None) -> Result:
    """Train (or resume, or reuse) one candidate; one process at a time per folder.
    ``before_training`` runs just before the trainer does (torchrun: rank 0 sends the job)."""
    with waiting_lock(folder / ".lock"):  # a duplicate genome waits here, then reuses the result
        done = folder / RESULT
        stored = stored_result(folder)
        if stored is not None:
            return dataclasses.replace(stored, reused=True)
        run = RunFolder(folder / "run")
        start = _checkpoint_step(run)  # an interrupted run's trainer resumes from here
        cfg = proxy.train_config(config, run.path)
        source = _Watched(open_training_data(cfg.data), run, rule, start)
        stopped = None
        began = time.perf_counter()
        if before_training is not None:
            before_training()
        try:
            train(cfg, resume=True, progress=False, source=source)
        except StopCandidate as stop:
            stopped = stop.record
        curve = _curve(run)
        if not curve:
            raise ZooError(f"candidate {folder.name} has no validation score (see {run.log})")
        rows = [r for r in run.read_log() if r.get("val_psnr") not in ("", None)]
        seconds = _seconds(run) if stopped is None else max(_seconds(run), time.perf_counter() - began)
        result = Result(psnr=float(rows[-1]["val_psnr"]), ssim=float(rows[-1]["val_ssim"]), steps=curve[-1][0],
                        seconds=round(seconds, 2), curve=[[s, v] for s, v in curve], stopped=stopped,
                        resumed_from=start)
        if not math.isfinite(result.psnr):
            raise ZooError(f"candidate {folder.name} diverged (validation PSNR {result.psnr})")
        with atomic_path(done) as tmp:
            tmp.write_text(json.dumps(dataclasses.asdict(result), indent=2) + "\n")
        return result
