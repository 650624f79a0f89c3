"""Issue 17: `zoo bench --backends` naming no backend is one line and a non-zero exit."""

from __future__ import annotations

from zoo.cli import main


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("zoo: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_bench_with_no_backend_named_is_one_line(capsys):
    assert main(["bench", "mwresnet", "--backends", ",,"]) == 2
    assert "--backends names no backend" in _one_line_error(capsys)
