"""Issue 17: one process per run folder (zoo.runlock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zoo.errors import ZooError
from zoo.runlock import LOCK_NAME, is_locked, run_lock

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="run folders are locked with flock")

_HOLDER = textwrap.dedent("""
    import sys, time
    from zoo.runlock import run_lock
    with run_lock(sys.argv[1], "zoo train mwrcanet"):
        print("locked", flush=True)
        time.sleep(120)
""")


def _holder(folder: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, str(folder)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_process_is_refused_in_one_line_naming_the_first(tmp_path):
    run = tmp_path / "run"
    process = _holder(run)
    try:
        assert is_locked(run)
        with pytest.raises(ZooError) as caught:
            with run_lock(run, "zoo train"):
                pass
        message = str(caught.value)
        assert "\n" not in message and f"{run} is in use by another zoo process" in message
        assert f"pid {process.pid}" in message and "zoo train mwrcanet" in message
    finally:
        process.kill()
        process.wait()
    # The lock died with its process (SIGKILL included): the folder is free again.
    assert process.returncode == -signal.SIGKILL
    assert not is_locked(run)
    with run_lock(run, "zoo train"):
        assert is_locked(run)
    assert not is_locked(run)


def test_the_lock_is_reentrant_within_a_process_and_makes_the_folder(tmp_path):
    run = tmp_path / "a" / "b"
    with run_lock(run, "zoo distill"):
        assert run.is_dir() and (run / LOCK_NAME).is_file()
        with run_lock(run / ".", "zoo train"):  # the same folder, spelled another way
            pass
        assert is_locked(run)
    assert not is_locked(run)


def test_an_unmakeable_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ZooError, match="cannot make the run folder"):
        with run_lock(blocker / "run"):
            pass


def test_a_symlinked_lock_file_is_not_followed(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.symlink(victim, run / LOCK_NAME)
    with pytest.raises(ZooError, match="cannot lock the run folder"):
        with run_lock(run):
            pass
    assert victim.read_text() == "precious"
