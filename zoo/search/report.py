"""``zoo search report``: the front as a picture, the history, a table, a CSV of every trial, the
total cost and the hypervolume of the PSNR-GMACs front."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.fileio import atomic_path
from zoo.search.pareto import front, hypervolume
from zoo.search.status import SETTINGS_ATTR, TrialRow, study_status, trial_rows
from zoo.search.agreement import DEFAULT_THRESHOLD, format_agreement
from zoo.search.objectives import noisy_psnr
from zoo.search.rungs import agreement_of, format_rungs
from zoo.search.rungs import summary as summary_of_rungs
from zoo.search.space import POSITIONS
from zoo.table import format_table as table

CSV_FIELDS = ["number", "state", "seed", "on_front", "feasible", "psnr", "gmacs", "mparams", "latency_ms", "steps",
              "seconds", "train_seconds", "stopped_at", "over_cap", "reused", "resumed_from", "retry_of", "error",
              "architecture"]
MAXIMIZE_2D = (True, False)  # PSNR up, GMACs down


def describe(config: dict[str, Any] | None) -> str:
    """A one-line architecture: widths, activation, then each distinct group spec with the
    groups that share it (mirrored groups read ``down1=up3``)."""
    if not config:
        return "-"
    specs: dict[str, list[str]] = {}
    for position, group in zip(POSITIONS, config["groups"]):
        options = ",".join(f"{k}={v}" for k, v in sorted(group.get("options", {}).items()))
        text = f"{group['block']}x{group['depth']}{'+tail' if group.get('tail') else ''}{f'({options})' if options else ''}"
        specs.setdefault(text, []).append(position)
    groups = " ".join(f"{'='.join(positions)}:{text}" for text, positions in specs.items())
    return f"{'/'.join(map(str, config['widths']))} {config['act']} {groups}"


def reference_point(rows: list[TrialRow], noisy_psnr: float, max_gmacs: float | None) -> tuple[float, float]:
    """Worse than anything of interest: the noisy input's PSNR (doing nothing; or the worst trained
    PSNR, when a proxy too short to beat it leaves every trial below), and the GMACs cap, or the
    largest GMACs trained."""
    feasible = [r for r in rows if r.feasible]
    psnr = min([noisy_psnr] + [r.scores()[0] for r in feasible])
    gmacs = max_gmacs if max_gmacs is not None else max((r.scores()[1] for r in feasible), default=1.0)
    return float(psnr), float(gmacs)


def front_hypervolume(rows: list[TrialRow], reference: tuple[float, float]) -> float:
    points = [r.scores() for r in rows if r.feasible]
    return hypervolume(points, reference, MAXIMIZE_2D)


def hypervolume_history(rows: list[TrialRow], reference: tuple[float, float]) -> list[tuple[int, float]]:
    """The front's hypervolume after each finished trial, in trial order."""
    history: list[tuple[int, float]] = []
    points: list[tuple[float, float]] = []
    for r in sorted(rows, key=lambda r: r.number):
        if r.feasible:
            points.append(r.scores())
        if r.state == "COMPLETE":
            history.append((r.number, hypervolume(points, reference, MAXIMIZE_2D)))
    return history


def write_csv(rows: list[TrialRow], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS + sorted({g for r in rows for g in r.genes}))
        writer.writeheader()
        for r in rows:
            writer.writerow({"number": r.number, "state": r.state, "seed": r.seed or "", "on_front": r.on_front,
                             "feasible": r.feasible, "psnr": _blank(r.psnr), "gmacs": _blank(r.gmacs),
                             "mparams": _blank(r.mparams), "latency_ms": _blank(r.latency_ms), "steps": _blank(r.steps),
                             "seconds": _blank(r.seconds), "train_seconds": _blank(r.train_seconds),
                             "stopped_at": r.stopped["step"] if r.stopped else "",
                             "over_cap": "; ".join(r.over_cap or []), "reused": r.reused,
                             "resumed_from": r.resumed_from, "retry_of": _blank(r.retry_of), "error": r.error or "",
                             "architecture": describe(r.config), **r.genes})


def _blank(value: Any) -> Any:
    return "" if value is None else value


