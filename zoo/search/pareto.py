"""Pareto fronts, hypervolume and the knee, on plain numbers (no Optuna needed).

Points are tuples of objective values; ``directions`` says for each whether it is maximised.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = Sequence[float]


def _as_loss(point: Point, maximize: Sequence[bool]) -> tuple[float, ...]:
    return tuple(-v if up else v for v, up in zip(point, maximize))


def dominates(a: Point, b: Point, maximize: Sequence[bool]) -> bool:
    """``a`` is at least as good as ``b`` in every objective and better in one."""
    la, lb = _as_loss(a, maximize), _as_loss(b, maximize)
    return all(x <= y for x, y in zip(la, lb)) and any(x < y for x, y in zip(la, lb))


def front(points: Sequence[Point], maximize: Sequence[bool]) -> list[int]:
    """Indices of the points no other point dominates."""
    return [i for i, p in enumerate(points) if not any(dominates(q, p, maximize) for j, q in enumerate(points) if j != i)]


def _hv_loss(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    """Hypervolume of minimisation points below ``ref``, by slicing on the last objective."""
    points = [p for p in points if all(x < r for x, r in zip(p, ref))]
    if not points:
        return 0.0
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in points)
    points.sort(key=lambda p: p[-1])
    volume = 0.0
    for i, p in enumerate(points):  # the slab from this point's last value to the next one's
        top = points[i + 1][-1] if i + 1 < len(points) else ref[-1]
        if top > p[-1]:
            volume += (top - p[-1]) * _hv_loss([q[:-1] for q in points[:i + 1]], ref[:-1])
    return volume


def hypervolume(points: Sequence[Point], reference: Point, maximize: Sequence[bool]) -> float:
    """The volume the points dominate up to ``reference`` (a point worse than all of interest)."""
    return _hv_loss([_as_loss(p, maximize) for p in points], _as_loss(reference, maximize))


def knee(points: Sequence[Point], maximize: Sequence[bool]) -> int:
    """Index of the knee of a two-objective front: the point farthest from the line through the
    front's two ends, in coordinates normalised to the front's range (with two points or fewer,
    the one nearest the ideal point)."""
    if not points:
        raise ValueError("no points")
    members = front(points, maximize)
    loss = [_as_loss(points[i][:2], maximize[:2]) for i in members]
    low = [min(p[k] for p in loss) for k in (0, 1)]
    span = [max(p[k] for p in loss) - low[k] or 1.0 for k in (0, 1)]
    norm = [tuple((p[k] - low[k]) / span[k] for k in (0, 1)) for p in loss]
    order = sorted(range(len(norm)), key=lambda i: norm[i])
    if len(order) <= 2:
        return members[min(range(len(norm)), key=lambda i: math.hypot(*norm[i]))]
    (x0, y0), (x1, y1) = norm[order[0]], norm[order[-1]]
    length = math.hypot(x1 - x0, y1 - y0) or 1.0

    def distance(i: int) -> float:  # below the chord (towards the ideal point) counts as positive
        x, y = norm[i]
        return ((x1 - x0) * (y0 - y) - (x0 - x) * (y1 - y0)) / length

    return members[max(order[1:-1], key=distance)]


def nondominated_ranks(points: Sequence[Point], maximize: Sequence[bool]) -> list[int]:
    """Each point's non-dominated rank (0: on the front; 1: on the front once rank 0 is removed; ...)."""
    ranks = [-1] * len(points)
    left = list(range(len(points)))
    rank = 0
    while left:
        layer = [left[i] for i in front([points[j] for j in left], maximize)]
        for i in layer:
            ranks[i] = rank
        left = [i for i in left if ranks[i] < 0]
        rank += 1
    return ranks


def crowding_distances(points: Sequence[Point], members: Sequence[int]) -> dict[int, float]:
    """NSGA-II's crowding distance of each of ``members`` (indices into ``points``, one rank):
    the sum over objectives of the normalised gap between its two neighbours; the ends infinite."""
    distance = {i: 0.0 for i in members}
    if len(members) <= 2:
        return {i: math.inf for i in members}
    for k in range(len(points[members[0]])):
        order = sorted(members, key=lambda i: points[i][k])
        low, high = points[order[0]][k], points[order[-1]][k]
        distance[order[0]] = distance[order[-1]] = math.inf
        if high == low:
            continue
        for before, i, after in zip(order, order[1:-1], order[2:]):
            distance[i] += (points[after][k] - points[before][k]) / (high - low)
    return distance


def promotion_order(points: Sequence[Point], maximize: Sequence[bool]) -> list[int]:
    """Indices of ``points`` best first: by non-dominated rank, then by crowding distance (the
    more isolated first, as NSGA-II selects), then by index (the earlier first)."""
    ranks = nondominated_ranks(points, maximize)
    crowding: dict[int, float] = {}
    for rank in set(ranks):
        crowding.update(crowding_distances(points, [i for i, r in enumerate(ranks) if r == rank]))
    return sorted(range(len(points)), key=lambda i: (ranks[i], -crowding[i], i))
