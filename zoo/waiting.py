"""Worker threads that sleep while they wait, so that a busy machine slows zoo in proportion.

OpenMP runtimes (PyTorch's libgomp, Intel's libiomp) and onnxruntime's own pool keep their idle
threads spinning for a while after each parallel region, to start the next one sooner. On a quiet
machine that saves microseconds; beside another busy process the spinning threads take the cores
from the ones doing the work, and a network ran 7x slower on 2 threads than on a quiet machine
(2416 ms against 332 ms measured here, mwrcanet-srgb-demo at 256x256, under two training runs;
``benchmarks/under_load.py`` measures it side by side).

zoo therefore asks for passive waiting unless the user chose otherwise: ``OMP_WAIT_POLICY=PASSIVE``
(and ``KMP_BLOCKTIME=0`` for Intel's runtime) before PyTorch starts its OpenMP runtime, and no
spinning in onnxruntime sessions. Setting either variable yourself keeps your choice.
"""

from __future__ import annotations

import os
import sys

DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
ORT_SPINNING = ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning")


def prefer_passive_waiting() -> bool:
    """Set the OpenMP wait policy's defaults; False when PyTorch is imported already (its runtime
    read the environment then, and the caller's choice stands)."""
    if "torch" in sys.modules:
        return False
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    return True


def no_spinning(options: object) -> None:
    """Tell an onnxruntime ``SessionOptions`` that its pools must not spin while waiting."""
    for key in ORT_SPINNING:
        options.add_session_config_entry(key, "0")  # type: ignore[attr-defined]
