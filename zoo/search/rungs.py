"""Multi-fidelity promotion (successive halving, asynchronous as in ASHA) for a multi-objective
search, around Optuna's ask-and-tell: Optuna's pruners handle one objective only.

Every candidate trains to the first rung (the study's own trials: the sampler evolves on those
values). A candidate at rung k is promoted to rung k+1 when it is among the best ``promote``
fraction of the candidates that reached rung k, ranked by non-dominated rank of (PSNR, GMACs)
with NSGA-II's crowding distance breaking ties (:func:`zoo.search.pareto.promotion_order`). A
promotion is a trial of a second study in the same storage, ``NAME:rungs``: ``ask()`` creates it,
the candidate's training resumes from its checkpoint at the rung before and extends to this
rung's steps, and ``tell()`` records (PSNR, GMACs) at this rung. A killed promotion is failed and
enqueued again like a killed trial (heartbeats ``heartbeats/rung-N``), and the retry resumes it.
The highest rung is tried first, so that the front at the last rung fills in early.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zoo.errors import ZooError, first_line
from zoo.runlock import waiting_lock
from zoo.search import storage as stores
from zoo.search.agreement import rung_agreement
from zoo.checkpoint import to_half
from zoo.search.candidate import CANDIDATES, Proxy, train_candidate
from zoo.search.pareto import front, promotion_order
from zoo.search.status import RUNG_SUFFIX, SETTINGS_ATTR, TrialRow

DEFAULT_PROMOTE = 1 / 3
MAXIMIZE = (True, False)  # PSNR up, GMACs down


@dataclass
class Rungs:
    steps: tuple[int, ...]  # each rung's training steps, increasing; the first is the proxy's
    promote: float = DEFAULT_PROMOTE  # the fraction of a rung promoted to the next

    def check(self) -> None:
        if len(self.steps) < 2:
            raise ZooError(f"--rungs takes at least two step counts, e.g. 400,1200,3600; got {list(self.steps)}")
        if any(b <= a for a, b in zip(self.steps, self.steps[1:])) or self.steps[0] < 1:
            raise ZooError(f"--rungs must be positive and increasing, got {','.join(map(str, self.steps))}")
        if not 0 < self.promote < 1:
            raise ZooError(f"--promote must be a fraction between 0 and 1, got {self.promote}")

    def stored(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "promote": self.promote}


def parse_rungs(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ZooError(f"--rungs takes step counts separated by commas, e.g. 400,1200,3600; got {text!r}") from None


def stored_rungs(settings: dict[str, Any]) -> Rungs | None:
    value = settings.get("rungs")
    if not value:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("steps"), list)
            and all(isinstance(s, int) and not isinstance(s, bool) for s in value["steps"])
            and isinstance(value.get("promote"), (int, float))):
        raise ZooError("the study's rung settings are damaged (not what zoo stores)")
    rungs = Rungs(tuple(value["steps"]), float(value["promote"]))
    rungs.check()
    return rungs


def open_rung_study(study, *, create: bool = False):
    """The study of ``study``'s promotions, in the same storage (None when there is none yet)."""
    optuna = stores.require_optuna()
    name = study.study_name + RUNG_SUFFIX
    if create:
        return optuna.create_study(storage=study._storage, study_name=name, directions=["maximize", "minimize"],
                                   sampler=optuna.samplers.RandomSampler(), load_if_exists=True)
    if name not in optuna.get_all_study_names(study._storage):
        return None
    return optuna.load_study(study_name=name, storage=study._storage, sampler=optuna.samplers.RandomSampler())


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def results(study, rung_study) -> dict[int, dict[int, dict[str, Any]]]:
    """``{trial: {rung: {"psnr", "gmacs", "curve", "steps"}}}`` of the candidates trained to each
    rung: rung 0 from the study's trials (those stopped early never reached it), later rungs from
    the promotions' study. A record that is not what zoo writes is one line naming it."""
    found: dict[int, dict[int, dict[str, Any]]] = {}
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        if t.state.name != "COMPLETE" or a.get("over_cap") or a.get("stopped") or a.get("psnr") is None:
            continue
        if not (_number(a.get("psnr")) and _number(a.get("gmacs"))):
            raise ZooError(f"trial {t.number}'s record is damaged: its PSNR or GMACs is not a number")
        found[t.number] = {0: {"psnr": float(a["psnr"]), "gmacs": float(a["gmacs"]), "curve": a.get("curve") or [],
                               "steps": a.get("steps")}}
    for t in rung_study.get_trials(deepcopy=False) if rung_study is not None else []:
        a = t.user_attrs
        if t.state.name != "COMPLETE":
            continue
        source, rung = a.get("trial"), a.get("rung")
        if not (isinstance(source, int) and isinstance(rung, int) and _number(a.get("psnr"))
                and _number(a.get("gmacs")) and isinstance(a.get("curve", []), list)):
            raise ZooError(f"promotion {t.number}'s record is damaged (not what zoo writes)")
        if source in found:
            found[source][rung] = {"psnr": float(a["psnr"]), "gmacs": float(a["gmacs"]), "curve": a.get("curve") or [],
                                   "steps": a.get("steps")}
    return found


