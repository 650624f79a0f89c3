"""Issue 17: training that diverges, damaged run folders, mixed training data and two writers of
one run folder all end in one line and a non-zero exit, and nothing poisoned is saved."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.cli import main
from zoo.train.config import TrainConfig
from zoo.errors import ZooError

ROOT = Path(__file__).resolve().parents[2]
TINY = '{"widths": [8, 8, 8], "depth": 1}'


def _train(out: Path, *extra: str) -> list[str]:
    return ["train", "mwrcanet", "--config", TINY, "--batch", "2", "--patch", "32", "--val", "none",
            "--steps", "3", "--out", str(out), *extra]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("zoo: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("flag, value, expected", [
    ("--lr", "nan", "lr must be a finite number"),
    ("--lr", "inf", "lr must be a finite number"),
    ("--clip", "nan", "clip must be a finite number"),
    ("--ema", "nan", "ema must be a finite number"),
    ("--clip", "inf", "clip must be a finite number"),
    ("--seed", "-1", "seed must be a whole number"),
    ("--seed", str(2**40), "seed must be a whole number"),
])
def test_settings_that_cannot_train_are_refused_before_anything_runs(tmp_path, capsys, flag, value, expected):
    assert main(_train(tmp_path / "run", flag, value)) == 2
    assert expected in _one_line_error(capsys)
    assert not (tmp_path / "run" / "final.safetensors").exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lr=st.floats(allow_nan=True, allow_infinity=True), clip=st.floats(allow_nan=True, allow_infinity=True))
def test_every_non_finite_or_non_positive_setting_is_a_zoo_error(lr, clip):
    config = TrainConfig(model="mwrcanet", out="unused", lr=lr, clip=clip)
    sound = np.isfinite(lr) and lr > 0 and np.isfinite(clip) and clip >= 0
    if sound:
        config.check()
    else:
        with pytest.raises(ZooError):
            config.check()


def test_a_diverging_run_stops_with_an_error_and_saves_no_nan_weights(tmp_path, capsys):
    run = tmp_path / "run"
    # 1e30 is finite, so it passes the checks; the first update sends the weights out of range.
    assert main(_train(run, "--lr", "1e30", "--clip", "0", "--steps", "6", "--checkpoint-every", "1")) == 2
    message = _one_line_error(capsys)
    assert "training diverged" in message and "lower --lr" in message
    assert not (run / "final.safetensors").exists() and not (run / "best.safetensors").exists()
    if (run / "last.pt").exists():  # what was kept is the last good step, never NaN
        state = torch.load(run / "last.pt", weights_only=True)
        assert all(torch.isfinite(v).all() for v in state["model"].values() if v.dtype.is_floating_point)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"\x80\x04 not a pickle at all" * 10, "list"])
def test_a_damaged_last_pt_on_resume_is_one_line(tmp_path, capsys, content):
    run = tmp_path / "run"
    assert main(_train(run, "--steps", "2")) == 0
    capsys.readouterr()
    if content == "list":
        torch.save([1, 2, 3], run / "last.pt")
    else:
        (run / "last.pt").write_bytes(content)
    assert main(_train(run, "--steps", "2", "--resume")) == 2
    assert f"cannot resume from {run / 'last.pt'}" in _one_line_error(capsys)


def test_a_last_pt_of_another_shape_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_train(run, "--steps", "2")) == 0
    state = torch.load(run / "last.pt", weights_only=True)
    state["model"] = {"stray": torch.zeros(1)}
    torch.save(state, run / "last.pt")
    capsys.readouterr()
    assert main(_train(run, "--steps", "2", "--resume")) == 2
    assert "does not fit this run" in _one_line_error(capsys)


@pytest.mark.parametrize("log", ["step,lr\nten,0.1\n", "nothing,here\n1,2\n", "step,lr,loss\n1,abc,0.5\n", "\xff\xfe"])
def test_a_damaged_log_csv_on_resume_is_one_line(tmp_path, capsys, log):
    run = tmp_path / "run"
    assert main(_train(run, "--steps", "2", "--checkpoint-every", "1")) == 0
    (run / "log.csv").write_bytes(log.encode("latin-1"))
    (run / "final.safetensors").unlink()
    capsys.readouterr()
    assert main(_train(run, "--steps", "2", "--resume")) == 2
    assert "is not a zoo training log" in _one_line_error(capsys)


def test_pairs_of_mixed_channel_counts_stop_before_the_first_step(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for folder in ("noisy", "gt"):
        (tmp_path / "pairs" / folder).mkdir(parents=True)
        for name, shape in (("a", (64, 64)), ("b", (3, 64, 64))):
            np.save(tmp_path / "pairs" / folder / f"{name}.npy", rng.random(shape, dtype=np.float32))
    arguments = ["train", "mwrcanet", "--config", TINY, "--batch", "2", "--patch", "32", "--val", "none",
                 "--steps", "3", "--data", f"pairs:{tmp_path / 'pairs'}", "--out", str(tmp_path / "run")]
    assert main(arguments) == 2
    assert "mix 1-channel images" in _one_line_error(capsys)
    assert not (tmp_path / "run" / "last.pt").exists()


_HOLDER = textwrap.dedent("""
    import sys, time
    from zoo.runlock import run_lock
    with run_lock(sys.argv[1], "zoo train mwrcanet (the first)"):
        print("locked", flush=True)
        time.sleep(120)
""")


@pytest.mark.parametrize("command", ["train", "distill"])
def test_a_second_writer_of_a_run_folder_is_refused_in_one_line(tmp_path, capsys, command):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(run)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "locked"
        if command == "train":
            arguments = _train(run)
        else:
            arguments = ["distill", "--original-config", TINY, "--siamese-config", TINY, "--steps", "1,1,1,1",
                         "--batch", "2", "--patch", "32", "--finetune-patch", "64", "--finetune-batch", "1",
                         "--val", "none", "--no-pseudo-ensemble", "--out", str(run)]
        assert main(arguments) == 2
        message = _one_line_error(capsys)
        assert "in use by another zoo process" in message and f"pid {holder.pid}" in message
        assert not (run / "config.json").exists()  # nothing of the second run was written
    finally:
        holder.kill()
        holder.wait()
