"""zoo's worker threads sleep while they wait unless the user chose otherwise (busy machines)."""

import os
import subprocess
import sys

import pytest

from zoo.waiting import no_spinning

PROBE = "import os, zoo, torch; print(os.environ['OMP_WAIT_POLICY'], os.environ.get('KMP_BLOCKTIME'))"


def _policy(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip()


def test_importing_zoo_asks_for_passive_waiting_and_keeps_a_users_choice():
    assert _policy({}) == "PASSIVE 0"
    assert _policy({"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE 0"


def test_onnxruntime_sessions_do_not_spin():
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    no_spinning(options)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
