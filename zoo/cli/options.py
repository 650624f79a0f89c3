"""Options that several commands take, declared once: ``--weights``, ``--dtype``/``--device``,
``--tile``/``--overlap`` and ``--json``."""

from __future__ import annotations

import argparse

from zoo.errors import ZooError
from zoo.infer.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, check_tiling
from zoo.limits import check_tile
from zoo.precision import DTYPES

WEIGHTS_HELP = "weights file (zoo safetensors, or the published .pth layout)"


def add_weights(parser: argparse.ArgumentParser, help: str = WEIGHTS_HELP) -> None:
    parser.add_argument("--weights", help=help)


def add_device(parser: argparse.ArgumentParser) -> None:
    """``--dtype`` (the compute precision) and ``--device``."""
    parser.add_argument("--dtype", choices=list(DTYPES), default="float32", help="compute precision (default float32)")
    parser.add_argument("--device", help="cpu or cuda[:N] (default: cuda when available)")


def add_tiling(parser: argparse.ArgumentParser) -> None:
    """``--tile [T]`` and ``--overlap``; check them with :func:`check_tiling_options`."""
    parser.add_argument("--tile", type=int, nargs="?", const=DEFAULT_TILE, metavar="T",
                        help=f"process in overlapping tiles of at most T pixels a side (default T: {DEFAULT_TILE})")
    parser.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, help=f"tile overlap (default {DEFAULT_OVERLAP})")


def check_tiling_options(args: argparse.Namespace, multiple: int) -> None:
    """A one-line error for ``--tile``/``--overlap`` that do not fit a model of ``multiple``."""
    check_overlap(args)
    check_tile(args.tile)
    if args.tile is not None:
        check_tiling(args.tile, args.overlap, multiple)


def check_overlap(args: argparse.Namespace) -> None:
    """``--overlap`` is never negative, with or without ``--tile`` (a typo passed unnoticed)."""
    if args.overlap < 0:
        raise ZooError(f"--overlap must not be negative, got {args.overlap}")


def add_json(parser: argparse.ArgumentParser, help: str = "machine-readable output") -> None:
    parser.add_argument("--json", action="store_true", help=help)
