"""How well a cheap measurement ranks candidates as the longest rung does: Spearman's rank
correlation with a bootstrap confidence interval, the cheapest rung (or predictor) that agrees
well enough, and a learning-curve predictor (a power law fitted to a candidate's validations up to
a rung, extrapolated to the last rung's step) at the same cost as that rung.

Plain numbers and NumPy only: no Optuna, no SciPy (the tests check the values against SciPy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DEFAULT_THRESHOLD = 0.6  # Spearman a proxy needs to be ranked by (issue 27's target)
CRITERIA = ("lower", "point")  # judged on the bootstrap interval's lower bound, or the point estimate
BOOTSTRAP = 2000
LEVEL = 0.95
MIN_POINTS = 3  # fewer candidates give no correlation worth a number
EXPONENTS = np.geomspace(0.02, 4.0, 240)  # the power law's exponents tried (each with a linear fit of a, b)


def average_ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank (as Spearman's coefficient takes them)."""
    x = np.asarray(values, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation (Pearson's of the average ranks); NaN when either side is
    constant or there are fewer than two pairs."""
    if len(x) != len(y):
        raise ValueError(f"spearman: {len(x)} values against {len(y)}")
    if len(x) < 2:
        return math.nan
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    scale = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return math.nan if scale == 0 else float((rx * ry).sum() / scale)


def bootstrap_interval(x: Sequence[float], y: Sequence[float], *, resamples: int = BOOTSTRAP, level: float = LEVEL,
                       seed: int = 0) -> tuple[float, float]:
    """The percentile bootstrap interval of Spearman's coefficient: pairs drawn with replacement;
    a resample whose ranks are all tied on one side has no coefficient and is left out."""
    if len(x) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, len(xs), len(xs))
        value = spearman(xs[pick], ys[pick])
        if not math.isnan(value):
            values.append(value)
    if not values:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


# --- the learning-curve predictor -------------------------------------------------------------------

@dataclass
class PowerLaw:
    """``psnr(step) = a - b * step ** -c``."""

    a: float
    b: float
    c: float
    residual: float  # root mean square of the fit's residuals (dB)

    def __call__(self, step: float) -> float:
        return self.a - self.b * step ** -self.c


def fit_power_law(steps: Sequence[float], values: Sequence[float]) -> PowerLaw | None:
    """Least squares over ``c`` on a grid (for each ``c`` the best ``a`` and ``b`` are a linear
    fit); None with fewer than three points or a non-finite value. A curve that falls (``b`` < 0)
    is fitted as it is: the extrapolation then falls too, which is what the data say."""
    s = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    if len(s) < 3 or len(np.unique(s)) < 3 or not (np.isfinite(s).all() and np.isfinite(v).all()) or (s <= 0).any():
        return None
    best: PowerLaw | None = None
    for c in EXPONENTS:
        basis = np.stack([np.ones_like(s), -(s ** -c)], axis=1)
        (a, b), *_ = np.linalg.lstsq(basis, v, rcond=None)
        rms = float(np.sqrt(np.mean((basis @ np.array([a, b]) - v) ** 2)))
        if best is None or rms < best.residual - 1e-12:
            best = PowerLaw(float(a), float(b), float(c), rms)
    return best


def extrapolate(curve: Sequence[Sequence[float]], up_to: int, target: int) -> float | None:
    """The power law fitted to the validations of ``curve`` ([step, PSNR] pairs) at steps up to
    ``up_to``, at step ``target``; None when it cannot be fitted (fewer than three validations)."""
    points = [(float(s), float(v)) for s, v in curve if s <= up_to]
    law = fit_power_law([p[0] for p in points], [p[1] for p in points])
    return None if law is None else law(float(target))


# --- agreement over rungs ----------------------------------------------------------------------------

@dataclass
class Agreement:
    """One cheap measurement against the last rung, over the candidates that have both."""

    name: str  # "rung 0 (400 steps)", "power law at rung 0"
    kind: str  # "rung" or "power-law"
    rung: int
    steps: int  # the training a candidate needs for it (its cost)
    points: int
    spearman: float
    low: float
    high: float
    good: bool = False  # meets the threshold on the stated criterion

    def as_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def measure(name: str, kind: str, rung: int, steps: int, pairs: list[tuple[float, float]], *, threshold: float,
            criterion: str, resamples: int = BOOTSTRAP, seed: int = 0) -> Agreement:
    x, y = [p[0] for p in pairs], [p[1] for p in pairs]
    if len(pairs) < MIN_POINTS:
        rho, (low, high) = math.nan, (math.nan, math.nan)
    else:
        rho, (low, high) = spearman(x, y), bootstrap_interval(x, y, resamples=resamples, seed=seed)
    judged = low if criterion == "lower" else rho
    return Agreement(name, kind, rung, steps, len(pairs), rho, low, high,
                     good=not math.isnan(judged) and judged >= threshold)


def rung_agreement(results: dict[int, dict[int, dict[str, Any]]], rungs: Sequence[int], *,
                   threshold: float = DEFAULT_THRESHOLD, criterion: str = "lower", resamples: int = BOOTSTRAP,
                   seed: int = 0) -> dict[str, Any]:
    """``results[candidate][rung] = {"psnr": ..., "curve": [[step, psnr], ...]}``; ``rungs`` the
    rungs' steps. For each rung before the last: Spearman of its PSNR with the last rung's, and
    of the power law fitted up to it (extrapolated to the last rung's step), over the candidates
    that reached the last rung. The chosen proxy is the cheapest that is good enough."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    last = len(rungs) - 1
    finished = {c: r for c, r in results.items() if last in r}
    rows: list[Agreement] = []
    for k in range(last):
        measured = [(r[k]["psnr"], r[last]["psnr"]) for r in finished.values() if k in r]
        rows.append(measure(f"rung {k} ({rungs[k]} steps)", "rung", k, rungs[k], measured, threshold=threshold,
                            criterion=criterion, resamples=resamples, seed=seed))
        predicted = []
        for r in finished.values():
            curve = (r.get(k) or r[last]).get("curve") or []  # the validations a candidate made up to rung k
            value = extrapolate(curve, rungs[k], rungs[last])
            if value is not None and math.isfinite(value):
                predicted.append((value, r[last]["psnr"]))
        rows.append(measure(f"power law fitted up to rung {k}", "power-law", k, rungs[k], predicted,
                            threshold=threshold, criterion=criterion, resamples=resamples, seed=seed))
    good = [a for a in rows if a.good]
    chosen = min(good, key=lambda a: (a.steps, a.kind != "rung")) if good else None
    return {"threshold": threshold, "criterion": criterion, "level": LEVEL, "resamples": resamples,
            "last_rung": {"rung": last, "steps": rungs[last] if rungs else None, "candidates": len(finished)},
            "rows": [a.as_dict() for a in rows], "chosen": chosen.as_dict() if chosen else None}


def format_agreement(agreement: dict[str, Any]) -> str:
    """The agreement as Markdown lines (the report's section)."""
    criterion = "the lower bound of its 95% bootstrap interval" if agreement["criterion"] == "lower" else "its point estimate"
    last = agreement["last_rung"]
    lines = [f"Rank agreement with the last rung ({last['steps']} steps) over the {last['candidates']} candidates that "
             f"reached it: Spearman's coefficient, {int(agreement['level'] * 100)}% percentile bootstrap interval "
             f"({agreement['resamples']} resamples). Good enough: {criterion} at least {agreement['threshold']:g}.", "",
             "| proxy | steps (cost) | candidates | Spearman | interval | good enough |",
             "| --- | ---: | ---: | ---: | --- | --- |"]

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    for row in agreement["rows"]:
        lines.append(f"| {row['name']} | {row['steps']} | {row['points']} | {number(row['spearman'])} | "
                     f"{number(row['low'])} to {number(row['high'])} | {'yes' if row['good'] else 'no'} |")
    chosen = agreement["chosen"]
    lines += ["", f"Chosen proxy: {chosen['name']} (the cheapest good enough)." if chosen else
              "Chosen proxy: none is good enough; rank by the last rung."]
    return "\n".join(lines)
