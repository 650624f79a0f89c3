"""A search's journal file, checked before Optuna replays it, and Optuna's errors on a damaged
storage said in one line.

Optuna reads ``study.journal`` line by line and trusts it: garbage bytes were a
UnicodeDecodeError, 10,000 nested brackets a RecursionError, an operation on a trial that does
not exist ``AssertionError: Should not reach.``, a folder in its place an IsADirectoryError.
:func:`check_journal` reads the file through :mod:`zoo.reading` (a regular file, within
:attr:`zoo.limits.Limits.max_journal_bytes`) and checks every line is a JSON object of Optuna's
operations within the depth limit, and that the file does not end mid-line (a truncated
journal). What a well-formed journal can still hold that Optuna refuses is caught where zoo calls
Optuna (:func:`damaged_storage`).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from zoo.errors import ZooError, first_line
from zoo.limits import current
from zoo.reading import parse_json, read_bytes

_OPERATIONS = range(0, 11)  # optuna.storages.journal's JournalOperation: CREATE_STUDY .. DISCARD_TRIALS
_WRITING_PAUSE = 0.5  # seconds: a worker may be appending a line as it is read; look once more


def _line_problem(line: str, number: int) -> str | None:
    """Why line ``number`` is not an operation Optuna writes; None when it is one."""
    try:
        entry = parse_json(line, f"line {number}")
    except ZooError as exc:
        return str(exc)
    if not isinstance(entry, dict):
        return f"line {number} is not a JSON object"
    code = entry.get("op_code")
    if isinstance(code, bool) or not isinstance(code, int) or code not in _OPERATIONS:
        return f"line {number} has no operation of Optuna's (op_code {code!r})"
    if not isinstance(entry.get("worker_id"), str):
        return f"line {number} names no worker"
    return None


def _read(path: Path) -> bytes:
    data = read_bytes(path, "the search's journal", current().max_journal_bytes)
    if data and not data.endswith(b"\n"):  # perhaps a line being written: read it once more
        time.sleep(_WRITING_PAUSE)
        data = read_bytes(path, "the search's journal", current().max_journal_bytes)
    return data


def check_journal(path: str | os.PathLike[str]) -> None:
    """One line (naming the file and the line) unless ``path`` is a journal Optuna can replay."""
    path = Path(path)
    data = _read(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data.count(b"\n", 0, exc.start) + 1
        raise ZooError(f"the search's journal {path} is damaged: line {bad} is not UTF-8 text") from None
    lines = text.split("\n")
    if lines[-1]:
        raise ZooError(f"the search's journal {path} is damaged: it ends inside line {len(lines)} "
                       "(truncated?); the search cannot be read or resumed from it")
    for number, line in enumerate(lines[:-1], start=1):
        problem = _line_problem(line, number)
        if problem is not None:
            raise ZooError(f"the search's journal {path} is damaged: {problem}")


@contextlib.contextmanager
def damaged_storage(where: str) -> Iterator[None]:
    """Optuna's own errors on a storage it cannot replay or read (an AssertionError from inside
    the journal's replay, a KeyError, SQLAlchemy's errors), as one line naming ``where``."""
    try:
        yield
    except ZooError:
        raise
    except Exception as exc:  # third-party code on a damaged file: any type; never a traceback
        reason = re.sub(r"\s+", " ", first_line(exc))[:200]
        raise ZooError(f"cannot read the search's storage {where}: it is damaged or not Optuna's "
                       f"({type(exc).__name__}: {reason})") from None
