"""Options that several commands take, declared once: ``--weights``, ``--precision``, ``--dtype``/``--device``,
``--tile``/``--overlap``, ``--threads`` and ``--json``."""

from __future__ import annotations

import argparse
import warnings

import torch

from zoo.errors import ZooError
from zoo.infer.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, check_tiling
from zoo.limits import check_threads, check_tile
from zoo.precision import DTYPES, INFERENCE_PRECISIONS, LOSS_BOUND_DB
from zoo.waiting import threads_for_load

WEIGHTS_HELP = "weights file (zoo safetensors, or the published .pth layout)"


def add_weights(parser: argparse.ArgumentParser, help: str = WEIGHTS_HELP) -> None:
    parser.add_argument("--weights", help=help)


def add_device(parser: argparse.ArgumentParser, dtype: bool = True) -> None:
    """``--dtype`` (the compute precision; left out where ``--precision`` is) and ``--device``."""
    if dtype:
        parser.add_argument("--dtype", choices=list(DTYPES), default="float32", help="compute precision (default float32)")
    parser.add_argument("--device", help="cpu or cuda[:N] (default: cuda when available)")


PRECISION_HELP = (f"compute precision (default auto: on a CPU the fastest precision at most {LOSS_BOUND_DB:g} dB below "
                  "float32 in PSNR on the model's held-out set, by its card or measured once and kept; bfloat16 only where "
                  "the CPU runs it natively; int8 from a `zoo quantize` file; float32 on a GPU)")


def add_precision(parser: argparse.ArgumentParser, choices: tuple[str, ...] = INFERENCE_PRECISIONS) -> None:
    """``--precision auto|float32|bfloat16|int8`` and ``--dtype``, its deprecated alias; read them
    with :func:`precision_of`."""
    parser.add_argument("--precision", choices=list(choices), help=PRECISION_HELP)
    parser.add_argument("--dtype", choices=[c for c in choices if c not in ("auto", "int8")],
                        help="deprecated: --precision (the same values)")


def precision_of(args: argparse.Namespace) -> str:
    """The precision asked for: ``--precision``, else ``--dtype`` (deprecated, said once), else auto."""
    dtype = getattr(args, "dtype", None)
    if dtype is None:
        return args.precision or "auto"
    if args.precision not in (None, dtype):
        raise ZooError(f"--dtype {dtype} and --precision {args.precision} disagree: give --precision alone")
    warnings.warn(f"--dtype is deprecated: use --precision {dtype}", FutureWarning, stacklevel=2)
    return dtype


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


THREADS_HELP = ("CPU threads of every engine (default: the cores that other processes leave idle at the "
                "start, at least one)")


def add_threads(parser: argparse.ArgumentParser, help: str = THREADS_HELP) -> None:
    parser.add_argument("--threads", type=int, help=help)


def use_threads(args: argparse.Namespace) -> None:
    """Give torch (and so every engine, which takes torch's count) ``--threads``, or where it is not
    given as many threads as there are idle cores (:func:`zoo.waiting.threads_for_load`): a thread
    on a core another process holds stalls every parallel region. ``args.threads`` then holds the
    count, so engines measured for it are chosen for it, and ``args.threads_note`` says why it is
    fewer than the cores (for the opening line; None when it is not)."""
    args.threads_note = None
    if getattr(args, "threads", None) is not None:
        check_threads(args.threads)
    else:
        args.threads, args.threads_note = threads_for_load()
    torch.set_num_threads(args.threads)


def threads_said(args: argparse.Namespace) -> str:
    """The opening line's note on the thread count, or nothing."""
    note = getattr(args, "threads_note", None)
    return f" [{note}]" if note else ""
