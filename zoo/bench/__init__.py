"""Benchmark harness: backends side by side, the machine's conv peak measured in the same run."""

from zoo.bench.backends import BACKENDS, DEFAULT_BACKENDS, BackendUnavailable
from zoo.bench.harness import format_report, run_benchmark
from zoo.bench.plot import plot_throughput

__all__ = ["BACKENDS", "DEFAULT_BACKENDS", "BackendUnavailable", "format_report", "plot_throughput", "run_benchmark"]
