"""The ``zoo`` command line: one subcommand a module, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from zoo.cli import bench, denoise, distill, evaluate, export, info, listing, ort, search, train
from zoo.errors import ZooError
from zoo.version import __version__

COMMANDS = (listing, info, bench, denoise, evaluate, export, ort, train, distill, search)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="A model zoo for real-image denoising.")
    parser.add_argument("--version", action="version", version=f"zoo {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"zoo: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a user's mistake prints one line and returns 2 (no traceback)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        return args.run(args)
    except ZooError as exc:
        print(f"zoo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """Console-script entry point."""
    try:
        sys.exit(main())
    except BrokenPipeError:  # `zoo info ... | head`: the reader left; no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
