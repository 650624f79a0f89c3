"""A study read back as plain rows: one per trial, the front, the budget and the cost."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from zoo.errors import ZooError
from zoo.search.pareto import front

SETTINGS_ATTR = "zoo.search"  # study user attribute: the settings every worker must share
BUDGET_ATTR = "zoo.trials"  # the budget the latest `run` asked for
RUNG_SUFFIX = ":rungs"  # the study of a search's promotions (zoo.search.rungs) is named NAME:rungs


@dataclass
class TrialRow:
    number: int
    state: str  # COMPLETE, RUNNING, WAITING, FAIL, PRUNED
    seed: str | None  # the known architecture it was seeded with
    config: dict[str, Any] | None
    genes: dict[str, Any]
    gmacs: float | None
    mparams: float | None
    psnr: float | None
    latency_ms: float | None
    steps: int | None
    seconds: float | None  # the trial's wall time (start to finish)
    train_seconds: float | None  # the candidate's training time, resumes included
    feasible: bool  # within the caps and trained
    over_cap: list[str] | None
    stopped: dict[str, Any] | None  # the early-stopping record
    reused: bool
    resumed_from: int
    retry_of: int | None
    error: str | None
    on_front: bool = False
    values: list[float] | None = field(default=None, repr=False)

    def scores(self) -> tuple[float, float]:
        """(PSNR, GMACs) of a feasible trial, which has both (a record without them is damaged)."""
        if self.psnr is None or self.gmacs is None:
            raise ZooError(f"trial {self.number}'s record is damaged: a trained trial without its PSNR or GMACs")
        return self.psnr, self.gmacs


_NUMBERS = ("gmacs", "mparams", "psnr", "latency_ms", "steps", "train_seconds", "resumed_from")


def _checked_attrs(trial) -> dict[str, Any]:
    """A trial's records, checked to be what zoo writes (a study folder may come from anyone):
    numbers are numbers, the architecture a table of groups. One line naming the trial if not."""
    attrs = trial.user_attrs
    for key in _NUMBERS:
        value = attrs.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ZooError(f"trial {trial.number}'s record is damaged: {key} is {type(value).__name__}, not a number")
    config = attrs.get("config")
    if config is not None and not (isinstance(config, dict) and isinstance(config.get("groups"), list)
                                   and all(isinstance(g, dict) for g in config["groups"])
                                   and isinstance(config.get("widths"), list)):
        raise ZooError(f"trial {trial.number}'s record is damaged: its architecture is not one zoo writes")
    for key in ("over_cap", "curve"):
        if attrs.get(key) is not None and not isinstance(attrs[key], list):
            raise ZooError(f"trial {trial.number}'s record is damaged: {key} is {type(attrs[key]).__name__}, not a list")
    if attrs.get("stopped") is not None and not isinstance(attrs["stopped"], dict):
        raise ZooError(f"trial {trial.number}'s record is damaged: stopped is {type(attrs['stopped']).__name__}")
    return attrs


def trial_rows(study) -> list[TrialRow]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        a = _checked_attrs(t)
        seconds = None
        if t.datetime_start is not None and t.datetime_complete is not None:
            seconds = round((t.datetime_complete - t.datetime_start).total_seconds(), 2)
        feasible = t.state.name == "COMPLETE" and not a.get("over_cap") and a.get("psnr") is not None
        rows.append(TrialRow(
            number=t.number, state=t.state.name, seed=a.get("seed"), config=a.get("config"), genes=dict(t.params),
            gmacs=a.get("gmacs"), mparams=a.get("mparams"), psnr=a.get("psnr"), latency_ms=a.get("latency_ms"),
            steps=a.get("steps"), seconds=seconds, train_seconds=a.get("train_seconds"), feasible=feasible,
            over_cap=a.get("over_cap"), stopped=a.get("stopped"), reused=bool(a.get("reused")),
            resumed_from=int(a.get("resumed_from") or 0), retry_of=t.system_attrs.get("failed_trial"),
            error=a.get("error"), values=list(t.values) if t.values is not None else None))
    mark_front(rows, study_objectives(study))
    return rows


def study_objectives(study) -> list[str]:
    settings = study.user_attrs.get(SETTINGS_ATTR) or {}
    return list(settings.get("objectives") or study.metric_names or ["psnr", "gmacs"])


def mark_front(rows: list[TrialRow], objectives: list[str]) -> None:
    """The Pareto front of the feasible trials, over all objectives."""
    candidates = [r for r in rows if r.feasible and r.values is not None]
    maximize = [o == "psnr" for o in objectives]
    for i in front([r.values for r in candidates if r.values is not None], maximize):  # all of them
        candidates[i].on_front = True


def study_status(study, location) -> dict[str, Any]:
    """Counts, budget, cost and the front, as plain data (``zoo search status --json``)."""
    rows = trial_rows(study)
    settings = study.user_attrs.get(SETTINGS_ATTR) or {}
    states: dict[str, int] = {}
    for r in rows:
        states[r.state] = states.get(r.state, 0) + 1
    counted = [r for r in rows if r.state == "RUNNING" or (r.state == "COMPLETE" and r.feasible and not r.reused)]
    front_rows = sorted((r for r in rows if r.on_front), key=lambda r: r.gmacs or 0.0)
    return {
        "study": study.study_name,
        "storage": location.url,
        "objectives": study_objectives(study),
        "sampler": settings.get("sampler"),
        "space": settings.get("space_name"),
        "space_hash": settings.get("space_hash"),
        "proxy": settings.get("proxy"),
        "caps": {"max_gmacs": settings.get("max_gmacs"), "max_params": settings.get("max_params")},
        "budget": study.user_attrs.get(BUDGET_ATTR),
        "budget_used": len(counted),
        "trials": len(rows),
        "states": states,
        "trained": sum(1 for r in rows if r.state == "COMPLETE" and r.feasible and not r.reused),
        "stopped_early": sum(1 for r in rows if r.stopped),
        "over_cap": sum(1 for r in rows if r.over_cap),
        "reused": sum(1 for r in rows if r.reused),
        "retried": sum(1 for r in rows if r.retry_of is not None),
        "cost_seconds": round(sum(r.seconds or 0.0 for r in rows), 1),
        "front": [{"trial": r.number, "psnr": r.psnr, "gmacs": r.gmacs, "mparams": r.mparams,
                   "latency_ms": r.latency_ms, "seed": r.seed} for r in front_rows],
    }


def row_dict(row: TrialRow) -> dict[str, Any]:
    return asdict(row)