def claimed(rung_study) -> set[tuple[int, int]]:
    """(trial, rung) of every promotion made, whatever its state: a failed one is not made again
    (a killed one is retried by its own copy)."""
    if rung_study is None:
        return set()
    return {(t.user_attrs["trial"], t.user_attrs["rung"]) for t in rung_study.get_trials(deepcopy=False)
            if isinstance(t.user_attrs.get("trial"), int) and isinstance(t.user_attrs.get("rung"), int)}


def ranked(found: dict[int, dict[int, dict[str, Any]]], rung: int) -> list[int]:
    """The trials that reached ``rung``, best first (non-dominated rank, then crowding distance)."""
    trials = sorted(t for t, r in found.items() if rung in r)
    order = promotion_order([(found[t][rung]["psnr"], found[t][rung]["gmacs"]) for t in trials], MAXIMIZE)
    return [trials[i] for i in order]


def quota(reached: int, promote: float) -> int:
    return math.floor(reached * promote + 1e-9)


def next_promotion(found: dict[int, dict[int, dict[str, Any]]], made: set[tuple[int, int]],
                   rungs: Rungs) -> tuple[int, int] | None:
    """(trial, rung to train it to): from the highest rung down, the first of a rung's best
    ``promote`` fraction not promoted yet; None when there is none."""
    for rung in reversed(range(len(rungs.steps) - 1)):
        best = ranked(found, rung)
        for trial in best[:quota(len(best), rungs.promote)]:
            if (trial, rung + 1) not in made:
                return trial, rung + 1
    return None


