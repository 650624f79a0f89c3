"""How far a benchmark's repeated measurements disagree, and when too far to trust.

The spread of a figure is the interquartile range of its runs over their median: the middle half
of the runs lies within it. It is robust to one stray run (a page fault, a timer tick), which
moves neither the median nor the quartiles, but not to a machine that was busy for part of the
benchmark, which is what makes a comparison wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median, quantiles

SPREAD_LIMIT = 0.10  # above this a figure is flagged: its runs disagree by more than a tenth


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
