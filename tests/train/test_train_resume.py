"""`zoo train --resume --out RUN` alone continues with the run's own settings, and `--steps N`
above the run's extends it (issue 18): equal to a run started with N steps while the stopped run
was still in its warm-up, the rate of the N-step schedule from the resume step otherwise."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from zoo.cli import main
from zoo.train.trainer import TrainConfig, _Training, lr_factor

ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = '{"widths": [8, 8, 8], "depth": 1}'
TINY = ["--config", TINY_CONFIG, "--batch", "2", "--patch", "32", "--val", "none"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))


def same_weights(a: Path, b: Path) -> bool:
    first, second = load_file(a), load_file(b)
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def interrupted(monkeypatch, at: int):
    """Make training stop (as Ctrl-C would) before batch ``at``; returns the undo."""
    real = _Training.step

    def step(self, data, index):
        if index == at:
            raise KeyboardInterrupt
        return real(self, data, index)

    monkeypatch.setattr(_Training, "step", step)
    return lambda: monkeypatch.setattr(_Training, "step", real)


def readme_resume_line() -> list[str]:
    """The README's resume example, as its words."""
    lines = [line for line in (ROOT / "README.md").read_text().splitlines()
             if line.startswith("$ zoo train") and "--resume" in line]
    assert len(lines) >= 1
    return shlex.split(lines[0].split("#")[0])[2:]  # after "$ zoo"


def test_the_readme_resume_line_alone_continues_an_interrupted_run(tmp_path, monkeypatch):
    args = ["train", "mwrcanet", *TINY, "--steps", "6", "--checkpoint-every", "2", "--lr", "1e-3"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    undo = interrupted(monkeypatch, at=5)
    assert main([*args, "--out", str(tmp_path / "rca")]) == 130  # interrupted after the checkpoint at 4
    undo()
    assert torch.load(tmp_path / "rca" / "last.pt", weights_only=True)["step"] == 4

    words = readme_resume_line()
    assert "..." not in words and words[0] == "train"
    monkeypatch.chdir(tmp_path)  # the README's runs/rca, here
    (tmp_path / "runs").mkdir()
    (tmp_path / "rca").rename(tmp_path / "runs" / "rca")
    assert main(words) == 0  # as written: no model, no settings
    assert same_weights(tmp_path / "whole" / "final.safetensors", tmp_path / "runs" / "rca" / "final.safetensors")
    assert json.loads((tmp_path / "runs" / "rca" / "config.json").read_text())["lr"] == 1e-3


def test_extending_a_run_still_in_its_warm_up_equals_a_run_started_longer(tmp_path):
    base = ["train", "mwrcanet", *TINY, "--warmup", "6", "--checkpoint-every", "3"]
    assert main([*base, "--steps", "6", "--out", str(tmp_path / "short")]) == 0
    assert main(["train", "--resume", "--out", str(tmp_path / "short"), "--steps", "12"]) == 0
    assert main([*base, "--steps", "12", "--out", str(tmp_path / "long")]) == 0
    assert same_weights(tmp_path / "short" / "final.safetensors", tmp_path / "long" / "final.safetensors")
    assert json.loads((tmp_path / "short" / "config.json").read_text())["steps"] == 12
    assert torch.load(tmp_path / "short" / "last.pt", weights_only=True)["step"] == 12


def test_extending_past_the_warm_up_restarts_the_rate_on_the_longer_schedule(tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert main(["train", "mwrcanet", *TINY, "--steps", "10", "--out", str(run)]) == 0  # warm-up: a tenth, 1
    rates: dict[int, float] = {}
    real = _Training.step
    monkeypatch.setattr(_Training, "step", lambda self, data, index: rates.setdefault(index, real(self, data, index)))
    assert main(["train", "--resume", "--out", str(run), "--steps", "20"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["steps"] == 20 and config["warmup"] == 1  # kept: 20 steps alone would warm up for 2
    short, long = TrainConfig(model="m", out="", steps=10), TrainConfig(model="m", out="", steps=20, warmup=1)
    assert sorted(rates) == list(range(10, 20))
    assert all(rate == pytest.approx(long.lr * lr_factor(index, long)) for index, rate in rates.items())
    assert rates[10] > 10 * short.lr * lr_factor(9, short)  # a jump up from the short run's last rate
    rows = (run / "log.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [10, 20]  # the first run's row kept
    assert float(rows[0].split(",")[1]) == pytest.approx(short.lr * lr_factor(9, short))


def test_resuming_refuses_fewer_steps_and_other_training_settings_but_not_other_intervals(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "mwrcanet", *TINY, "--steps", "4", "--checkpoint-every", "2", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "--steps", "3"]) == 2
    err = capsys.readouterr().err
    assert "different steps (the run has 4, now 3: more steps extend a run, fewer are refused)" in err
    assert err.count("\n") == 1
    assert main(["train", "--resume", "--out", str(run), "--lr", "1e-3"]) == 2
    assert "different lr (the run has 0.0002, now 0.001)" in capsys.readouterr().err
    assert main(["train", "mwresnet", "--resume", "--out", str(run)]) == 2
    assert "different model" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(run), "--checkpoint-every", "1", "--val-every", "7"]) == 0


def test_resume_without_a_run_or_a_folder_is_one_line(tmp_path, capsys):
    assert main(["train", "--resume", "--out", str(tmp_path / "nothing")]) == 2
    assert "holds no run to resume (no config.json)" in capsys.readouterr().err
    assert main(["train", "mwrcanet", *TINY, "--steps", "2"]) == 2
    assert "give the run folder: --out RUN_DIR" in capsys.readouterr().err
    assert main(["train", *TINY, "--out", str(tmp_path / "r")]) == 2
    assert "give the model to train" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    assert main(["train", "--resume", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "the run's settings" in err and "config.json is not valid JSON" in err and "use another --out" in err
    (tmp_path / "bad" / "config.json").write_text('{"model": "mwrcanet", "steps": "many"}')
    assert main(["train", "--resume", "--out", str(tmp_path / "bad")]) == 2
    assert 'steps is "many", not a value of this setting' in capsys.readouterr().err


def test_resume_with_a_model_given_and_no_run_yet_starts_one(tmp_path):
    # (torchrun restarts a job with its whole command line, --resume included)
    run = tmp_path / "run"
    assert main(["train", "mwrcanet", *TINY, "--steps", "2", "--out", str(run), "--resume"]) == 0
    assert (run / "final.safetensors").is_file()


def test_a_fine_tuning_run_resumes_without_its_starting_weights_file(tmp_path, monkeypatch):
    """The architecture is rebuilt from config.json's built_config; last.pt holds the weights."""
    from zoo.cli import main

    monkeypatch.chdir(tmp_path)
    base = ["--batch", "2", "--patch", "32", "--val", "none"]
    tiny = ["mwrcanet", "--config", '{"widths": [8, 8, 8], "depth": 1}']
    assert main(["train", *tiny, *base, "--steps", "2", "--out", "start"]) == 0
    (tmp_path / "start" / "final.safetensors").rename(tmp_path / "w.safetensors")
    # the weights file's stored config (widths 8) builds the model; --config here is empty
    assert main(["train", "mwrcanet", "--weights", "w.safetensors", *base, "--steps", "2", "--out", "ft"]) == 0
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["built_config"]["widths"] == [8, 8, 8]
    (tmp_path / "w.safetensors").unlink()
    assert main(["train", "--resume", "--out", "ft", "--steps", "4"]) == 0
    import zoo
    from zoo.contract import model_config

    assert list(model_config(zoo.load(tmp_path / "ft" / "final.safetensors"))["widths"]) == [8, 8, 8]
