"""Issue 17: `zoo bench --engines` (or its older name, --backends) naming no engine is one line and a non-zero exit."""

from __future__ import annotations

from zoo.cli import main


def test_bench_with_no_engine_named_is_one_line(capsys):
    for flag in ("--engines", "--backends"):
        assert main(["bench", "mwresnet", flag, ",,"]) == 2
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("zoo: error:")]
        assert "Traceback" not in err and len(errors) == 1 and "--engines names no engine" in errors[0], err
