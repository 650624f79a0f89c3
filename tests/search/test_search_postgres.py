"""zoo search on a real PostgreSQL server, started by the test: two workers on one database,
one killed mid-trial; the database's heartbeat fails its trial and the other worker retries it
from the candidate's checkpoint. Without a PostgreSQL to start, this test (only) is skipped and
says why; `.ci/run` installs Debian's `postgresql` when it is missing."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", reason="zoo search needs optuna (pip install -e '.[search]')")
pytest.importorskip("psycopg", reason="PostgreSQL storage needs psycopg (pip install 'psycopg[binary]')")

from tests.search.test_search_run import worker  # noqa: E402


def _find(tool: str) -> str | None:
    return shutil.which(tool) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_line(done: subprocess.CompletedProcess) -> str:
    text = (done.stderr or done.stdout or "").strip().splitlines()
    return text[0] if text else f"exit status {done.returncode}"


@pytest.fixture
def postgres_url():
    initdb, pg_ctl = _find("initdb"), _find("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("no PostgreSQL server here (initdb/pg_ctl not found): apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="zoo-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the account its package made
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' account to run PostgreSQL as")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    done = subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                          capture_output=True, text=True)
    if done.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {_first_line(done)}")
    start = [*as_user, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
             "-o", f"-p {port} -k {root} -h 127.0.0.1 -F", "start"]
    done = subprocess.run(start, capture_output=True, text=True)
    if done.returncode:
        log = (root / "log").read_text().strip().splitlines() if (root / "log").exists() else []
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {log[-1] if log else _first_line(done)}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_on_postgres_one_killed_mid_trial(postgres_url, tmp_path):
    out = tmp_path / "pg"
    args = ["search", "run", "tiny", "--out", str(out), "--storage", postgres_url, "--trials", "4",
            "--steps", "40", "--batch", "4", "--patch", "32", "--population", "4", "--validations", "2", "--no-early-stop",
            "--heartbeat", "1", "--grace", "4"]
    victim, survivor = worker(args), worker(args)
    storage = optuna.storages.RDBStorage(postgres_url)
    deadline, killed = time.monotonic() + 900, None
    while killed is None and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.3)
        try:
            study = optuna.load_study(study_name="pg", storage=storage)
        except KeyError:  # not created yet
            continue
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            folder = out / "candidates" / str(t.user_attrs.get("candidate"))
            if t.user_attrs.get("worker", {}).get("pid") == victim.pid and (folder / "run" / "last.pt").exists():
                killed = t.number
                victim.send_signal(signal.SIGKILL)  # mid-trial: after a checkpoint, before the end
                break
    victim.communicate()
    assert killed is not None, "the victim never reached a checkpoint"
    stdout, stderr = survivor.communicate(timeout=1200)
    assert survivor.returncode == 0, stderr

    study = optuna.load_study(study_name="pg", storage=storage)
    failed = next(t for t in study.trials if t.number == killed)
    assert failed.state.name == "FAIL"  # its heartbeat stopped: failed by the database's rule, not left RUNNING
    retry = next(t for t in study.trials if t.system_attrs.get("failed_trial") == killed)
    assert retry.state.name == "COMPLETE" and retry.params == failed.params
    assert retry.user_attrs["worker"]["pid"] == survivor.pid
    assert retry.user_attrs["resumed_from"] > 0  # the candidate went on from the victim's checkpoint
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    counted = [t for t in study.trials if t.state.name == "COMPLETE" and t.user_attrs.get("counted")]
    assert len(counted) >= 4
    enqueued = [t.user_attrs["seed"] for t in study.trials if t.user_attrs.get("seed") and "failed_trial" not in t.system_attrs]
    assert sorted(enqueued) == ["mwrcanet", "mwresnet"]  # seeded once, though both workers started together
