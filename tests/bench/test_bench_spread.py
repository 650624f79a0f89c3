"""`zoo bench` on a noisy machine: backends and the conv peak taken in turn, each figure's spread,
a warning past 10%, and error bars on the plot."""

from __future__ import annotations

import itertools
import json
import time

import pytest
import torch

import zoo
from zoo.bench import harness
from zoo.bench.engines import BACKENDS
from zoo.bench.rounds import interleave
from zoo.timing import SPREAD_LIMIT, quartiles, spread
from zoo.cli import main


class FakePeak:
    """Stands for ConvPeak: records when it was measured."""

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.sync = lambda: None

    def measure(self) -> float:
        self.order.append("peak")
        return 100.0


def test_rounds_take_every_backend_in_turn_each_beside_a_peak_measurement():
    order: list[str] = []
    calls = {name: (lambda name=name: order.append(name)) for name in ("a", "b", "c")}
    timings = interleave(calls, 3, FakePeak(order))
    runs = [name for name in order if name != "peak"]
    # round-robin, the order turning by one each round: no backend always first
    assert runs == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert order[::2] == ["peak"] * 9  # a peak measurement right before every run
    assert all(len(timings.seconds[n]) == len(timings.peaks[n]) == 3 for n in calls)


def test_a_backend_that_fails_leaves_the_rounds_and_the_others_go_on():
    def broken():
        raise RuntimeError("compiler crashed")

    timings = interleave({"good": lambda: None, "bad": broken}, 4, FakePeak([]))
    assert len(timings.seconds["good"]) == 4 and "bad" in timings.failed and timings.seconds["bad"] == []


def test_spread_is_the_interquartile_range_over_the_median():
    assert spread([10.0]) is None
    assert quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)
    assert spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2 / 3)
    assert spread([10.0, 10.1, 10.0, 9.9, 50.0]) == pytest.approx(0.01)  # one stray run moves neither
    assert SPREAD_LIMIT == 0.10


class SleepyRunner:
    """A backend whose runs take 5 ms, 20 ms, 5 ms, ...: a machine busy half the time."""

    size_multiple, in_channels, device = 1, 1, "fake"

    def __init__(self) -> None:
        self.delays = itertools.cycle([0.005, 0.02])

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        time.sleep(next(self.delays))
        return batch


@pytest.fixture
def sleepy(monkeypatch):
    monkeypatch.setitem(BACKENDS, "sleepy", lambda model, dtype, device: SleepyRunner())


def test_every_figure_has_its_spread_and_a_wide_one_is_warned_about(sleepy):
    model = zoo.create_model("mwresnet", widths=(8, 8, 8), depth=1)
    report = harness.run_benchmark(model, size=16, backends=["eager", "sleepy"], warmup=0, runs=4)
    eager, slow = report["backends"]
    for result in (eager, slow):
        latency = result["latency_ms"]
        assert latency["min"] <= latency["q1"] <= latency["median"] <= latency["q3"] <= latency["max"]
        assert len(result["runs_ms"]) == 4 and set(result["spread"]) == {"latency", "fraction_of_peak"}
        low, high = result["megapixels_per_s_quartiles"]
        assert low <= result["megapixels_per_s"] <= high
    assert slow["spread"]["latency"] > 0.3
    assert report["conv_peak_spread"] is not None
    assert any(w.startswith("sleepy: latency spread") for w in report["warnings"])
    assert "warning: sleepy: latency spread" in harness.format_report(report)


def test_cli_warns_on_stderr_and_plots_error_bars(sleepy, tmp_path, capsys):
    plot = tmp_path / "bench.png"
    assert main(["bench", "mwresnet", "--size", "16", "--runs", "4", "--warmup", "0", "--backends", "sleepy",
                 "--json", "--plot", str(plot)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["backends"][0]["spread"]["latency"] > SPREAD_LIMIT
    assert "zoo: warning: sleepy: latency spread" in captured.err
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
