"""Atomic file writes: a reader never sees a half-written file, and a crash leaves the old one.

``atomic_path`` only ever replaces a regular file, or a symbolic link (the link itself: what it
points to is left as it is). A folder, FIFO, socket or device at the target is refused before
anything is written: as root, ``zoo eval --csv /dev/null`` would otherwise replace the system's
``/dev/null`` with a regular file.

The temporary file beside the target is named ``.NAME.zoo-<8 random characters>.tmp`` and
locked (``flock``) by its writer until it is renamed or removed. A writer killed mid-write
(SIGKILL, power loss) strands its temporary file, but its lock dies with it: the first write a
process makes to a folder removes the unlocked temporary files of that naming there (and the
``.NAME.<8 random characters>.tmp`` of the target itself, the naming of earlier versions). A failure to write (a full disk, no
permission) is a :class:`~zoo.errors.WriteError`: one line, and an ``OSError`` too.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from zoo.errors import WriteError, ZooError, first_line

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; temporary files are then never swept
    fcntl = None  # type: ignore[assignment]

TEMP_MARK, TEMP_SUFFIX = ".zoo-", ".tmp"
_OURS = re.compile(r"^\..+\.zoo-[a-z0-9_]{8}\.tmp$")  # tempfile's names: 8 of [a-z0-9_]
_NEARLY_FULL = 1 << 20  # bytes: below this, a failed write is put down to a full disk
_swept: set[str] = set()  # folders this process has swept (a kill strands files of earlier processes)
_swept_lock = threading.Lock()


def cache_dir() -> Path:
    """Where zoo keeps what it can rebuild (exports, engines, built-in sets): ``$ZOO_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/zoo``, else ``~/.cache/zoo``."""
    base = os.environ.get("ZOO_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "zoo")
    return Path(base)


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def check_replaceable(path: str | os.PathLike[str]) -> None:
    """A :class:`WriteError` unless ``path`` is missing, a regular file or a symbolic link: the
    only things :func:`atomic_path` replaces."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError:
        return  # e.g. a parent that is not a folder: the write itself says so
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        kind = _kind(mode)
        reason = "it is a folder" if kind == "folder" else f"it is a {kind}, not a regular file (zoo replaces only files)"
        raise WriteError(path, reason)


def _legacy_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp$")


def _remove_if_stale(path: Path) -> None:
    """Unlink ``path`` if it is a regular file no process holds the lock of."""
    try:  # O_NONBLOCK: a FIFO that happens to carry the name must not hang the sweep
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live writer holds it (or this file system has no locks): leave it
            return
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) == (before.st_dev, before.st_ino):
            os.unlink(path)
    except OSError:
        pass  # gone already, or not ours to remove: sweeping is a courtesy, never an error
    finally:
        os.close(fd)


def sweep_stale_temporaries(folder: str | os.PathLike[str], target_name: str | None = None) -> None:
    """Remove the temporary files of zoo's naming in ``folder`` that no live writer holds (and
    the earlier versions' ``.TARGET.<8 random characters>.tmp`` of ``target_name``)."""
    if fcntl is None:
        return
    legacy = _legacy_pattern(target_name) if target_name else None
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)]
    except OSError:
        return
    for name in names:
        if _OURS.match(name) or (legacy is not None and legacy.match(name)):
            _remove_if_stale(Path(folder) / name)


def _sweep_once(folder: Path, target_name: str) -> None:
    key = os.path.realpath(folder)
    with _swept_lock:
        if key in _swept:
            return
        _swept.add(key)
    sweep_stale_temporaries(folder, target_name)


def _locked_temporary(target: Path) -> tuple[int, Path]:
    """A new temporary file beside ``target``, its descriptor holding the file's lock."""
    while True:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}{TEMP_MARK}", suffix=TEMP_SUFFIX, dir=target.parent)
        if fcntl is None:
            return fd, Path(name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # no locks on this file system: it can only be swept by hand
            return fd, Path(name)
        mine, there = os.fstat(fd), None
        with contextlib.suppress(OSError):
            there = os.lstat(name)
        if there is not None and (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino):
            return fd, Path(name)
        os.close(fd)  # another process swept it between its creation and the lock: make another


def _storage_reason(exc: BaseException, folder: Path) -> tuple[str, int | None] | None:
    """Why a writer's failure is the storage's (an OSError behind it, or a full disk); None when
    it is not (then it is raised as it is)."""
    seen: BaseException | None = exc
    for _ in range(16):  # the chain of causes, bounded (it cannot loop, but need not be long)
        if seen is None:
            break
        if isinstance(seen, OSError) and (seen.errno is not None or seen.strerror):
            return seen.strerror or first_line(seen), seen.errno
        seen = seen.__cause__ or seen.__context__
    found = re.search(r"os error (\d+)", str(exc))  # Rust libraries (safetensors) say it this way
    if found:
        return os.strerror(int(found.group(1))), int(found.group(1))
    try:
        fs = os.statvfs(folder)
    except (OSError, AttributeError):
        return None
    free = fs.f_bfree if hasattr(os, "geteuid") and os.geteuid() == 0 else fs.f_bavail
    if free * fs.f_frsize < _NEARLY_FULL:  # e.g. torch.save, which says only "unexpected pos"
        return os.strerror(28), 28
    return None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is synced and renamed onto ``path``.

    Refuses (:class:`WriteError`) a target that is a folder, FIFO, socket or device. A failure
    of the storage (full disk, permissions) is a :class:`WriteError`; the old file stays.
    """
    target = Path(path)
    check_replaceable(target)  # before anything is made: a temporary file in /dev is no better
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _sweep_once(target.parent, target.name)
        fd, tmp = _locked_temporary(target)
    except OSError as exc:
        raise WriteError(target, exc.strerror or first_line(exc), exc.errno) from exc
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp made it private (0600), and writers may have replaced it: give it the mode a
        # plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        check_replaceable(target)  # again: something may have appeared there while we wrote
        os.replace(tmp, target)
    except ZooError:
        raise
    except OSError as exc:
        raise WriteError(target, exc.strerror or first_line(exc), exc.errno) from exc
    except Exception as exc:  # a library's own error type for a failed write (torch, safetensors)
        reason = _storage_reason(exc, target.parent)
        if reason is None:
            raise
        raise WriteError(target, *reason) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # before the lock goes: no sweeper sees it unlocked
        os.close(fd)
