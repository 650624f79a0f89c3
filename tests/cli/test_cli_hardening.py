"""Issue 17, the command line: mistakes are one line (and JSON under --json), never a traceback;
zoo eval --csv keeps an existing file unless --force."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.cli import main

FAST = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def one_line_error(capsys, argv: list[str]) -> str:
    """Run ``zoo argv``: exit status 2, stderr's last line the error, no traceback."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("zoo") and ": error: " in line
    return line


# --- --json errors ----------------------------------------------------------------------------------

def test_json_errors_are_json_on_stdout_and_one_line_on_stderr(capsys):
    assert main(["info", "nosuchmodel", "--json"]) == 2
    out, err = capsys.readouterr()
    error = json.loads(out)
    assert error["type"] == "UnknownNameError" and error["status"] == 2
    assert error["error"].startswith("unknown model 'nosuchmodel'")
    assert err.strip() == f"zoo: error: {error['error']}"


def test_usage_errors_under_json_are_json_too(capsys):
    assert main(["list", "--json", "--no-such-option"]) == 2
    out, err = capsys.readouterr()
    error = json.loads(out)
    assert error == {"error": "unrecognized arguments: --no-such-option", "type": "UsageError", "status": 2}
    assert "usage: zoo" in err
    assert main(["list", "--no-such-option"]) == 2  # without --json: stdout stays empty
    assert capsys.readouterr().out == ""


# --- zoo eval --csv ---------------------------------------------------------------------------------

EVAL = ["eval", "wavelet", "--data", "synthraw", "--limit", "1"]


def test_eval_csv_keeps_an_existing_file_unless_forced(tmp_path, capsys):
    table = tmp_path / "scores.csv"
    table.write_text("my earlier scores\n")
    assert one_line_error(capsys, [*EVAL, "--csv", str(table)]) == f"zoo: error: {table} exists (use --force to overwrite)"
    assert table.read_text() == "my earlier scores\n"
    assert main([*EVAL, "--csv", str(table), "--force"]) == 0
    assert table.read_text().startswith("model,name,")


def test_eval_csv_refuses_a_fifo_before_scoring(tmp_path, capsys):
    fifo = tmp_path / "scores.csv"
    os.mkfifo(fifo)
    line = one_line_error(capsys, [*EVAL, "--csv", str(fifo), "--force"])
    assert "FIFO (named pipe), not a regular file" in line
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --- arguments that were tracebacks -------------------------------------------------------------

def test_bench_size_beyond_the_pixel_limit_is_one_line(capsys):
    line = one_line_error(capsys, ["bench", "mwresnet-demo", "--size", "100000", "--runs", "1", "--warmup", "0"])
    assert "--size 100000" in line and "above the limit" in line


def test_export_to_a_name_that_is_not_onnx_is_one_line(tmp_path, capsys):
    line = one_line_error(capsys, ["export", "mwresnet-demo", "-o", str(tmp_path / "a.png"), "--no-check"])
    assert line.endswith("an ONNX file's name ends in .onnx (-o FILE.onnx)")
    assert not (tmp_path / "a.png").exists()


@FAST
@given(overlap=st.integers(-10**6, -1), command=st.sampled_from(["bench", "denoise", "eval"]))
def test_a_negative_overlap_without_tile_is_one_line(tmp_path, capsys, overlap, command):
    image = tmp_path / "x.npy"
    np.save(image, np.zeros((16, 16), np.float32))
    argv = {"bench": ["bench", "mwresnet-demo", "--size", "16", "--runs", "1", "--warmup", "0"],
            "denoise": ["denoise", "mwresnet-demo", str(image), "-o", str(tmp_path / "out.npy"), "--force"],
            "eval": EVAL}[command]
    line = one_line_error(capsys, [*argv, "--overlap", str(overlap)])
    assert line.endswith(f"--overlap must not be negative, got {overlap}")
