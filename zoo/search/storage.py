"""Where a study lives: a journal file in the run folder (one machine, several processes) or a
database (``--storage postgresql://...``, many machines) with heartbeats; and what happens to a
trial whose worker died.

The journal has no heartbeat, so this module keeps its own: a worker touches
``heartbeats/trial-N`` while trial N runs, and records its host and process id on the trial. A
RUNNING trial is stale when its process is gone (same host) or its heartbeat is older than the
grace period; it is then failed and enqueued again (Optuna's retry callback, as the database's
heartbeat does), and the retry resumes the candidate from its trainer checkpoint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError, first_line
from zoo.install import pip_hint, require
from zoo.fileio import atomic_path
from zoo.reading import read_json_object
from zoo.search.journal import check_journal, damaged_storage
from zoo.search.status import RUNG_SUFFIX

JOURNAL = "study.journal"
FOLDER_FILE = "search.json"  # in the run folder: where its study lives
HEARTBEAT_DIR = "heartbeats"
DEFAULT_HEARTBEAT = 30  # seconds between heartbeats
DEFAULT_GRACE = 120  # seconds without one before a running trial counts as dead
MAX_RETRY = 2  # a trial killed more often than this is left failed
RDB_SCHEMES = ("postgresql", "mysql", "sqlite")


def require_optuna():
    """Optuna, or one line saying how to install it."""
    optuna = require("optuna", "zoo search", extra="search")
    if int(optuna.__version__.split(".")[0]) != 5:
        hint = pip_hint('"optuna>=5,<6"')
        raise ZooError(f"zoo search needs Optuna 5, found {optuna.__version__}: {hint}")
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are reported as one line by the runner
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


@dataclass
class Location:
    """A study's storage and name, and the run folder when there is one."""

    storage: Any  # an Optuna storage
    url: str  # for messages: the journal's path or the URL without its password
    study: str | None
    folder: Path | None
    journal: bool
    stored_url: str | None = None  # a database URL without its password (kept in the run folder)


def _parse_url(url: str, what: str = "--storage"):
    """SQLAlchemy's URL of ``url``, or one line: a bad port was a ValueError from int()."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError, TypeError) as exc:
        reason = "; its port is not a number" if "int()" in str(exc) or "port" in str(exc).lower() else ""
        raise ZooError(f"{what} {_shown(url)} is not a database URL (e.g. postgresql://user@host/db){reason}") from None


def _shown(url: str) -> str:
    """A URL zoo could not parse, for a message: quoted (control characters escaped), without
    what may be a password (``user:secret@``)."""
    return repr(re.sub(r"//[^/@]*@", "//...@", url))[:200]


def _safe_url(url: str) -> str:
    """For messages: the password masked."""
    return _parse_url(url).render_as_string(hide_password=True)


def _url_without_password(url: str) -> str:
    """What the run folder keeps: the password comes from PGPASSWORD or ~/.pgpass (libpq's own)."""
    return _parse_url(url).set(password=None).render_as_string(hide_password=False)


def open_url(url: str, *, heartbeat: int = DEFAULT_HEARTBEAT, grace: int = DEFAULT_GRACE):
    """An RDB storage with heartbeats: a worker that dies stops beating, and after ``grace``
    seconds its trial is failed and enqueued again by the next worker to start a trial."""
    optuna = require_optuna()
    parsed = _parse_url(url)
    try:
        port = parsed.port  # SQLAlchemy checks the port only when it is asked for
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise ZooError(f"--storage {_shown(url)} is not a database URL: its port is not a number from 1 to 65535") from None
    if parsed.get_backend_name() not in RDB_SCHEMES:
        raise ZooError(f"--storage: unsupported database {parsed.get_backend_name()!r}; use one of {', '.join(RDB_SCHEMES)}")
    check_heartbeat(heartbeat, grace)
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    try:
        return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat, grace_period=grace,
                                          heartbeat_stale_trial_callback=retry)
    except ImportError:  # SQLAlchemy 2.1 reaches PostgreSQL through psycopg 3
        raise ZooError(f"--storage {_safe_url(url)}: its database driver is not installed: "
                       f"{pip_hint('psycopg', extra='search')} (psycopg for PostgreSQL)") from None
    except Exception as exc:  # SQLAlchemy's OperationalError and kin: no server, bad password, ...
        raise ZooError(f"cannot open the storage {_safe_url(url)}: {first_line(exc)}") from None


