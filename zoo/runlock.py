"""One writer per run folder: ``with run_lock(folder, "zoo train"):`` holds an advisory lock
(``flock``) on ``folder/.zoo.lock`` while a process writes the folder.

A second process asking for the same folder is refused at once with a one-line
:class:`~zoo.errors.ZooError` naming the holder (pid, host, command, since when); two runs in one
folder would otherwise leave a mix of both (``best`` from one seed, ``final`` from the other).
The lock goes with its process, however it ends (a kill included), so it is never stale; the
file itself stays. Within one process the lock is re-entrant (a pipeline that trains into its own
folder). Where there is no ``fcntl`` (Windows) nothing is locked.

``with waiting_lock(path):`` is the other kind of lock zoo takes, on a file: it waits for its
turn instead (a search's workers seeding their study, one candidate trained at a time). Both
lock with ``flock``, go with their process, and lock nothing where locks are not to be had.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from zoo.errors import DamagedFile, ZooError
from zoo.reading import read_json_object

try:
    import fcntl
except ImportError:
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".zoo.lock"
_held: dict[str, list[int]] = {}  # real path -> [descriptor, depth]: this process's locks
_held_lock = threading.Lock()


def _flock(fd: int, wait: bool) -> bool | None:
    """Lock the open file ``fd`` exclusively: True when taken, False when another process holds
    it (``wait`` False), None where there are no locks (no ``fcntl``, or a file system without)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _open(lock_file: Path, what: str) -> int:
    try:
        return os.open(lock_file, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                       0o644)
    except OSError as exc:
        raise ZooError(f"cannot lock {what} {lock_file.parent}: {exc.strerror or exc}") from None


def _holder(lock_file: Path) -> str:
    """Who holds the lock, from what it wrote into the file (best effort: a note being written,
    or damaged, names nobody)."""
    try:
        info = read_json_object(lock_file, "the lock's note", missing_ok=True) or {}
    except DamagedFile:
        return ""
    parts = [f"pid {info['pid']}" if "pid" in info else "", f"on {info['host']}" if "host" in info else ""]
    text = " ".join(p for p in parts if p)
    if info.get("command"):
        text += f", {info['command']}"
    if info.get("since"):
        text += f", since {info['since']}"
    return f" ({text.strip(', ')})" if text else ""


def _acquire(folder: Path, what: str) -> str | None:
    """Lock ``folder``; the key to release it with (None when nothing was locked)."""
    if fcntl is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot make the run folder {folder}: {exc.strerror or exc}") from None
    key = os.path.realpath(folder)
    with _held_lock:
        if key in _held:
            _held[key][1] += 1
            return key
        lock_file = folder / LOCK_NAME
        fd = _open(lock_file, "the run folder")
        taken = _flock(fd, wait=False)
        if not taken:
            os.close(fd)
            if taken is None:  # a file system without locks: run unlocked rather than not at all
                return None
            raise ZooError(f"{folder} is in use by another zoo process{_holder(lock_file)}: wait for it to "
                           "finish, or use another folder")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": what,
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        with contextlib.suppress(OSError):  # only words for the message of a refused process
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        _held[key] = [fd, 1]
        return key


def _release(key: str | None) -> None:
    if key is None:
        return
    with _held_lock:
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[key]
            os.close(entry[0])  # closing the descriptor releases the flock


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike[str], what: str | None = None) -> Iterator[Path]:
    """Hold ``folder``'s lock (making the folder) for the ``with`` block; a :class:`ZooError` if
    another process holds it. ``what`` names this process in the other's message (default: its
    command line)."""
    path = Path(folder)
    key = _acquire(path, what or " ".join(["zoo", *sys.argv[1:3]]))
    try:
        yield path
    finally:
        _release(key)


@contextlib.contextmanager
def waiting_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made, with its folder, if need be) for the
    ``with`` block, waiting while another process holds it. Not re-entrant."""
    lock_file = Path(path)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot make the folder {lock_file.parent}: {exc.strerror or exc}") from None
    fd = _open(lock_file, "the folder")
    try:
        _flock(fd, wait=True)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def is_locked(folder: str | os.PathLike[str]) -> bool:
    """Whether some process (this one included) holds ``folder``'s lock."""
    if fcntl is None:
        return False
    key = os.path.realpath(folder)
    with _held_lock:
        if key in _held:
            return True
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        return _flock(fd, wait=False) is False  # taken here (then released by the close): nobody held it
    finally:
        os.close(fd)
