"""Peak memory while a block of code runs: RSS on CPU, the allocator's peak on GPU.

On Linux the kernel keeps the RSS high-water mark (``VmHWM``) and lets a process reset it, so
nothing runs beside the code being measured; a sampling thread would steal a core from the
OpenMP threads of the very convolutions being timed. Elsewhere, RSS is sampled every 20 ms.
"""

from __future__ import annotations

import resource
import threading

import torch


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # 5: reset the peak RSS to the current RSS (Linux >= 4.0)
        return _status_kib("VmHWM") is not None
    except OSError:
        return False


def current_rss() -> int:
    """Resident set size of this process in bytes (the lifetime peak where /proc is missing)."""
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Context manager: ``.peak`` is the highest RSS (CPU) or allocated bytes (CUDA) inside."""

    def __init__(self, device: torch.device | str = "cpu", interval: float = 0.02) -> None:
        self.device = torch.device(device)
        self.interval = interval
        self.peak = 0
        self._use_hwm = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, current_rss())

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        self.peak = current_rss()
        self._use_hwm = _reset_high_water_mark()
        if not self._use_hwm:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
        elif self._use_hwm:
            self.peak = max(self.peak, (_status_kib("VmHWM") or 0) * 1024)
        else:
            self._stop.set()
            assert self._thread is not None
            self._thread.join()
            self.peak = max(self.peak, current_rss())