def check_heartbeat(heartbeat: int, grace: int) -> None:
    """``--heartbeat`` of at least a second and ``--grace`` longer (0 touched the heartbeat file
    in a busy loop, and every running trial counted as dead at once)."""
    if heartbeat < 1 or grace <= heartbeat:
        raise ZooError(f"--heartbeat must be at least 1 s and --grace longer than it, got {heartbeat} and {grace}")


def open_journal(folder: Path, *, new: bool = False):
    """The journal storage of ``folder``, its file checked first (:func:`zoo.search.journal.check_journal`)
    unless ``new`` (a search starting there). Optuna's own errors on replaying it are one line."""
    require_optuna()
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not new:
        check_journal(folder / JOURNAL)
    folder.mkdir(parents=True, exist_ok=True)
    # Optuna's default lock (a symlink beside the file), as optuna-dashboard opens it too.
    with damaged_storage(str(folder / JOURNAL)):
        return JournalStorage(JournalFileBackend(str(folder / JOURNAL)))


def open_for_run(out: Path, url: str | None, *, heartbeat: int, grace: int) -> Location:
    """The storage of ``zoo search run``: the folder's journal, or the database at ``url``; the
    folder remembers which (``search.json``), so status and report take the folder alone. A
    folder that holds a search must still hold its journal: a missing or empty one is refused,
    not replaced by a new study."""
    check_heartbeat(heartbeat, grace)
    # a bad URL fails as one line before anything is made
    storage = None if url is None else open_url(url, heartbeat=heartbeat, grace=grace)
    recorded = read_folder_file(out)
    if recorded and (recorded["storage"] or None) != (_url_without_password(url) if url else None):
        was = recorded["storage"] or "its journal"
        raise ZooError(f"{out} belongs to a search stored in {was}; give the same --storage, or another --out")
    if url is None:
        journal = out / JOURNAL
        if recorded is not None:  # resuming: the trials so far must be there
            try:
                size = journal.stat().st_size
            except FileNotFoundError:
                size = None
            if not size:
                raise ZooError(f"{out} holds search {recorded['study']!r} but its {JOURNAL} is "
                               f"{'missing' if size is None else 'empty'}: its trials are lost; give another --out "
                               f"(or remove {out / FOLDER_FILE} to start a new search there)")
        return Location(open_journal(out, new=recorded is None and not journal.exists()), str(journal), None, out, True)
    return Location(storage, _safe_url(url), None, out, False, _url_without_password(url))


def write_folder_file(out: Path, location: Location, study: str) -> None:
    # The URL is kept without its password: give it through PGPASSWORD or ~/.pgpass, or pass the URL.
    data = {"storage": None if location.journal else location.stored_url, "study": study}
    with atomic_path(out / FOLDER_FILE) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def read_folder_file(out: Path) -> dict[str, Any] | None:
    """``search.json`` of a run folder, checked (a table naming the study, and a database URL
    or null); None when the folder has none."""
    path = out / FOLDER_FILE
    data = read_json_object(path, "the search's folder file", missing_ok=True)
    if data is None:
        return None
    study, storage = data.get("study"), data.get("storage")
    if not isinstance(study, str) or not study.strip():
        raise ZooError(f"{path}: \"study\" must name the study (a string), got {_brief(study)}")
    if storage is not None and not (isinstance(storage, str) and storage.strip()):
        raise ZooError(f"{path}: \"storage\" must be a database URL or null, got {_brief(storage)}")
    return {"study": study, "storage": storage}


