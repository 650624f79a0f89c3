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


class PluginWarning(RuntimeWarning):
    """A plugin failed to load, or two distributions provide the same name."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (decoding bytes, as rawpy raises), else its type."""
    text = exc.args[0] if len(exc.args) == 1 else str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
