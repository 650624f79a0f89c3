"""Without --threads, zoo takes the cores other processes leave idle (a busy machine slows it in proportion)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

import zoo
from zoo import waiting
from zoo.cli import main


def fake_stat(monkeypatch, busy_per_cpu: list[float], cores: int = 2) -> None:
    """/proc/stat as two readings 100 jiffies apart, each CPU busy for the given fraction."""
    readings = iter([{cpu: (0, 0) for cpu in range(cores)},
                     {cpu: (round(100 * (1 - busy)), 100) for cpu, busy in enumerate(busy_per_cpu)}])
    monkeypatch.setattr(waiting, "_cpu_times", lambda: next(readings))
    monkeypatch.setattr(waiting.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(waiting, "cores", lambda: cores)
    monkeypatch.setattr(waiting.time, "sleep", lambda seconds: None)


@pytest.mark.parametrize(("busy", "threads", "said"), [
    ([0.0, 0.05], 2, False),   # a quiet machine: every core
    ([1.0, 0.3], 1, True),     # one core and a bit taken: the idle share rounds to one
    ([1.0, 1.0], 1, True),     # every core busy: still one thread
])
def test_threads_follow_the_idle_cores(monkeypatch, busy, threads, said):
    fake_stat(monkeypatch, busy)
    count, note = waiting.threads_for_load()
    assert count == threads
    assert (note is not None) == said
    if said:
        assert f"{threads} of 2 threads" in note and "--threads" in note


def test_an_unreadable_stat_keeps_every_core(monkeypatch):
    monkeypatch.setattr(waiting, "_cpu_times", lambda: {})
    monkeypatch.setattr(waiting.time, "sleep", lambda seconds: None)
    assert waiting.threads_for_load() == (waiting.cores(), None)


def test_zoo_denoise_runs_on_the_idle_cores_and_says_so(tmp_path, monkeypatch, capsys):
    fake_stat(monkeypatch, [1.0, 1.0])
    before = torch.get_num_threads()
    weights = zoo.save(zoo.create_model("mwrcanet", widths=(8, 16, 16), depth=1), tmp_path / "w.safetensors")
    source = tmp_path / "in.tif"
    tifffile.imwrite(source, np.random.default_rng(0).integers(0, 65536, (32, 32), dtype=np.uint16))
    try:
        assert main(["denoise", "mwrcanet", "--weights", str(weights), str(source), "-o", str(tmp_path / "out.tif"),
                     "--mosaic", "RGGB", "--precision", "float32"]) == 0
        assert torch.get_num_threads() == 1
        err = capsys.readouterr().err
        assert "1 of 2 threads: other processes keep 2.0 cores busy" in err
        assert len(err.strip().splitlines()) == 1  # on the opening line, not a line of its own
    finally:
        torch.set_num_threads(before)


def test_niced_work_counts_as_free_only_where_it_yields():
    stat = "cpu  10 20 30 40 0 0 0 0 0 0\ncpu0 1 50 2 47 0 0 0 0 0 0\ncpu1 100 0 0 0 0 0 0 0 0 0\nintr 5\n"
    assert waiting.parse_stat(stat, niced_yield=True) == {0: (97, 100), 1: (0, 100)}
    assert waiting.parse_stat(stat, niced_yield=False) == {0: (47, 100), 1: (0, 100)}
