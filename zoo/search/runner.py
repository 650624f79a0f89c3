"""``zoo search run``: create or resume a study and run trials until the global budget is used.

Every worker (process, GPU or machine) runs this loop against one storage; the budget counts the
trials that trained (finished or running) across all of them. A candidate over a cap is recorded
as infeasible before anything is trained, and a genome met again reuses its result: neither
counts. A resumed study is loaded with its own sampler (a loaded study would default to TPE).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.configcheck import check_untrusted_config
from zoo.errors import ZooError, first_line
from zoo.fileio import atomic_path
from zoo.runlock import waiting_lock
from zoo.search import distributed
from zoo.search import storage as stores
from zoo.search.candidate import Proxy, candidate_folder, open_training_data, train_candidate
from zoo.search.earlystop import DEFAULT_MARGIN, EarlyStop, Peer
from zoo.search.journal import damaged_storage
from zoo.search.genome import SEEDS, project, suggest, to_config
from zoo.search.objectives import (DEFAULT_OBJECTIVES, OBJECTIVES, UNTRAINED_PSNR, check_validation_data, count_cost,
                                   measure_latency)
from zoo.search.rungs import Promoter, Rungs, open_rung_study, with_rungs
from zoo.search.space import Space
from zoo.search.status import BUDGET_ATTR, SETTINGS_ATTR, study_status
from zoo.evaluation import load_data
from zoo.version import __version__

SAMPLERS = ("nsga2", "tpe", "random")
WORKERS_ATTR = "zoo.workers"  # workers started so far: each draws its own sampler seed
FREE_LIMIT = 200  # consecutive trials that trained nothing (over a cap, repeats) before giving up
FAIL_LIMIT = 3  # consecutive failed candidates before giving up
WAIT_SECONDS = 5  # between looks at others' running trials, once the budget is used
# Settings a resumed study must be run with again: they decide what the trials' values mean.
FIXED = ("space_hash", "objectives", "proxy", "sampler", "population", "seed", "max_gmacs", "max_params",
         "early_stop", "stop_margin", "rungs")


@dataclass
class SearchSettings:
    space: Space
    out: Path
    storage: str | None = None  # a database URL; None: a journal file in ``out``
    study: str | None = None  # None: the run folder's name
    trials: int = 32  # the global budget: trials that train, over all workers
    proxy: Proxy = field(default_factory=Proxy)
    objectives: tuple[str, ...] = DEFAULT_OBJECTIVES
    sampler: str | None = None  # None: the study's own, or nsga2 for a new one
    population: int = 8  # NSGA-II's generation size
    seed: int = 0
    max_gmacs: float | None = None  # per megapixel
    max_params: float | None = None  # millions
    early_stop: bool = True
    stop_margin: float = DEFAULT_MARGIN
    heartbeat: int = stores.DEFAULT_HEARTBEAT
    grace: int = stores.DEFAULT_GRACE
    rungs: Rungs | None = None  # multi-fidelity promotion; its first rung is the proxy's steps

    def check(self) -> None:
        if self.trials < 1:
            raise ZooError(f"--trials must be at least 1, got {self.trials}")
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise ZooError(f"unknown sampler {self.sampler!r}; choose from {', '.join(SAMPLERS)}")
        if self.population < 2:
            raise ZooError(f"--population must be at least 2, got {self.population}")
        for name in ("max_gmacs", "max_params"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ZooError(f"--{name.replace('_', '-')} must be a positive number, got {value}")
        if not self.stop_margin >= 0:
            raise ZooError(f"--stop-margin must not be negative, got {self.stop_margin}")
        stores.check_heartbeat(self.heartbeat, self.grace)
        self.proxy.check()
        if self.rungs is not None:
            self.rungs.check()
            if self.rungs.steps[0] != self.proxy.steps:
                raise ZooError(f"the first rung ({self.rungs.steps[0]} steps) must be the proxy's --steps "
                               f"({self.proxy.steps})")

    def stored(self) -> dict[str, Any]:
        """What the study keeps: enough to report on it and export from it on any machine."""
        return {"space_hash": self.space.hash, "space_name": self.space.name, "space_text": self.space.text,
                "objectives": list(self.objectives), "proxy": dataclasses.asdict(self.proxy),
                "sampler": self.sampler or "nsga2", "population": self.population, "seed": self.seed,
                "max_gmacs": self.max_gmacs, "max_params": self.max_params, "early_stop": self.early_stop,
                "stop_margin": self.stop_margin, "rungs": self.rungs.stored() if self.rungs else None,
                "zoo": __version__,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def make_sampler(name: str, population: int, seed: int):
    optuna = stores.require_optuna()
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    if name == "tpe":  # constant_liar: parallel workers do not all propose the same point
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    return optuna.samplers.RandomSampler(seed=seed)


def worker_seed(seed: int, worker: int) -> int:
    """Each worker (and each resume) draws from its own stream: the same seed twice would
    propose the same candidates again."""
    return int(np.random.SeedSequence([seed, worker]).generate_state(1)[0])


def _changed(stored: dict[str, Any], now: dict[str, Any]) -> list[str]:
    def same(key: str) -> bool:
        if key == "proxy" and isinstance(stored.get(key), dict):  # settings added since, at their defaults
            try:
                return Proxy(**stored[key]).key() == Proxy(**now[key]).key()
            except TypeError:
                return False
        return stored.get(key) == now[key]

    return [f"{key} (the study has {stored.get(key)!r}, now {now[key]!r})" for key in FIXED if not same(key)]


def open_study(settings: SearchSettings):
    """Create the study, or load it and check the settings; register this worker; seed a new
    study with the known architectures. Returns ``(study, location, stored settings)``."""
    optuna = stores.require_optuna()
    location = stores.open_for_run(settings.out, settings.storage, heartbeat=settings.heartbeat, grace=settings.grace)
    recorded = stores.read_folder_file(settings.out)
    name = settings.study or (recorded["study"] if recorded else settings.out.resolve().name)
    if recorded and recorded["study"] != name:  # a second study in one folder would take over its search.json
        raise ZooError(f"{settings.out} holds study {recorded['study']!r}, not {name!r}: give --study "
                       f"{recorded['study']} to resume it, or another --out")
    directions = [OBJECTIVES[o][0] for o in settings.objectives]
    # One process at a time creates, checks and seeds (on this machine; across machines the
    # enqueue's skip_if_exists keeps the seeds single in all but a simultaneous start).
    with waiting_lock(settings.out / ".search.lock"):
        try:
            study = optuna.create_study(storage=location.storage, study_name=name, directions=directions,
                                        load_if_exists=True)
        except Exception as exc:
            raise ZooError(f"cannot open study {name!r} in {location.url}: {first_line(exc)}") from None
        now = settings.stored()
        with damaged_storage(location.url):
            stored = study.user_attrs.get(SETTINGS_ATTR)
        if stored is not None and (not isinstance(stored, dict) or not set(FIXED) <= set(stored)):
            raise ZooError(f"study {name!r} in {location.url} has damaged settings (its {SETTINGS_ATTR!r} attribute "
                           "lacks what zoo stores): it cannot be resumed")
        if stored is None:
            if settings.sampler is None:
                now["sampler"] = "nsga2"
            study.set_metric_names(list(settings.objectives))
            study.set_user_attr(SETTINGS_ATTR, now)
            stored = now
            seed_study(study, settings.space)
        else:
            if settings.sampler is None:  # resume: the study's own sampler, not Optuna's default (TPE)
                now["sampler"] = stored["sampler"]
            changed = _changed(stored, now)
            if changed:
                raise ZooError(f"cannot resume study {name!r} with different {', '.join(changed)}")
        worker = int(study.user_attrs.get(WORKERS_ATTR, 0))
        study.set_user_attr(WORKERS_ATTR, worker + 1)
        study.set_user_attr(BUDGET_ATTR, settings.trials)
        stores.write_folder_file(settings.out, location, name)
        if settings.rungs is not None:
            open_rung_study(study, create=True)
            write_gitignore(settings.out)
    study.sampler = make_sampler(stored["sampler"], stored["population"], worker_seed(stored["seed"], worker))
    location.study = name
    return study, location, stored


def seed_study(study, space: Space) -> list[str]:
    """Enqueue the known architectures (projected onto the space) as the first trials."""
    skipped = []
    for name, config in SEEDS.items():
        genome, why = project(space, config)
        if genome is None:
            skipped.append(f"{name}: {why}")
            continue
        study.enqueue_trial(genome, user_attrs={"seed": name}, skip_if_exists=True)
    if skipped:
        study.set_user_attr("zoo.seeds_skipped", skipped)
    return skipped


def budget_used(study) -> int:
    """Trials that trained (finished) or may be training (running), over all workers."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
    return sum(1 for t in trials if t.state == TrialState.RUNNING or t.user_attrs.get("counted"))


