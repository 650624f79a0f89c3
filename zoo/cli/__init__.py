"""The ``zoo`` command line: one subcommand a module, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence

from zoo.cli import bench, denoise, distill, evaluate, export, info, listing, ort, search, train
from zoo.errors import ZooError
from zoo.version import __version__

COMMANDS = (listing, info, bench, denoise, evaluate, export, ort, train, distill, search)


class UsageError(Exception):
    """A command line argparse refuses; its message is the one line argparse would print."""


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error comes back to :func:`main` (which also prints it as
    JSON under ``--json``) instead of ending the process."""

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        error = UsageError(f"{self.prog}: error: {message}")
        error.reason = message
        raise error


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zoo", description="A model zoo for real-image denoising.")
    parser.add_argument("--version", action="version", version=f"zoo {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
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
    parser = build_parser()
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
    except ZooError as exc:
        print(f"zoo: error: {exc}", file=sys.stderr)
        if as_json:
            _json_error(str(exc), type(exc).__name__, 2)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        if as_json:
            _json_error("interrupted", "KeyboardInterrupt", 130)
        return 130


def entry() -> None:
    """Console-script entry point."""
    try:
        sys.exit(main())
    except BrokenPipeError:  # `zoo info ... | head`: the reader left; no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