def _brief(value: Any) -> str:
    text = "nothing" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def locate(target: str, study: str | None = None, storage: str | None = None) -> Location:
    """A search given as its run folder or as a database URL (status, report, export).

    A database named in a folder's ``search.json`` is opened only when the same URL is given
    on the command line (``storage``, from ``--storage``): a folder someone sent must not make zoo
    connect anywhere, or create a SQLite file at a path of its choosing."""
    if "://" in target:
        return Location(open_url(target), _safe_url(target), study, None, False)
    folder = Path(target).expanduser()
    recorded = read_folder_file(folder)
    if recorded is None:
        raise ZooError(f"{folder} is not a search folder (no {FOLDER_FILE}): give the --out of zoo search run, or a URL")
    if recorded["storage"]:
        named = _shown(recorded["storage"])
        with contextlib.suppress(ZooError):
            named = _safe_url(recorded["storage"])
        if storage is None:
            raise ZooError(f"{folder}'s search is stored in the database {named}: zoo opens a database only when "
                           "it is named on the command line; give --storage URL (or the URL instead of the folder)")
        if _url_without_password(storage) != _url_without_password(recorded["storage"]):
            raise ZooError(f"{folder}'s search is stored in {named}, not in {_safe_url(storage)}")
        return Location(open_url(storage), _safe_url(storage), study or recorded["study"], folder, False)
    if storage is not None:
        raise ZooError(f"{folder}'s search is stored in its journal, not in a database: leave out --storage")
    if not os.path.lexists(folder / JOURNAL):
        raise ZooError(f"{folder} has no {JOURNAL}: the search's journal is missing")
    return Location(open_journal(folder), str(folder / JOURNAL), study or recorded["study"], folder, True)


def study_name(location: Location) -> str:
    """The study to show: the one named, or the storage's only study."""
    optuna = require_optuna()
    with damaged_storage(location.url):  # a search's promotions are a study of their own beside it
        names = [n for n in optuna.get_all_study_names(location.storage) if not n.endswith(RUNG_SUFFIX)]
    if location.study is not None:
        if location.study not in names:
            raise ZooError(f"no study {location.study!r} in {location.url}; it holds {', '.join(names) or 'none'}")
        return location.study
    if len(names) != 1:
        raise ZooError(f"{location.url} holds {len(names)} studies ({', '.join(names) or 'none'}): name one with --study")
    return names[0]


# --- heartbeats -----------------------------------------------------------------------------------

def worker_identity() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


@contextlib.contextmanager
def heartbeat(folder: Path, number: int, interval: float, prefix: str = "trial") -> Iterator[None]:
    """Touch ``heartbeats/trial-N`` (``rung-N`` for a promotion) every ``interval`` seconds while
    the block runs."""
    path = folder / HEARTBEAT_DIR / f"{prefix}-{number}"
    path.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def beat() -> None:
        while True:
            path.touch()
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, daemon=True, name=f"zoo-heartbeat-{number}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        path.unlink(missing_ok=True)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    try:  # a zombie (killed, not yet reaped by its parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def is_stale(trial, folder: Path, grace: float, now: float | None = None, prefix: str = "trial") -> bool:
    """Whether a RUNNING journal trial's worker is dead: its process is gone (same host), or no
    heartbeat for ``grace`` seconds (from its start, before the first beat)."""
    now = time.time() if now is None else now
    worker = trial.user_attrs.get("worker") or {}
    if worker.get("host") == socket.gethostname() and isinstance(worker.get("pid"), int) and _process_gone(worker["pid"]):
        return True
    beat = folder / HEARTBEAT_DIR / f"{prefix}-{trial.number}"
    try:
        last = beat.stat().st_mtime
    except FileNotFoundError:
        start = trial.datetime_start or dt.datetime.now()
        last = start.timestamp()
    return now - last > grace


def retry_stale_trials(study, folder: Path, grace: float, prefix: str = "trial") -> list[int]:
    """Fail the journal's stale RUNNING trials and enqueue each again (at most ``MAX_RETRY``
    times, as RDB storage does); returns their numbers."""
    optuna = require_optuna()
    from optuna.trial import TrialState

    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_stale(trial, folder, grace, prefix=prefix):
            continue
        try:
            if not study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker failed it first
            continue
        failed.append(trial.number)
        retry(study, study._storage.get_trial(trial._trial_id))
    return failed