class Promoter:
    """Runs one promotion at a time for the search loop (:func:`zoo.search.runner._run`)."""

    def __init__(self, study, rung_study, rungs: Rungs, proxy: Proxy, out: Path, *, journal: bool,
                 heartbeat: int, grace: int) -> None:
        self.study, self.rung_study, self.rungs, self.proxy, self.out = study, rung_study, rungs, proxy, out
        self.journal, self.heartbeat, self.grace = journal, heartbeat, grace
        self.error = ""

    def running(self) -> bool:
        return bool(self.rung_study.get_trials(deepcopy=False, states=(_state("RUNNING"),)))

    def retry_stale(self) -> None:
        if self.journal:
            stores.retry_stale_trials(self.rung_study, self.out, self.grace, prefix="rung")

    def take(self):
        """Ask the promotions' study for the next one (a retried one first); None when there is none."""
        with waiting_lock(self.out / ".promote.lock"):  # one worker decides at a time (on this machine)
            if not self.rung_study.get_trials(deepcopy=False, states=(_state("WAITING"),)):
                pick = next_promotion(results(self.study, self.rung_study), claimed(self.rung_study), self.rungs)
                if pick is None:
                    return None
                trial = self.rung_study.ask()
                trial.set_user_attr("trial", pick[0])
                trial.set_user_attr("rung", pick[1])
            else:
                trial = self.rung_study.ask()  # pops the retried promotion, its records copied
            trial.set_user_attr("worker", stores.worker_identity())
            return trial

    def run_one(self) -> str | None:
        """One promotion: "trained", "failed", or None when none is due."""
        trial = self.take()
        if trial is None:
            return None
        try:
            self.train(trial)
        except KeyboardInterrupt:  # as a killed trial: failed and enqueued again, to resume next time
            self.fail(trial, "interrupted")
            optuna = stores.require_optuna()
            frozen = self.rung_study._storage.get_trial(trial._trial_id)
            optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=stores.MAX_RETRY)(self.rung_study, frozen)
            raise
        except Exception as exc:  # one line on the promotion; the loop goes on (up to a limit)
            self.error = f"{type(exc).__name__}: {first_line(exc)}"
            self.fail(trial, self.error)
            warnings.warn(f"search: a promotion failed: {self.error}", RuntimeWarning, stacklevel=2)
            return "failed"
        return "trained"

    def fail(self, trial, error: str) -> None:
        optuna = stores.require_optuna()
        try:
            trial.set_user_attr("error", error)
            self.rung_study.tell(trial, state=_state("FAIL"))
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker took it for dead first
            pass

    def train(self, trial) -> None:
        source, rung = trial.user_attrs["trial"], trial.user_attrs["rung"]
        main = self.study._storage.get_trial(self.study._storage.get_trial_id_from_study_id_trial_number(
            self.study._study_id, source))
        config, gmacs, candidate = (main.user_attrs.get(k) for k in ("config", "gmacs", "candidate"))
        if not (isinstance(config, dict) and _number(gmacs) and isinstance(candidate, str)
                and "/" not in candidate and candidate not in ("", ".", "..")):
            raise ZooError(f"trial {source}'s record is damaged: no architecture, cost or candidate folder")
        for key, value in (("config", config), ("gmacs", gmacs), ("candidate", candidate),
                           ("steps", self.rungs.steps[rung])):
            trial.set_user_attr(key, value)
        folder = self.out / CANDIDATES / candidate
        beat = (stores.heartbeat(self.out, trial.number, self.heartbeat, prefix="rung") if self.journal
                else contextlib.nullcontext())
        with beat:
            result = train_candidate(folder, config, self.proxy, None, steps=self.rungs.steps[rung],
                                     previous=self.rungs.steps[rung - 1], keep_weights=True)
        for key, value in (("psnr", result.psnr), ("ssim", result.ssim), ("curve", result.curve),
                           ("train_seconds", result.seconds), ("resumed_from", result.resumed_from),
                           ("restarted", result.restarted), ("reused", result.reused)):
            trial.set_user_attr(key, value)
        self.rung_study.tell(trial, [result.psnr, float(gmacs)])


def _state(name: str):
    from optuna.trial import TrialState  # Optuna is loaded by now (the search's storage is open)

    return TrialState[name]


# --- reading: each rung's front, the promotions, the agreement ------------------------------------

def summary(study, rungs_of: Rungs | None = None) -> dict[str, Any] | None:
    """Each rung's candidates, front and promotions, as plain data; None for a study without rungs."""
    settings = study.user_attrs.get(SETTINGS_ATTR) or {}
    rungs = rungs_of or stored_rungs(settings)
    if rungs is None:
        return None
    rung_study = open_rung_study(study)
    found = results(study, rung_study)
    made = claimed(rung_study)
    running = {(t.user_attrs.get("trial"), t.user_attrs.get("rung")) for t in
               (rung_study.get_trials(deepcopy=False, states=(_state("RUNNING"), _state("WAITING")))
                if rung_study is not None else [])}
    levels = []
    for rung, steps in enumerate(rungs.steps):
        trials = sorted(t for t, r in found.items() if rung in r)
        points = [(found[t][rung]["psnr"], found[t][rung]["gmacs"]) for t in trials]
        on_front = sorted((trials[i] for i in front(points, MAXIMIZE)), key=lambda t: found[t][rung]["gmacs"])
        promoted = sorted(t for t, r in made if r == rung + 1)
        levels.append({"rung": rung, "steps": steps, "trained": len(trials),
                       "running": sorted(t for t, r in running if r == rung),
                       "front": [{"trial": t, "psnr": found[t][rung]["psnr"], "gmacs": found[t][rung]["gmacs"]}
                                 for t in on_front],
                       "promoted": promoted})
    return {"steps": list(rungs.steps), "promote": rungs.promote, "rungs": levels,
            "results": {str(t): {str(k): {"psnr": v["psnr"], "gmacs": v["gmacs"]} for k, v in r.items()}
                        for t, r in sorted(found.items())},
            "_found": found}