def peers(study) -> list[Peer]:
    """Finished candidates that trained the whole proxy: the stopping rule's evidence."""
    from optuna.trial import TrialState

    found = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        attrs = t.user_attrs
        if attrs.get("curve") and not attrs.get("stopped") and not attrs.get("over_cap"):
            found.append(Peer(t.number, float(attrs["gmacs"]), float(attrs["psnr"]),
                              {int(s): float(v) for s, v in attrs["curve"]}))
    return found


class Objective:
    """One trial: genome -> configuration -> cost and caps -> proxy training -> values."""

    def __init__(self, settings: SearchSettings, stored: dict[str, Any], location: stores.Location) -> None:
        self.settings, self.stored, self.location = settings, stored, location
        self.outcome = ""  # "trained", "free" or "failed": what the loop counts
        self.ranks = distributed.world_size() > 1  # under torchrun: every rank trains each candidate

    def caps(self, trial, gmacs: float, mparams: float) -> list[str]:
        """Set a constraint per cap (relative excess, <= 0 feasible); the caps exceeded."""
        over = []
        for key, value, cap in (("gmacs", gmacs, self.stored["max_gmacs"]), ("params", mparams, self.stored["max_params"])):
            if cap is None:
                continue
            with warnings.catch_warnings():  # a retried trial brings its constraint along: Optuna warns, keeps it
                warnings.simplefilter("ignore")
                trial.set_constraint(key, (value - cap) / cap)
            if value > cap:
                over.append(f"{key} {value:.4g} > {cap:.4g}")
        return over

    def values(self, psnr: float, gmacs: float, mparams: float, latency: float | None) -> list[float]:
        known = {"psnr": psnr, "gmacs": gmacs, "params": mparams, "latency": latency}
        values = [known[o] for o in self.stored["objectives"]]
        if any(v is None for v in values):
            raise ZooError("the candidate's latency was not measured, and it is an objective")
        return [float(v) for v in values if v is not None]

    def __call__(self, trial) -> list[float]:
        self.outcome, self.error = "failed", ""
        try:
            return self.evaluate(trial)
        except Exception as exc:  # recorded on the trial as one line; the loop goes on (up to a limit)
            self.error = f"{type(exc).__name__}: {first_line(exc)}"
            trial.set_user_attr("error", self.error)
            raise

    def evaluate(self, trial) -> list[float]:
        settings = self.settings
        config = to_config(settings.space, suggest(settings.space, trial))
        trial.set_user_attr("worker", stores.worker_identity())
        trial.set_user_attr("config", config)
        check_untrusted_config("mwnet", config, f"trial {trial.number}'s architecture")  # within the model limits
        cost = count_cost(config)
        trial.set_user_attr("gmacs", cost.gmacs)
        trial.set_user_attr("mparams", cost.mparams)
        over = self.caps(trial, cost.gmacs, cost.mparams)
        if over:  # nothing trained: infeasible, costs nothing, not counted against the budget
            trial.set_user_attr("over_cap", over)
            self.outcome = "free"
            return self.values(UNTRAINED_PSNR, cost.gmacs, cost.mparams, math.inf)
        proxy = Proxy(**self.stored["proxy"])
        folder = candidate_folder(settings.out, config, proxy)
        trial.set_user_attr("candidate", folder.name)
        rule, send = None, None
        if self.stored["early_stop"] and not self.ranks:  # under torchrun a stop would have to reach every rank
            rule = EarlyStop(cost.gmacs, peers(trial.study), proxy.steps, self.stored["stop_margin"])
        if self.ranks:
            send = lambda: distributed.send(distributed.job(config, proxy, folder))  # noqa: E731
        beat = (stores.heartbeat(settings.out, trial.number, settings.heartbeat) if self.location.journal
                else contextlib.nullcontext())
        with beat:
            result = train_candidate(folder, config, proxy, rule, before_training=send,
                                     keep_weights=bool(self.stored.get("rungs")))
        latency = measure_latency(config) if "latency" in self.stored["objectives"] else None
        for key, value in (("psnr", result.psnr), ("ssim", result.ssim), ("steps", result.steps),
                           ("train_seconds", result.seconds), ("curve", result.curve), ("stopped", result.stopped),
                           ("resumed_from", result.resumed_from), ("reused", result.reused), ("latency_ms", latency),
                           ("counted", not result.reused)):
            trial.set_user_attr(key, value)
        self.outcome = "free" if result.reused else "trained"
        return self.values(result.psnr, cost.gmacs, cost.mparams, latency)


