"""Issue 28, limits checked before training starts: training steps and a model's depth from --config.
Each was a hang or a silent acceptance."""

from __future__ import annotations


import pytest

from hardening import one_line


# --- steps and depth ------------------------------------------------------------------------------------

@pytest.mark.parametrize("steps", [10**12, 10**20, 100_000_001])
def test_steps_above_the_limit_are_refused_before_training(tmp_path, capsys, steps):
    out = tmp_path / "run"
    line = one_line(capsys, ["train", "mwresnet-demo", "--steps", str(steps), "--out", str(out)])
    assert f"steps {steps:,} is above the limit of 100,000,000 steps" in line
    assert not out.exists()


@pytest.mark.parametrize("config", ['{"depth": 1000000}', '{"widths": [100000, 100000, 100000]}'])
def test_a_command_line_config_is_built_within_the_model_limits_first(tmp_path, capsys, config):
    out = tmp_path / "run"
    line = one_line(capsys, ["train", "mwresnet", "--config", config, "--out", str(out), "--steps", "2"])
    assert "--config: its configuration builds a model 'mwresnet' above the size limit" in line
    assert not (out / "last.pt").exists()
