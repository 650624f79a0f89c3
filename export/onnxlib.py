"""What the exporter and the runner share: the optional ONNX libraries, imported on demand with
an install hint, and the names of an exported graph's input and output."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from types import ModuleType

import numpy as np

from zoo.errors import ZooError
from zoo import install

INPUT_NAME, OUTPUT_NAME = "noisy", "denoised"


def run_in_fixed_batches(x: np.ndarray, fixed_batch: int | None, run: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``run(x)``, for a graph exported with a fixed batch size: in chunks of that size, the last one
    filled up with copies of its final image (the copies' outputs dropped)."""
    if fixed_batch is None or len(x) == fixed_batch:
        return run(x)
    outputs = []
    for start in range(0, len(x), fixed_batch):
        chunk = x[start:start + fixed_batch]
        filled = np.concatenate([chunk, np.repeat(chunk[-1:], fixed_batch - len(chunk), axis=0)])
        outputs.append(run(filled)[:len(chunk)])
    return np.concatenate(outputs)


def require(module: str) -> ModuleType:
    """Import an optional ONNX dependency, or say how to install it."""
    if module == "onnxruntime":
        _refuse_two_onnxruntimes()
    # onnxruntime: the CPU build by name; the GPU build comes with the `onnx` extra (never both).
    return install.require(module, extra="onnx-cpu" if module == "onnxruntime" else "onnx")


def _refuse_two_onnxruntimes() -> None:
    """onnxruntime and onnxruntime-gpu install into the same folder and break each other."""
    installed = []
    for name in ("onnxruntime", "onnxruntime-gpu"):
        try:
            installed.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    if len(installed) == 2:
        raise ZooError(f"both {' and '.join(installed)} are installed and break each other: "
                       "pip uninstall -y onnxruntime onnxruntime-gpu, then pip install onnxruntime-gpu (or onnxruntime)")