def _retry_interrupted(study, number: int) -> None:
    """A trial stopped by Ctrl-C (or SIGTERM) is enqueued again: the next run resumes its
    candidate from the trainer's checkpoint."""
    optuna = stores.require_optuna()
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if trial is not None and trial.state.name == "FAIL":
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=stores.MAX_RETRY)(study, trial)


def check_data(settings: SearchSettings) -> None:
    """Bad training or validation data fails now, once, not in every trial."""
    source = open_training_data(settings.proxy.data)
    if source.channels != settings.space.in_channels:
        raise ZooError(f"the space's models take {settings.space.in_channels}-channel images, the training data "
                       f"has {source.channels}")
    pairs = list(load_data(settings.proxy.val))
    if not pairs:
        raise ZooError(f"--val {settings.proxy.val} holds no images")
    if pairs[0].channels != settings.space.in_channels:
        raise ZooError(f"the space's models take {settings.space.in_channels}-channel images, --val "
                       f"{settings.proxy.val} has {pairs[0].channels}")


def run_search(settings: SearchSettings, *, progress: bool = True) -> dict[str, Any]:
    """Run trials until the study's budget is used (by this and every other worker); returns
    the study's status."""
    optuna = stores.require_optuna()
    settings.proxy = dataclasses.replace(settings.proxy, val=check_validation_data(settings.proxy.val,
                                                                                   settings.space.in_channels))
    settings.check()
    ranks = distributed.world_size() > 1
    if ranks and distributed.join() != 0:  # torchrun: rank 0 runs the study, the others train with it
        distributed.follow()
        return {}
    status = _run(settings, optuna, progress)
    if ranks:  # only after a clean end: on an error the others may be mid-step, and torchrun ends them
        distributed.send(None)
    return status


