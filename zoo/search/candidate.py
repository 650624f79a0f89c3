"""One candidate's proxy training, with the project's own trainer, in a folder named by what it
trains (configuration and proxy settings hashed): a trial killed part-way is retried into the
same folder and resumes from the trainer's checkpoint; a genome met again reuses the result."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.checkpoint import read_checkpoint
from zoo.errors import DamagedFile, ZooError
from zoo.fileio import atomic_path
from zoo.reading import read_json_object
from zoo.runlock import waiting_lock
from zoo.search.earlystop import EarlyStop, StopCandidate
from zoo.search.genome import config_key
from zoo.train.trainer import RunFolder, TrainConfig, start_from_weights, train
from zoo.train.data import open_sources

CANDIDATES = "candidates"
RESULT = "result.json"  # the first rung's (the proxy's); a later rung's is result-STEPS.json
AWARE_RAW_LOSS = "relative-l1"
LATER_DEFAULTS = {"loss": "l1", "precision": "float32"}


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
    loss: str = "l1"  # a noise-aware candidate of raw images trains with relative-l1 (AWARE_RAW_LOSS)
    precision: str = "float32"  # bfloat16: autocast, as the noise-aware recipe trains on a CPU

    def key(self) -> dict[str, Any]:
        """What names a candidate's folder: the settings, those added since at their defaults left
        out (a study's candidates keep their folders)."""
        plain = dataclasses.asdict(self)
        for name, default in LATER_DEFAULTS.items():
            if plain[name] == default:
                del plain[name]
        return plain

    def check(self) -> None:
        if self.validations < 1:
            raise ZooError(f"--validations must be at least 1, got {self.validations}")
        if self.steps < self.validations:
            raise ZooError(f"--steps must be at least {self.validations} (the proxy validates {self.validations} times)")
        TrainConfig(model="mwnet", out="", steps=self.steps, batch=self.batch, patch=self.patch, lr=self.lr,
                    loss=self.loss, precision=self.precision).check()

    @property
    def interval(self) -> int:
        return max(1, self.steps // self.validations)

    def train_config(self, config: dict[str, Any], out: Path, steps: int | None = None) -> TrainConfig:
        """The trainer's settings; ``steps`` (a later rung's) extends the run, validating at the
        first rung's interval. A noise-aware candidate of raw images trains with the noise-aware
        recipe's loss (relative-l1, docs/noise-aware.md)."""
        loss = AWARE_RAW_LOSS if config.get("noise_map") and config.get("in_channels") == 1 else self.loss
        # Checkpoint at every validation: the log (which the stopping rule reads) is written with it.
        return TrainConfig(model="mwnet", out=str(out), model_config=config, data=list(self.data),
                           steps=steps or self.steps, batch=self.batch, patch=self.patch, lr=self.lr, loss=loss,
                           precision=self.precision, val=self.val, val_every=self.interval,
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
    restarted: bool = False  # resumed from a rung checkpoint's weights alone (AdamW's moments afresh)


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
            and isinstance(result.curve, list) and isinstance(result.stopped, (dict, type(None)))
            and all(isinstance(p, list) and len(p) == 2 and all(number(v) for v in p) for p in result.curve)):
        raise DamagedFile(f"the candidate's result {path} holds values of the wrong kind")
    return result


def result_name(steps: int, proxy: Proxy) -> str:
    return RESULT if steps == proxy.steps else f"result-{steps}.json"


def rung_weights(folder: Path, steps: int) -> Path:
    """A rung boundary's checkpoint: the EMA weights at ``steps`` (zoo's safetensors format)."""
    return folder / f"weights-{steps}.safetensors"


def stored_result(folder: Path, name: str = RESULT) -> Result | None:
    """The result a finished training left in ``folder`` (None: none yet). A damaged one is
    treated as absent, with a warning: the candidate trains again (from its checkpoint) and
    writes it anew, rather than failing its trial each time it is drawn."""
    path = folder / name
    try:
        data = read_json_object(path, "the candidate's result", missing_ok=True)
        return None if data is None else _as_result(data, path)
    except DamagedFile as exc:
        warnings.warn(f"{exc}; training the candidate again", RuntimeWarning, stacklevel=2)
        return None


def candidate_folder(out: Path, config: dict[str, Any], proxy: Proxy) -> Path:
    return out / CANDIDATES / config_key(config, proxy.key())


class _Watched:
    """A training source that checks the run's log before each patch: when a new validation
    row appears, the stopping rule sees it and may end the run (the trainer has checkpointed that
    step, so nothing is lost). The trainer's own data path is untouched."""

    def __init__(self, source, run: RunFolder, rule: EarlyStop | None, start: int) -> None:
        self.source, self.run, self.rule = source, run, rule
        self.channels = source.channels
        self.checked = start
        self.stamp: tuple[int, int] | None = None

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
                    before_training: Callable[[], None] | None = None, *, steps: int | None = None,
                    previous: int | None = None, keep_weights: bool = False) -> Result:
    """Train (or resume, or reuse) one candidate to ``steps`` (default the proxy's: the first
    rung); one process at a time per folder. ``previous``: the rung before (a promotion), whose
    checkpoint it resumes from when the run folder is gone (another session). ``keep_weights``:
    write the rung checkpoint ``weights-STEPS.safetensors`` (and drop the earlier rung's).
    ``before_training`` runs just before the trainer does (torchrun: rank 0 sends the job)."""
    steps = steps or proxy.steps
    with waiting_lock(folder / ".lock"):  # a duplicate genome waits here, then reuses the result
        done = folder / result_name(steps, proxy)
        stored = stored_result(folder, done.name)
        if stored is not None:
            return dataclasses.replace(stored, reused=True)
        run = RunFolder(folder / "run")
        cfg = proxy.train_config(config, run.path, steps)
        start = _checkpoint_step(run)  # an interrupted run's trainer resumes from here
        earlier: list[list[float]] = []
        restarted = False
        if previous is not None and start < previous:  # the run folder is not here: the rung checkpoint is
            before = stored_result(folder, result_name(previous, proxy))
            weights = rung_weights(folder, previous)
            if before is None or not weights.is_file():
                raise ZooError(f"candidate {folder.name} cannot be promoted from step {previous}: neither its run "
                               f"folder nor its rung checkpoint and result ({weights.name}) are there")
            state = read_checkpoint(weights).state_dict  # a damaged file is one line (CheckpointError)
            if run.path.exists():
                shutil.rmtree(run.path)  # what an unfinished earlier attempt left: the checkpoint starts it again
            start_from_weights(proxy.train_config(config, run.path, previous), state, previous, before.psnr)
            start, earlier, restarted = previous, [p for p in before.curve if p[0] <= previous], True
        source = _Watched(open_training_data(cfg.data), run, rule, start)
        stopped = None
        began = time.perf_counter()
        if before_training is not None:
            before_training()
        try:
            train(cfg, resume=True, progress=False, source=source)
        except StopCandidate as stop:
            stopped = stop.record
        logged = _curve(run)
        if not logged:
            raise ZooError(f"candidate {folder.name} has no validation score (see {run.log})")
        curve = [p for p in earlier if p[0] < logged[0][0]] + [[s, v] for s, v in logged]
        rows = [r for r in run.read_log() if r.get("val_psnr") not in ("", None)]
        seconds = _seconds(run) if stopped is None else max(_seconds(run), time.perf_counter() - began)
        result = Result(psnr=float(rows[-1]["val_psnr"]), ssim=float(rows[-1]["val_ssim"]), steps=logged[-1][0],
                        seconds=round(seconds, 2), curve=curve, stopped=stopped, resumed_from=start,
                        restarted=restarted)
        if not math.isfinite(result.psnr):
            raise ZooError(f"candidate {folder.name} diverged (validation PSNR {result.psnr})")
        if keep_weights and stopped is None:
            with atomic_path(rung_weights(folder, steps)) as tmp:
                shutil.copyfile(run.final, tmp)
            for old in folder.glob("weights-*.safetensors"):  # the latest boundary is all a promotion needs
                if old != rung_weights(folder, steps):
                    old.unlink(missing_ok=True)
        with atomic_path(done) as tmp:
            tmp.write_text(json.dumps(dataclasses.asdict(result), indent=2) + "\n")
        return result
