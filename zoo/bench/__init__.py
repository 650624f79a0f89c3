"""Benchmark harness: engines side by side, the machine's conv peak measured in the same run."""

from zoo.bench.engines import BACKENDS, DEFAULT_BACKENDS, DEFAULT_ENGINES, ENGINES, BackendUnavailable, EngineUnavailable
from zoo.bench.harness import format_report, run_benchmark
from zoo.bench.plot import plot_throughput

__all__ = ["BACKENDS", "DEFAULT_BACKENDS", "DEFAULT_ENGINES", "ENGINES", "BackendUnavailable", "EngineUnavailable",
           "format_report", "plot_throughput", "run_benchmark"]
