"""Issue 28, output: a name longer than the file system allows and a standard output that cannot
be written are one line and a non-zero exit; text from files (a model card, a file name in an
error) reaches the terminal with its control characters escaped."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import zoo
from zoo.cli import main

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m"


def one_line(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("zoo: error: ")
    return lines[-1]


@pytest.mark.parametrize("command", ["denoise", "eval"])
def test_an_output_name_too_long_for_the_file_system_is_one_line(tmp_path, capsys, command):
    name = tmp_path / ("a" * 300 + (".npy" if command == "denoise" else ".csv"))
    if command == "denoise":
        image = tmp_path / "image.npy"
        np.save(image, np.random.default_rng(0).random((16, 16), dtype=np.float32))
        argv = ["denoise", "wavelet", str(image), "-o", str(name)]
    else:
        argv = ["eval", "wavelet", "--data", "synthraw", "--limit", "1", "--csv", str(name)]
    assert "File name too long" in one_line(capsys, argv)


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"], ["info", "mwresnet-demo"], ["info", "nosuch", "--json"]])
def test_a_full_standard_output_is_one_line_and_not_zero(argv):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "zoo", *argv], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "zoo: error: cannot write to standard output: No space left on device"


def test_a_model_card_is_printed_without_its_escape_sequences(tmp_path, capsys):
    model = zoo.create_model("mwresnet", widths=(8, 8, 8), depth=1)
    path = tmp_path / "w.safetensors"
    zoo.save(model, path, card={"summary": f"hello{ESCAPES}", "trained_on": [f"x{ESCAPES}"], "notes\x1b[1m": "y\nz"})
    assert main(["info", "mwresnet", "--weights", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "hello\\x1b[2J" in out


def test_an_error_naming_a_file_with_escapes_is_one_escaped_line(tmp_path, capsys):
    name = tmp_path / f"evil{ESCAPES}\nsecond line.safetensors"
    name.write_bytes(b"not weights")
    line = one_line(capsys, ["info", "mwresnet", "--weights", str(name)])
    assert "\x1b" not in line and "\\x1b[2J" in line and "\\nsecond line" in line
