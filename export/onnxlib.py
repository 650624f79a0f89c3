"""What the exporter and the runner share: the optional ONNX libraries, imported on demand with
an install hint, and the names of an exported graph's input and output."""

from __future__ import annotations

import importlib.metadata
from types import ModuleType

from zoo.errors import ZooError, first_line
from zoo.install import pip_hint

INPUT_NAME, OUTPUT_NAME = "noisy", "denoised"


def require(module: str) -> ModuleType:
    """Import an optional ONNX dependency, or say how to install it."""
    if module == "onnxruntime":
        _refuse_two_onnxruntimes()
    try:
        return __import__(module)
    except ImportError as exc:
        # onnxruntime: the CPU build by name; the GPU build comes with the `onnx` extra (never both).
        hint = pip_hint(module, extra="onnx-cpu" if module == "onnxruntime" else "onnx")
        raise ZooError(f"{module} is not installed: {hint} ({first_line(exc)})") from None


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
