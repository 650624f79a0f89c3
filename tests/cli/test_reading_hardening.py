"""Issue 28, the commands that read recipes and configurations (`zoo train --config-file`, `--config`):
a special file, a YAML bomb, a key given twice or JSON nested too deeply is one line naming the file."""

from __future__ import annotations

import os

import pytest

from hardening import one_line, within

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


# --- the commands that read them ----------------------------------------------------------------------

def test_recipes_that_are_special_files_or_bombs_are_one_line(tmp_path, fifo, capsys):
    pytest.importorskip("yaml")
    out = str(tmp_path / "run")
    for path in (fifo, "/dev/zero", tmp_path):
        line = within(60, lambda path=path: one_line(capsys, ["train", "--config-file", str(path), "--out", out]))
        assert "not a regular file" in line
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("model: mwresnet-demo\n" + BILLION_LAUGHS)
    assert "aliases" in within(60, lambda: one_line(capsys, ["train", "--config-file", str(bomb), "--out", out]))
    twice = tmp_path / "twice.yaml"
    twice.write_text("model: mwresnet-demo\nsteps: 2\nsteps: 3\n")
    assert "'steps' is given twice" in one_line(capsys, ["train", "--config-file", str(twice), "--out", out])
    assert not os.path.exists(out)


@pytest.mark.parametrize("inline", [True, False])
def test_a_deep_config_json_is_one_line(tmp_path, capsys, inline):
    text = '{"a": ' * 10_000 + "1" + "}" * 10_000
    if not inline:
        (tmp_path / "deep.json").write_text(text)
        text = str(tmp_path / "deep.json")
    line = one_line(capsys, ["train", "mwresnet-demo", "--config", text, "--out", str(tmp_path / "run")])
    assert "nests 10000 levels deep, above the limit of 64" in line


def test_a_config_file_that_is_a_device_or_fifo_is_one_line(tmp_path, fifo, capsys):
    for path in (fifo, "/dev/zero"):
        line = within(60, lambda path=path: one_line(capsys, ["train", "mwresnet-demo", "--config", str(path),
                                                    "--out", str(tmp_path / "run")]))
        assert "not a regular file" in line
