"""The machine's convolution peak, measured in the same run as the model it is compared with."""

from __future__ import annotations

import torch

from zoo.timing import time_call

# The reference: a 3x3 convolution, 128 -> 128 channels, channels_last, large enough to
# keep every core busy. One fixed shape: picking the best of several noisy timings biases it up.
PEAK_SHAPE = (128, 128, 2)  # (channels, side, batch)


class ConvPeak:
    """The reference 3x3 convolution (:data:`PEAK_SHAPE`) for a dtype and device;
    :meth:`measure` gives its GFLOP/s now, so that each of a model's timed runs can be paired
    with a peak measurement taken beside it."""

    def __init__(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.sync = (lambda: torch.cuda.synchronize(self.device)) if self.device.type == "cuda" else (lambda: None)
        channels, side, batch = PEAK_SHAPE
        if self.device.type == "cuda":
            batch *= 32  # a GPU finishes the CPU-sized workload in microseconds: launch overhead would dominate
        self.conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(  # type: ignore[call-overload]  # Module.to takes it; its stubs omit it
            self.device, dtype, memory_format=torch.channels_last)
        self.input = torch.randn(batch, channels, side, side, device=self.device, dtype=dtype).contiguous(
            memory_format=torch.channels_last)
        self.flops = 2 * 9 * channels * channels * side * side * batch

    def measure(self, runs: int = 5) -> float:
        """GFLOP/s: the median of ``runs`` timed calls after one warm-up call."""
        with torch.inference_mode():
            seconds = sorted(time_call(lambda: self.conv(self.input), warmup=1, runs=runs, sync=self.sync))
        return self.flops / seconds[runs // 2] / 1e9
