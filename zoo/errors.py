"""Exceptions that zoo raises for a user's mistake (the CLI prints them as one line, exit 2)."""

from __future__ import annotations


class ZooError(Exception):
    """A user-facing error: bad name, bad file, bad option. Its message is one complete line."""


class UnknownNameError(ZooError):
    """No model or block is registered under the name asked for."""


class BrokenPluginError(ZooError):
    """The plugin exists but failed to load or is not a valid model factory / block class."""


class CheckpointError(ZooError):
    """A weights file is missing, unreadable, unsafe, or does not fit the model."""


class DamagedFile(ZooError):
    """A file zoo wrote itself and reads back (a run's settings, a candidate's result) cannot be
    read: not a regular file, above the size or depth limits, not UTF-8, not JSON, not an object.
    Its message names the file and the fault (:func:`zoo.reading.read_json_object`)."""


class WriteError(ZooError, OSError):
    """Writing a file failed or was refused (disk full, no permission, a device or FIFO in the way).

    An ``OSError`` too, so code that handles write failures keeps working. ``strerror`` is the
    reason alone (``args`` holds it, for callers that add "cannot write FILE:" themselves); the
    message says ``cannot write FILE: reason``.
    """

    def __init__(self, path: object, reason: str, errno: int | None = None) -> None:
        super().__init__(reason)
        self.errno, self.strerror, self.filename = errno, reason, str(path)

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


class PluginWarning(RuntimeWarning):
    """A plugin failed to load, or two distributions provide the same name."""


def from_the_user(exc: BaseException) -> bool:
    """Whether ``exc`` is the user's (Ctrl-C) or the interpreter's own: everything else third-party
    code raises, a ``BaseException`` subclass of its own included, is contained like an error."""
    return type(exc) in (KeyboardInterrupt, GeneratorExit)  # a plugin's own subclass of them is contained


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (decoding bytes, as rawpy raises), else its type."""
    text = exc.args[0] if len(exc.args) == 1 else str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
