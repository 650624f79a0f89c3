"""Precision names, one table for inference (``--precision``, ``--dtype``) and training (``--precision``),
and what this CPU runs natively."""

from __future__ import annotations

import functools

import torch

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
PRECISIONS = tuple(DTYPES)
# What inference takes (`zoo denoise`, `zoo ort`, `zoo eval` --precision; zoo.denoise's precision=):
# auto chooses among the others by the loss on the model's card and by speed (zoo.export.precision).
INFERENCE_PRECISIONS = ("auto", "float32", "bfloat16", "int8", "float16")
LOSS_BOUND_DB = 0.05  # auto takes a precision at most this far below float32 in PSNR on the held-out set
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bfloat16 arithmetic
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")  # native int8 dot products


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux: /proc/cpuinfo); empty where they cannot be read."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native(flags: tuple[str, ...]) -> list[str]:
    """Which of ``flags`` this CPU has."""
    have = cpu_flags()
    return [flag for flag in flags if flag in have]