def _run(settings: SearchSettings, optuna, progress: bool) -> dict[str, Any]:
    from optuna.trial import TrialState

    check_data(settings)
    study, location, stored = open_study(settings)
    objective = Objective(settings, stored, location)
    promoter = None
    if settings.rungs is not None:
        promoter = Promoter(study, open_rung_study(study), settings.rungs, Proxy(**stored["proxy"]), settings.out,
                            journal=location.journal, heartbeat=settings.heartbeat, grace=settings.grace)
    from tqdm.auto import tqdm

    used = budget_used(study)
    bar = tqdm(total=settings.trials, initial=min(used, settings.trials), unit="trial", desc="search",
               disable=not progress)
    free = failed = 0
    try:
        while True:
            if location.journal:
                stores.retry_stale_trials(study, settings.out, settings.grace)
            else:
                optuna.storages.fail_stale_trials(study)
            used = budget_used(study)
            bar.n = min(used, settings.trials)
            bar.refresh()
            if failed >= FAIL_LIMIT:
                last = objective.error or (promoter.error if promoter is not None else "") or "no error recorded"
                raise ZooError(f"{failed} candidates in a row failed, the last with {last}")
            if promoter is not None:  # a promotion due goes first (the highest rung first), as in ASHA
                promoter.retry_stale()
                outcome = promoter.run_one()
                if outcome is not None:
                    failed = failed + 1 if outcome == "failed" else 0
                    continue
            if used >= settings.trials:
                # Others' trials still running may yet die: wait, so that a dead one is retried
                # here rather than left to a later run.
                if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) and not (
                        promoter is not None and promoter.running()):
                    break
                time.sleep(min(settings.heartbeat, WAIT_SECONDS))
                continue
            if free >= FREE_LIMIT:
                raise ZooError(f"{free} trials in a row trained nothing (over a cap, or repeats): "
                               "raise --max-gmacs/--max-params, or widen the space")
            number = len(study.get_trials(deepcopy=False))
            try:
                # under torchrun a failed candidate ends the search: the other ranks may be mid-step
                study.optimize(objective, n_trials=1, catch=() if objective.ranks else (Exception,),
                               gc_after_trial=False)
            except KeyboardInterrupt:
                _retry_interrupted(study, _running_number(study, number))
                raise
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # another worker took this trial for dead and failed it: it is retried there
            free = free + 1 if objective.outcome == "free" else 0
            failed = failed + 1 if objective.outcome == "failed" else 0
            if objective.outcome == "failed":
                warnings.warn(f"search: a candidate failed: {objective.error}", RuntimeWarning, stacklevel=2)
    finally:
        bar.close()
    return with_rungs(study_status(study, location), study)


GITIGNORE = """# zoo search: what a later session needs is committed (the journal, search.json, each candidate's
# result*.json and its rung checkpoint weights-STEPS.safetensors); the run folders are not.
candidates/*/run/
candidates/*/.lock
heartbeats/
.*.lock
*.lock
"""


def write_gitignore(out: Path) -> None:
    """A run folder with rungs says what to commit: ``git add DIR`` then takes the right files."""
    path = out / ".gitignore"
    if not path.exists():
        with atomic_path(path) as tmp:
            tmp.write_text(GITIGNORE)


def _running_number(study, at_least: int) -> int:
    """The number of the trial this process was running (the newest of its own)."""
    mine = stores.worker_identity()
    numbers = [t.number for t in study.get_trials(deepcopy=False) if t.user_attrs.get("worker") == mine]
    return max(numbers) if numbers else at_least

