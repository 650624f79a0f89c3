"""``zoo search export``: a chosen trial as a named model config file, with its provenance.

The file (:mod:`zoo.modelfile`) is what ``zoo.create_model``, ``zoo train``, ``zoo distill
--siamese``, ``zoo bench`` and ``zoo export`` take in place of a model name; using it needs no
Optuna.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from zoo.configcheck import check_untrusted_config
from zoo.errors import ZooError
from zoo.machine import runtime_versions, version
from zoo.modelfile import ModelFile, write_model_file
from zoo.search.pareto import front, knee
from zoo.search.status import SETTINGS_ATTR, TrialRow
from zoo.search.objectives import count_cost
from zoo.version import __version__


def choose(rows: list[TrialRow], *, trial: int | None = None, use_knee: bool = False,
           max_gmacs: float | None = None, among: set[int] | None = None) -> TrialRow:
    """A trial by number, the front's knee, or the best PSNR at most ``max_gmacs``; the last two
    among the trials ``among`` only (a search with rungs: those at its longest rung), if given."""
    if sum(x is not None and x is not False for x in (trial, use_knee or None, max_gmacs)) != 1:
        raise ZooError("choose one of --trial N, --knee, --max-gmacs X")
    feasible = [r for r in rows if r.feasible and (among is None or r.number in among)]
    if trial is not None:
        row = next((r for r in rows if r.number == trial), None)
        if row is None:
            raise ZooError(f"no trial {trial}; the study has trials 0 to {len(rows) - 1}")
        if not row.feasible:
            why = "over a cap" if row.over_cap else f"{row.state.lower()}"
            raise ZooError(f"trial {trial} has no trained result ({why})")
        return row
    if not feasible:
        raise ZooError("the study has no trained trial yet")
    scores = {r.number: r.scores() for r in feasible}
    if use_knee:
        # The front of (PSNR, GMACs) among these rows: with rungs, the longest rung's, not the
        # first's that the study's own values (and ``on_front``) hold.
        points = [scores[r.number] for r in feasible]
        on_front = [feasible[i] for i in front(points, (True, False))]
        return on_front[knee([scores[r.number] for r in on_front], (True, False))]
    assert max_gmacs is not None  # the one choice left (checked above)
    fitting = [r for r in feasible if scores[r.number][1] <= max_gmacs]
    if not fitting:
        cheapest = min(scores[r.number][1] for r in feasible)
        raise ZooError(f"no trained trial at most {max_gmacs:g} GMACs/MP (the cheapest has {cheapest:.3g})")
    return max(fitting, key=lambda r: (scores[r.number][0], -scores[r.number][1]))


def versions() -> dict[str, str]:
    found = {"zoo": __version__, **runtime_versions()}
    optuna = version("optuna")
    if optuna:
        found["optuna"] = optuna
    return found


def export_trial(study, location, row: TrialRow, name: str, output: Path, *, how: str) -> ModelFile:
    """Write ``row``'s architecture to ``output`` as model config file ``name``."""
    if not name or any(c in name for c in "/\\") or name.strip() != name:
        raise ZooError(f"--name must be a plain name (no slashes or surrounding spaces), got {name!r}")
    settings: dict[str, Any] = study.user_attrs.get(SETTINGS_ATTR) or {}
    # A study's records are input like a weights file's metadata (a folder may come from anyone):
    # the architecture is checked and built on the meta device within the limits first.
    source = f"trial {row.number} of {location.url}"
    if not isinstance(row.config, dict):
        raise ZooError(f"{source} records no architecture (its 'config' is {type(row.config).__name__})")
    check_untrusted_config("mwnet", row.config, source)
    cost = count_cost(row.config)  # counted again: the file's numbers are this zoo's, checked by a test
    provenance = {
        "study": study.study_name, "storage": location.url, "trial": row.number, "chosen_by": how,
        "values": {"psnr": row.psnr, "gmacs": row.gmacs, "mparams": row.mparams, "latency_ms": row.latency_ms},
        "steps": row.steps,  # of the training that scored it: with rungs, the highest it reached
        "gmacs_per_megapixel": cost.gmacs, "parameters": cost.params, "seed": row.seed,
        "proxy": settings.get("proxy"), "sampler": settings.get("sampler"), "space": settings.get("space_name"),
        "space_hash": settings.get("space_hash"), "genes": row.genes, "stopped_early": bool(row.stopped),
        "versions": versions(), "exported": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    model_file = ModelFile(name, "mwnet", row.config, provenance)
    write_model_file(output, model_file)
    return model_file
