"""Issue 28, limits checked before `zoo bench` starts: --tile, --threads and --plot. Each was a hang or a
silent acceptance."""

from __future__ import annotations

import os

import pytest

from hardening import one_line


@pytest.mark.parametrize("tile", [10**21, 16_385])
def test_a_tile_above_the_pixel_limit_is_refused(tmp_path, capsys, tile):
    line = one_line(capsys, ["bench", "mwresnet-demo", "--size", "32", "--tile", str(tile), "--runs", "1",
                             "--warmup", "0", "--backends", "eager"])
    assert f"--tile {tile:,} is above the limit of 16,384 pixels a side" in line


def test_bench_threads_beyond_the_cores_are_refused_at_once(capsys):
    line = one_line(capsys, ["bench", "mwresnet-demo", "--threads", "10000", "--runs", "1", "--warmup", "0"], 30)
    assert "--threads 10000 is more than the" in line


@pytest.mark.parametrize("name", ["plot.txt", "plot", "plot.PNG.gz"])
def test_bench_plot_must_be_a_png(tmp_path, capsys, name):
    line = one_line(capsys, ["bench", "mwresnet-demo", "--size", "32", "--runs", "1", "--warmup", "0",
                             "--backends", "eager", "--plot", str(tmp_path / name)], 30)
    assert "give a file name ending in .png" in line and not (tmp_path / name).exists()


def test_bench_plot_to_a_fifo_is_refused_before_the_benchmark(tmp_path, capsys):
    fifo = tmp_path / "plot.png"
    os.mkfifo(fifo)
    line = one_line(capsys, ["bench", "mwresnet-demo", "--size", "32", "--runs", "1", "--warmup", "0",
                             "--backends", "eager", "--plot", str(fifo)], 30)
    assert "FIFO" in line
