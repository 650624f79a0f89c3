"""ONNX export and the onnxruntime runner (``pip install "zoo-denoise[onnx]"``, or ``[onnx-cpu]``).

- :func:`export_onnx`: a model to an .onnx file with dynamic sizes, checked against PyTorch.
- :class:`OrtRunner`: an .onnx file as a runner for :func:`zoo.denoise` (tiling, ensemble).
- :func:`cached_export`: the export ``zoo bench`` keeps between runs.
"""

from zoo.export.cache import cached_export
from zoo.export.exporter import (
    DEFAULT_OPSET, FP16_TOLERANCE, FP32_TOLERANCE, ExportResult, compare_with_torch, export_onnx,
)
from zoo.export.runner import PROVIDERS, OrtRunner, default_cache_dir

__all__ = [
    "DEFAULT_OPSET", "FP16_TOLERANCE", "FP32_TOLERANCE", "PROVIDERS", "ExportResult", "OrtRunner",
    "cached_export", "compare_with_torch", "default_cache_dir", "export_onnx",
]
