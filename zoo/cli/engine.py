"""``--engine`` for `zoo denoise` and `zoo ort` (:mod:`zoo.export.engines` chooses; the opening
line of :func:`zoo.cli.denoise.denoise_files` names the engine that ran and why)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

AUTO_HELP = ("engine (default auto: on a GPU as before; on a CPU the fastest installed for this model and "
             "precision, measured once on this machine and kept, again when the machine was busy; a small model "
             "runs in PyTorch until its ONNX export exists; zoo cache clear to measure again)")


def add_engine(parser: argparse.ArgumentParser, engines: Sequence[str]) -> None:
    parser.add_argument("--engine", choices=["auto", *engines], default="auto", help=AUTO_HELP)


def say(message: str) -> None:
    """A one-line note on stderr, as the CLI's other notes."""
    print(f"zoo: {message}", file=sys.stderr)
