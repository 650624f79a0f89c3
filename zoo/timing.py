"""The one timer: calls timed side by side in rotating blocks, and how far their times disagree.

``zoo bench``, ``auto``'s measurement (:mod:`zoo.export.engines`) and the scripts in
``benchmarks/`` all time with :func:`rotate`. Each round every call takes one turn, the order
turning by one each round, so that no call always runs first or right after another, and a machine
busy for a while slows them all alike. A turn is a block: ``settle`` untimed calls, then ``block``
timed calls in a row, as a real job runs one engine. Not calls alternating one by one: an engine's
idle threads keep spinning for a while after its call, and the next engine's first call runs beside
them (PyTorch measured 2x slower right after onnxruntime).

The spread of a figure is the interquartile range of its runs over their median: robust to one
stray run (a page fault, a timer tick), not to a machine that was busy for part of the run, which
is what makes a comparison wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median, quantiles

SPREAD_LIMIT = 0.10  # above this a figure is flagged: its runs disagree by more than a tenth
Call = Callable[[], object]


def time_call(fn: Call, warmup: int, runs: int, sync: Callable[[], object] = lambda: None) -> list[float]:
    """Seconds per call of ``fn`` over ``runs`` calls after ``warmup`` untimed ones; ``sync`` waits
    for the device (a GPU's queue) inside each timing."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def warm(calls: Mapping[str, Call], times: int) -> dict[str, float]:
    """Make each call ``times`` times untimed (its first calls build kernels and buffers); the
    seconds of each one's last call, the nearest to a timed one (0 when ``times`` is 0)."""
    last = {}
    for name, call in calls.items():
        seconds = [0.0]
        for _ in range(times):
            seconds = time_call(call, 0, 1)
        last[name] = seconds[-1]
    return last


def turns(names: Sequence[str], rounds: int) -> list[list[str]]:
    """The order of each round: the names turned by one more each round, so that over
    ``len(names)`` rounds each takes every position once."""
    names = list(names)
    return [names[r % len(names):] + names[:r % len(names)] for r in range(rounds)] if names else []


@dataclass
class Timings:
    seconds: dict[str, list[float]] = field(default_factory=dict)  # every timed call, per name, in the order taken
    failed: dict[str, Exception] = field(default_factory=dict)  # a call that raised leaves the rounds (catch=True)

    def medians(self) -> dict[str, float]:
        """The median seconds per call of each name that was timed."""
        return {name: median(values) for name, values in self.seconds.items() if values}


def rotate(calls: Mapping[str, Call], rounds: int, *, block: int = 3, settle: int = 1,
           before: Callable[[str], object] | None = None, catch: bool = False) -> Timings:
    """Time ``calls`` side by side: ``rounds`` rounds in turning order (:func:`turns`), each call's
    turn ``settle`` untimed calls then ``block`` timed ones (module docstring). ``before(name)``
    runs at the start of each turn, untimed (``zoo bench`` measures the conv peak there). With
    ``catch``, a call (or its ``before``) that raises leaves the rounds and is kept in
    ``failed``; the others go on. Warm the calls first (:func:`warm`)."""
    timings = Timings({name: [] for name in calls})
    for order in turns(list(calls), rounds):
        for name in order:
            if name in timings.failed:
                continue
            try:
                if before is not None:
                    before(name)
                time_call(calls[name], settle, 0)
                timings.seconds[name] += time_call(calls[name], 0, block)
            except Exception as exc:
                if not catch:
                    raise
                timings.failed[name] = exc
    return timings


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """The first and third quartiles (inclusive: between the runs' own values)."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = quantiles(values, n=4, method="inclusive")
    return q1, q3


def spread(values: Sequence[float]) -> float | None:
    """Interquartile range over median; None for a single run (nothing to compare)."""
    if len(values) < 2:
        return None
    q1, q3 = quartiles(values)
    middle = median(values)
    return (q3 - q1) / middle if middle else None


def too_wide(value: float | None) -> bool:
    return value is not None and value > SPREAD_LIMIT
