"""Facts about the machine zoo runs on, in one place: the CPU's name, core count and feature flags
(native bfloat16 and int8 arithmetic among them), the versions of the libraries that run a model,
and a one-line stamp of all that for a benchmark's record.

Read by ``auto``'s measurement key (:mod:`zoo.export.engines`), ``zoo bench``'s report, ``zoo
search export``'s provenance, the precision choice and the scripts in ``benchmarks/``. On Linux
the CPU is read from ``/proc/cpuinfo``; elsewhere :mod:`platform` says what it can.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

import torch

CPUINFO = Path("/proc/cpuinfo")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bfloat16 arithmetic
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")  # native int8 dot products
# The libraries whose versions change how fast (or whether) a model runs.
ENGINE_PACKAGES = ("torch", "onnxruntime", "onnxruntime-gpu", "openvino")


def parse_cpuinfo(text: str) -> tuple[str | None, frozenset[str]]:
    """The first CPU's model name and feature flags in ``/proc/cpuinfo``'s text (x86 ``model name``
    and ``flags``; Arm ``Features``); None and no flags for what the text does not say."""
    name: str | None = None
    flags: frozenset[str] | None = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if name is None and key == "model name":
            name = value.strip() or None
        elif flags is None and key in ("flags", "Features"):
            flags = frozenset(value.split())
    return name, flags or frozenset()


@functools.cache
def _cpuinfo() -> tuple[str | None, frozenset[str]]:
    try:
        return parse_cpuinfo(CPUINFO.read_text(errors="replace"))
    except OSError:
        return None, frozenset()


def cpu_name() -> str:
    """The CPU's model name (``AMD EPYC 7B13``), else what :mod:`platform` says (``x86_64``)."""
    return _cpuinfo()[0] or platform.processor() or platform.machine() or "unknown CPU"


def cpu_count() -> int:
    """The CPUs the system has (not this process's share of them)."""
    return os.cpu_count() or 1


def cpu_identity() -> str:
    """The CPU's name and CPU count: what a speed measurement holds for (``AMD EPYC 7B13, 2 cpus``)."""
    return f"{cpu_name()}, {cpu_count()} cpus"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux: /proc/cpuinfo); empty where they cannot be read."""
    return _cpuinfo()[1]


def native(flags: tuple[str, ...]) -> list[str]:
    """Which of ``flags`` (:data:`BF16_FLAGS`, :data:`INT8_FLAGS`) this CPU has."""
    have = cpu_flags()
    return [flag for flag in flags if flag in have]


def version(package: str) -> str | None:
    """An installed distribution's version; None when it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions(packages: tuple[str, ...] = ENGINE_PACKAGES) -> dict[str, str | None]:
    """The installed version of each of ``packages`` (None: not installed)."""
    return {package: version(package) for package in packages}


def runtime_versions() -> dict[str, str]:
    """The torch and Python versions this process runs."""
    return {"torch": torch.__version__, "python": platform.python_version()}


def machine_info(device: torch.device | str = "cpu") -> dict[str, Any]:
    """What a benchmark's record says about where it ran: the CPU, torch's threads, the torch and
    Python versions, and the GPU's name when ``device`` is one."""
    info: dict[str, Any] = {"cpu": cpu_name(), "threads": torch.get_num_threads(), **runtime_versions()}
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def stamp(threads: int | None = None) -> str:
    """One line for a benchmark's output: ``AMD EPYC 7B13, 2 cpus, 2 threads; native: avx512_bf16;
    torch 2.13.0, python 3.12.3``."""
    found = native(BF16_FLAGS) + native(INT8_FLAGS)
    return (f"{cpu_identity()}, {threads or torch.get_num_threads()} threads; "
            f"native: {', '.join(found) or 'no bf16/int8 flags'}; "
            f"torch {torch.__version__}, python {platform.python_version()}")
