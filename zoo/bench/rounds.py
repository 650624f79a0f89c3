"""Round-robin timing: every backend and the conv-peak reference take one run per round, so a
machine that gets busy for a while slows them all alike instead of whichever ran then."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from zoo.bench.peak import ConvPeak, time_call


@dataclass
class Timings:
    seconds: dict[str, list[float]] = field(default_factory=dict)  # per backend, one per round
    peaks: dict[str, list[float]] = field(default_factory=dict)  # the conv peak measured just before each run
    failed: dict[str, Exception] = field(default_factory=dict)  # a backend that raised leaves the rounds


def interleave(calls: dict[str, Callable[[], None]], rounds: int, peak: ConvPeak | Mapping[str, ConvPeak]) -> Timings:
    """Time each of ``calls`` once per round, each run beside a fresh peak measurement (one peak
    for all, or each backend's own by name). The order turns by one each round, so no backend
    always runs first (or right after another)."""
    peaks = peak if isinstance(peak, Mapping) else {name: peak for name in calls}
    timings = Timings({name: [] for name in calls}, {name: [] for name in calls})
    names = list(calls)
    for round_ in range(rounds if names else 0):
        turn = round_ % len(names)
        for name in names[turn:] + names[:turn]:
            if name in timings.failed:
                continue
            try:
                timings.peaks[name].append(peaks[name].measure())
                timings.seconds[name] += time_call(calls[name], 0, 1, peaks[name].sync)
            except Exception as exc:  # reported as that backend's failure; the others go on
                timings.failed[name] = exc
    return timings
