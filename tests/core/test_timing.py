"""zoo.timing: the one timer. Calls side by side in rotating blocks (each call in every position),
a median per call, failures that leave the rounds, and the spread."""

from __future__ import annotations

import pytest

from zoo import timing


def test_turns_put_every_call_in_every_position():
    names = ["a", "b", "c", "d"]
    order = timing.turns(names, 4)
    assert order[0] == names and order[1] == ["b", "c", "d", "a"]
    for position in range(len(names)):  # fair: over len(names) rounds each takes each position once
        assert sorted(rounds[position] for rounds in order) == names
    assert timing.turns([], 3) == []


def test_rotate_times_blocks_after_an_untimed_settling_call():
    log: list[str] = []
    calls = {name: (lambda name=name: log.append(name)) for name in ("a", "b", "c")}
    timed = timing.rotate(calls, 3, block=2, settle=1)
    # each turn is a block: one untimed call, then two timed ones in a row (never call by call)
    assert "".join(log) == "aaabbbccc" + "bbbcccaaa" + "cccaaabbb"
    assert all(len(timed.seconds[name]) == 3 * 2 for name in calls)
    assert set(timed.medians()) == set(calls)


def test_the_median_is_of_the_timed_calls(monkeypatch):
    clock = iter([0.0, 1.0, 10.0, 13.0, 20.0, 22.0])  # perf_counter around three timed calls: 1, 3 and 2 s
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    timed = timing.rotate({"a": lambda: None}, 3, block=1, settle=0)
    assert timed.seconds["a"] == [1.0, 3.0, 2.0] and timed.medians() == {"a": 2.0}


def test_before_runs_at_each_turn_and_a_failure_leaves_the_rounds():
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("compiler crashed")

    timed = timing.rotate({"good": lambda: None, "bad": broken}, 4, block=1, settle=0, before=seen.append, catch=True)
    assert len(timed.seconds["good"]) == 4 and timed.seconds["bad"] == [] and "bad" in timed.failed
    assert seen.count("good") == 4 and seen.count("bad") == 1
    assert timed.medians().keys() == {"good"}
    with pytest.raises(RuntimeError):
        timing.rotate({"bad": broken}, 1)


def test_warm_calls_each_and_reports_its_last_call():
    count = {"a": 0}
    last = timing.warm({"a": lambda: count.__setitem__("a", count["a"] + 1)}, 3)
    assert count["a"] == 3 and last["a"] >= 0.0
    assert timing.warm({"a": lambda: None}, 0) == {"a": 0.0}


def test_spread_is_the_interquartile_range_over_the_median():
    assert timing.spread([10.0]) is None
    assert timing.quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)
    assert timing.spread([10.0, 10.1, 10.0, 9.9, 50.0]) == pytest.approx(0.01)
    assert timing.too_wide(0.2) and not timing.too_wide(None) and not timing.too_wide(0.05)