def judged_at_rungs(study, rows: list[TrialRow]) -> tuple[list[TrialRow], set[int] | None]:
    """With rungs, each trained trial as the highest rung it reached scored it (PSNR and steps there:
    its first-rung PSNR is the proxy's), and the trials at the longest rung any reached, among which
    a front is judged. A study without rungs: its rows unchanged, and None."""
    rungs = stored_rungs(study.user_attrs.get(SETTINGS_ATTR) or {})
    if rungs is None:
        return rows, None
    found = results(study, open_rung_study(study))
    top = max((max(reached) for reached in found.values()), default=0)
    judged = []
    for row in rows:
        reached = found.get(row.number)
        if reached and row.feasible:
            rung = max(reached)
            row = replace(row, psnr=reached[rung]["psnr"], steps=rungs.steps[rung])
        judged.append(row)
    return judged, {t for t, reached in found.items() if top in reached}


def format_rungs(data: dict[str, Any]) -> str:
    lines = [f"rungs {','.join(map(str, data['steps']))} steps, promoting {data['promote']:.3g} of each"]
    for level in data["rungs"]:
        front_text = "; ".join(f"#{p['trial']} {p['psnr']:.2f} dB @ {p['gmacs']:.3g}" for p in level["front"]) or "-"
        promoted = ", ".join(f"#{t}" for t in level["promoted"]) or "none"
        running = f", running {', '.join(f'#{t}' for t in level['running'])}" if level["running"] else ""
        lines.append(f"rung {level['rung']} ({level['steps']} steps): {level['trained']} trained{running}; "
                     f"front {front_text}; promoted {promoted}")
    return "\n".join(lines)


def rung_curves(found: dict[int, dict[int, dict[str, Any]]]) -> dict[int, dict[int, dict[str, Any]]]:
    """The records :func:`zoo.search.agreement.rung_agreement` takes."""
    return {t: {k: {"psnr": v["psnr"], "curve": v["curve"]} for k, v in r.items()} for t, r in found.items()}


def with_rungs(status: dict[str, Any], study) -> dict[str, Any]:
    """``status`` (zoo.search.status.study_status) with each rung's front and promotions."""
    data = summary(study)
    if data is not None:
        data.pop("_found")
        status["rungs"] = data
    return status


def agreement_of(study, *, threshold: float, criterion: str) -> dict[str, Any] | None:
    """The rank agreement of each earlier rung, and of the power law fitted up to it, with the last
    rung (:func:`zoo.search.agreement.rung_agreement`); None for a study without rungs."""
    data = summary(study)
    if data is None:
        return None
    return rung_agreement(rung_curves(data["_found"]), data["steps"], threshold=threshold, criterion=criterion)


def needed_checkpoints(found: dict[int, dict[int, dict[str, Any]]], made: set[tuple[int, int]], rungs: Rungs,
                       trials: int) -> set[int]:
    """The trials whose rung checkpoint a later session may still promote from: not yet at the
    last rung, not yet promoted from where they stand, and within the quota of their rung counted
    as if the whole budget of ``trials`` had reached it. The others (never to be promoted, or
    promoted already) need no checkpoint: a later session trains nothing from it."""
    needed = set()
    reach = trials  # the most candidates that can reach each rung
    for rung in range(len(rungs.steps) - 1):
        best = ranked(found, rung)
        for trial in best[:quota(reach, rungs.promote)]:
            if max(found[trial]) == rung and (trial, rung + 1) not in made:
                needed.add(trial)
        reach = quota(reach, rungs.promote)
    return needed


def pack_checkpoints(study, rung_study, rungs: Rungs, out: Path, trials: int) -> tuple[int, int]:
    """Make a search folder small enough to commit: each needed rung checkpoint in float16 (half
    the bytes; a promotion resumes in float32 from it), the others removed. Returns (kept, removed).
    Run it between sessions, with no worker running."""
    found = results(study, rung_study)
    needed = needed_checkpoints(found, claimed(rung_study), rungs, trials)
    folders = {t.number: t.user_attrs.get("candidate") for t in study.get_trials(deepcopy=False)}
    keep = {out / CANDIDATES / folders[t] for t in needed if isinstance(folders.get(t), str)}
    kept = removed = 0
    for path in sorted((out / CANDIDATES).glob("*/weights-*.safetensors")):
        if path.parent in keep:
            to_half(path)
            kept += 1
        else:
            path.unlink()
            removed += 1
    return kept, removed
