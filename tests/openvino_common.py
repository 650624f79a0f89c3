"""What the OpenVINO engine tests share: they skip without OpenVINO and the ONNX libraries, and
use one small model and the engines' tolerances."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("openvino", reason='openvino is not installed (pip install "zoo-denoise[openvino]")')
for _module in ("onnx", "onnxscript", "onnxruntime"):
    pytest.importorskip(_module, reason=f'{_module} is not installed (pip install "zoo-denoise[onnx]")')

from zoo.export.openvino import cpu_capabilities  # noqa: E402

SMALL = {"widths": (8, 16, 16), "depth": 1}
BF16_TOLERANCE = 0.05
HAS_BF16 = "BF16" in cpu_capabilities() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
