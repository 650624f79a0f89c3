"""Precision names, one table for inference (``--dtype``) and training (``--precision``)."""

from __future__ import annotations

import torch

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
PRECISIONS = tuple(DTYPES)