def format_table(rows: list[TrialRow]) -> str:
    shown = sorted(rows, key=lambda r: (not r.on_front, r.gmacs if r.gmacs is not None else float("inf"), r.number))
    body = []
    for r in shown:
        flags = [f for f, on in (("front", r.on_front), (f"seed:{r.seed}", r.seed), ("stopped", r.stopped),
                                 ("over cap", r.over_cap), ("reused", r.reused),
                                 (f"retry of {r.retry_of}", r.retry_of is not None)) if on]
        body.append([r.number, r.state.lower(), _fmt(r.psnr if r.feasible else None, ".2f"), _fmt(r.gmacs, ".2f"),
                     _fmt(r.mparams, ".3f"), _fmt(r.steps, "d"), _fmt(r.seconds, ".1f"), ", ".join(flags),
                     describe(r.config)])
    return table(["trial", "state", "PSNR", "GMACs/MP", "params M", "steps", "wall s", "notes", "architecture"],
                 body, right=(0, 2, 3, 4, 5, 6))


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def plot_front(rows: list[TrialRow], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    feasible = [r for r in rows if r.feasible]
    dominated = [r for r in feasible if not r.on_front]
    on_front = sorted((r for r in feasible if r.on_front), key=lambda r: r.scores()[1])

    def gmacs(group: list[TrialRow]) -> list[float]:
        return [r.scores()[1] for r in group]

    def psnr(group: list[TrialRow]) -> list[float]:
        return [r.scores()[0] for r in group]

    stopped = [r for r in dominated if r.stopped]
    trained = [r for r in dominated if not r.stopped]
    ax.scatter(gmacs(trained), psnr(trained), c="0.75", s=24, label="dominated")
    if stopped:
        ax.scatter(gmacs(stopped), psnr(stopped), marker="x", c="0.55", s=24,
                   label="stopped early (PSNR when stopped)")
    if on_front:
        ax.step(gmacs(on_front), psnr(on_front), where="post", c="tab:red", lw=1, alpha=0.6)
        ax.scatter(gmacs(on_front), psnr(on_front), c="tab:red", s=36, zorder=3,
                   label="Pareto front")
        for r in on_front:
            ax.annotate(str(r.number), r.scores()[::-1], textcoords="offset points", xytext=(4, -10), fontsize=7)
    seeds = [r for r in feasible if r.seed]
    for r in seeds:
        ax.scatter(gmacs([r]), psnr([r]), marker="*", s=160, facecolors="none", edgecolors="tab:blue", zorder=4)
        ax.annotate(str(r.seed), r.scores()[::-1], textcoords="offset points", xytext=(6, 4), fontsize=8, color="tab:blue")
    if seeds:
        ax.scatter([], [], marker="*", s=120, facecolors="none", edgecolors="tab:blue", label="seed (known architecture)")
    over = sum(1 for r in rows if r.over_cap)
    ax.set(xlabel="GMACs per megapixel", ylabel="validation PSNR after the proxy (dB)",
           title=title + (f" ({over} over a cap, not trained)" if over else ""))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def plot_history(rows: list[TrialRow], reference: tuple[float, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    feasible = sorted((r for r in rows if r.feasible), key=lambda r: r.number)
    left.scatter([r.number for r in feasible], [r.scores()[0] for r in feasible],
                 c=["tab:red" if r.on_front else "0.6" for r in feasible], s=18)
    best, running = [], float("-inf")
    for r in feasible:
        running = max(running, r.scores()[0])
        best.append(running)
    left.plot([r.number for r in feasible], best, c="tab:red", lw=1, label="best so far")
    left.set(xlabel="trial", ylabel="PSNR (dB)", title="PSNR per trial (red: on the front)")
    left.legend(fontsize=8)
    history = hypervolume_history(rows, reference)
    if history:
        right.plot(*zip(*history), marker=".", c="tab:green")
    right.set(xlabel="trial", ylabel="hypervolume (dB x GMACs/MP)",
              title=f"front hypervolume (reference {reference[0]:.2f} dB, {reference[1]:.3g} GMACs/MP)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def build_report(study, location, to: Path | None, reference: tuple[float, float] | None = None, *,
                 threshold: float = DEFAULT_THRESHOLD, criterion: str = "lower") -> dict[str, Any]:
    """Write the report files into ``to`` (default: the run folder's ``report/``); return the
    summary (status, hypervolume, files)."""
    rows = trial_rows(study)
    if not any(r.state == "COMPLETE" for r in rows):
        raise ZooError(f"study {study.study_name!r} has no finished trial yet")
    settings = study.user_attrs.get(SETTINGS_ATTR) or {}
    if to is None:
        if location.folder is None:
            raise ZooError("a search given by URL has no run folder: say where the report goes with --to DIR")
        to = location.folder / "report"
    if reference is None:
        val = (settings.get("proxy") or {}).get("val") or "synthval"
        reference = reference_point(rows, noisy_psnr(val), settings.get("max_gmacs"))
    try:
        to.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot make {to}: {exc.strerror or exc}") from None
    files = {"front": to / "front.png", "history": to / "history.png", "csv": to / "trials.csv",
             "table": to / "table.txt", "summary": to / "summary.json"}
    title = f"{study.study_name}: {settings.get('sampler', '?')}, {sum(r.feasible for r in rows)} trained"
    plot_front(rows, files["front"], title)
    plot_history(rows, reference, files["history"])
    write_csv(rows, files["csv"])
    table = format_table(rows)
    summary = study_status(study, location)
    summary.update(hypervolume=front_hypervolume(rows, reference), reference={"psnr": reference[0], "gmacs": reference[1]},
                   files={k: str(v) for k, v in files.items()})
    with atomic_path(files["table"]) as tmp:
        tmp.write_text(table + "\n")
    with atomic_path(files["summary"]) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, allow_nan=False, default=str) + "\n")
    rungs = summary_of_rungs(study)
    agreement = agreement_of(study, threshold=threshold, criterion=criterion) if rungs is not None else None
    if rungs is not None and agreement is not None:  # each rung's front and promotions, and how each rung ranks
        rungs.pop("_found")
        files.update(rungs_md=to / "rungs.md", rungs_json=to / "rungs.json")
        summary.update(rungs=rungs, agreement=agreement, files={k: str(v) for k, v in files.items()})
        text = "\n".join(["# Rungs", "", "```", format_rungs(rungs), "```", "", "## Rank agreement", "",
                          format_agreement(agreement), ""])
        with atomic_path(files["rungs_md"]) as tmp:
            tmp.write_text(text)
        with atomic_path(files["rungs_json"]) as tmp:
            tmp.write_text(json.dumps({"rungs": rungs, "agreement": agreement}, indent=2, allow_nan=False) + "\n")
        table += "\n\n" + format_rungs(rungs) + "\n\n" + format_agreement(agreement)
    with atomic_path(files["summary"]) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, allow_nan=False, default=str) + "\n")
    summary["table"] = table
    return summary


def front_points(rows: list[TrialRow]) -> list[tuple[float, float]]:
    """The (PSNR, GMACs) points of the feasible trials' front."""
    points = [r.scores() for r in rows if r.feasible]
    return [points[i] for i in front(points, MAXIMIZE_2D)]
