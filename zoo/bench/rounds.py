"""``zoo bench``'s rounds: every engine takes one timed call per round in :func:`zoo.timing.rotate`'s
turning order, each beside a fresh measurement of its conv peak, so that a machine that gets busy
for a while slows them all alike instead of whichever ran then."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from zoo.bench.peak import ConvPeak
from zoo.timing import rotate


@dataclass
class Timings:
    seconds: dict[str, list[float]] = field(default_factory=dict)  # per engine, one per round
    peaks: dict[str, list[float]] = field(default_factory=dict)  # the conv peak measured just before each run
    failed: dict[str, Exception] = field(default_factory=dict)  # an engine that raised leaves the rounds


def interleave(calls: dict[str, Callable[[], None]], rounds: int, peak: ConvPeak | Mapping[str, ConvPeak]) -> Timings:
    """Time each of ``calls`` once per round (blocks of one call, warmed beforehand), each run beside
    a fresh peak measurement (one peak for all, or each engine's own by name)."""
    peaks = peak if isinstance(peak, Mapping) else {name: peak for name in calls}
    measured: dict[str, list[float]] = {name: [] for name in calls}
    synced = {name: (lambda call=call, sync=peaks[name].sync: (call(), sync())) for name, call in calls.items()}
    timed = rotate(synced, rounds, block=1, settle=0, before=lambda name: measured[name].append(peaks[name].measure()),
                   catch=True)
    return Timings(timed.seconds, measured, timed.failed)
