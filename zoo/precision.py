"""Precision names, one table for inference (``--precision``, ``--dtype``) and training (``--precision``).
What this CPU runs natively is :mod:`zoo.machine`'s (``native(BF16_FLAGS)``)."""

from __future__ import annotations

import torch

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
PRECISIONS = tuple(DTYPES)
# What inference takes (`zoo denoise`, `zoo ort`, `zoo eval` --precision; zoo.denoise's precision=):
# auto chooses among the others by the loss on the model's card and by speed (zoo.export.precision).
INFERENCE_PRECISIONS = ("auto", "float32", "bfloat16", "int8", "float16")
LOSS_BOUND_DB = 0.05  # auto takes a precision at most this far below float32 in PSNR on the held-out set
