"""`torchrun -m zoo denoise`: the inputs split across ranks, every one done once, one summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from zoo.cli.ranks import Ranks

TORCHRUN = Path(sys.executable).parent / "torchrun"


@pytest.mark.parametrize("world", [1, 2, 3, 5])
def test_every_input_goes_to_exactly_one_rank_largest_first(world):
    sizes = [900, 10, 10, 10, 500, 400, 0, 30]
    shares = [Ranks(rank, world, rank, world).share(sizes) for rank in range(world)]
    assert sorted(i for share in shares for i in share) == list(range(len(sizes)))
    assert all(share == sorted(share) for share in shares)  # each rank keeps the order given
    if world == 2:  # 900 + 30 + 0 | 500 + 400 + 3 x 10: balanced by size, not by count
        assert shares == [[0, 6, 7], [1, 2, 3, 4, 5]]


def test_one_process_without_torchrun_is_one_rank(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert Ranks.from_environment() == Ranks()
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(zoo.ZooError, match="WORLD_SIZE='two'"):
        Ranks.from_environment()


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not installed")
def test_two_ranks_on_cpu_split_the_inputs_and_rank_0_sums_up(tmp_path):
    torch.manual_seed(0)
    weights = zoo.save(zoo.create_model("mwrcanet", widths=(8, 8, 8), depth=1), tmp_path / "small.safetensors")
    rng = np.random.default_rng(0)
    inputs = []
    for index, side in enumerate([48, 16, 32, 24, 16]):
        inputs.append(tmp_path / f"in{index}.npy")
        np.save(inputs[-1], rng.random((side, side + 8), dtype=np.float32))
    env = {**os.environ, "ZOO_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    command = [str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "zoo", "denoise", "mwrcanet",
               "--weights", str(weights), *map(str, inputs), "-o", str(tmp_path / "out"),
               "--engine", "torch", "--precision", "float32"]  # auto would measure engines and precisions on each rank
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    model = zoo.load(weights)
    for source in inputs:  # every input written once, as one process would have
        np.testing.assert_allclose(np.load(tmp_path / "out" / source.name), zoo.denoise(model, np.load(source)), atol=1e-6)
    lines = [line for line in result.stderr.splitlines() if line.startswith("zoo:")]
    assert len(lines) == 2, result.stderr  # the opening line and the summary, from rank 0 alone
    assert lines[0].startswith("zoo: mwrcanet on cpu") and lines[0].endswith(", 2 ranks")
    summary = lines[1]
    assert summary.startswith("zoo: 5 images on 2 ranks: rank 0 (1 CPU thread) ")
    took = [int(part.rsplit(" ", 1)[1]) for part in summary.split("; ")]
    assert sum(took) == 5 and min(took) >= 1
    assert "Traceback" not in result.stderr

    # A mistake every rank makes alike is one line, from rank 0; no rank starts work.
    result = subprocess.run([*command, "--tile", "8"], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert result.stderr.count("zoo: error:") == 1 and "must exceed overlap" in result.stderr
