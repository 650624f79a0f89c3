"""The ``zoo`` command line: one subcommand a module, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from zoo.errors import ZooError
from zoo.terminal import printable
from zoo.version import __version__

# errno values of OSErrors about a path the user gave: said in one line by main()
FILE_ERRORS = frozenset({errno.ENAMETOOLONG, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                         errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.ENOENT, errno.EEXIST, errno.EXDEV})

# command -> the module that defines it. Only the command that runs is imported (the one stated
# exception to imports at the top: all eleven cost about a second of start-up, measured, before
# `zoo denoise` does anything, pulling in training, search and SciPy's statistics); `zoo --help`
# and a mistyped command import them all.
COMMANDS = {"list": "listing", "info": "info", "bench": "bench", "denoise": "denoise", "eval": "evaluate",
            "export": "export", "ort": "ort", "quantize": "quantize", "train": "train", "distill": "distill", "search": "search",
            "cache": "cache"}


class UsageError(Exception):
    """A command line argparse refuses; its message is the one line argparse would print."""

    reason: str  # argparse's own message, without the usage prefix (set by _Parser.error)


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error comes back to :func:`main` (which also prints it as
    JSON under ``--json``) instead of ending the process."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        error = UsageError(f"{self.prog}: error: {message}")
        error.reason = message
        raise error


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser: with ``argv`` naming a command first, that command's only."""
    parser = _Parser(prog="zoo", description="A model zoo for real-image denoising.")
    parser.add_argument("--version", action="version", version=f"zoo {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else list(COMMANDS)
    for name in wanted:
        importlib.import_module(f"zoo.cli.{COMMANDS[name]}").add_parser(subparsers)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"zoo: warning: {message}", file=sys.stderr if file is None else file)


def _json_error(message: str, kind: str, status: int) -> None:
    """Under ``--json`` an error is JSON on stdout too, so a caller parsing stdout sees it."""
    print(json.dumps({"error": message, "type": kind, "status": status}))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a user's mistake prints one line and returns 2 (no traceback). With
    ``--json`` the error is also printed on stdout as ``{"error": ..., "type": ..., "status": ...}``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        if "--json" in argv:
            _json_error(getattr(exc, "reason", str(exc)), "UsageError", 2)
        return 2
    warnings.showwarning = _one_line_warning
    as_json = bool(getattr(args, "json", False))
    try:
        return args.run(args)
    except ZooError as exc:  # its text may quote a file's (names, metadata): escaped, and kept to one line
        print(f"zoo: error: {printable(exc, one_line=True)}", file=sys.stderr)
        if as_json:
            _json_error(str(exc), type(exc).__name__, 2)
        return 2
    except OSError as exc:
        if exc.errno not in FILE_ERRORS or not exc.filename:  # no file named: stdout's (entry() says so), or a bug
            raise
        # What the file system says of a path the user gave (a name longer than it allows, a
        # read-only folder): the user's to fix, so one line naming the file, as a ZooError is.
        message = printable(f"{exc.filename}: {exc.strerror or exc}", one_line=True)
        print(f"zoo: error: {message}", file=sys.stderr)
        if as_json:
            _json_error(message, "OSError", 2)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        if as_json:
            _json_error("interrupted", "KeyboardInterrupt", 130)
        return 130


class StdoutError(OSError):
    """Standard output could not be written (``> /dev/full``: ENOSPC; a closed terminal: EIO)."""


class _GuardedStdout:
    """``sys.stdout`` whose failures say that they are stdout's: a bare OSError from ``print``
    cannot be told from any other."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc.errno, exc.strerror) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc.errno, exc.strerror) from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def entry() -> None:
    """Console-script entry point. Standard output that cannot be written (``> /dev/full``, a
    reader that left) ends zoo with one line on stderr and a non-zero exit, not a traceback: it
    is flushed here, before exit, where the failure can still be said."""
    sys.stdout = _GuardedStdout(sys.stdout)
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `zoo info ... | head`: the reader left; nothing to say, no traceback
        _silence_stdout()
        sys.exit(1)
    except StdoutError as exc:
        _silence_stdout()
        print(f"zoo: error: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit fails no more."""
    stdout = sys.__stdout__
    if stdout is None:  # no standard output at all (pythonw): nothing to silence
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
