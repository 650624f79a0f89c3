"""Where the PyTorch bfloat16 path spends its time (issue 25), beside float32 and ``torch.compile``.

For each model: the network alone and ``zoo.denoise`` (what a user runs: the noise estimate of a
noise-aware model, the map, the guard) are timed at 256x256 in float32, bfloat16 (autocast,
channels_last) and bfloat16 through ``torch.compile``, in rotating blocks, beside PyTorch's own
reference bfloat16 convolution (the peak); then one profile of the bfloat16 network groups its
time by operator. The GMACs come from :func:`zoo.complexity.count_macs`.

    python benchmarks/bf16_profile.py [--models mwrcanet-demo,mwrcanet-srgb-demo] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

import zoo
from zoo.bench.peak import ConvPeak
from zoo.complexity import count_macs
from zoo.contract import input_channels, noise_channels
from zoo.infer.runner import TorchRunner
from zoo.machine import cpu_flags, cpu_identity
from zoo.timing import rotate, warm

SIZE = 256


def profile_ops(runner: TorchRunner, x: torch.Tensor, top: int) -> list[tuple[str, float]]:
    from torch.profiler import ProfilerActivity, profile

    runner(x)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            runner(x)
    totals = [(event.key, event.self_cpu_time_total / 3 / 1000) for event in prof.key_averages()]
    return sorted(totals, key=lambda item: -item[1])[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mwrcanet-demo,mwresnet-demo,mwrcanet-srgb-demo")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (its first call compiles)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {cpu_identity()}, {args.threads} threads; amx_bf16: {'amx_bf16' in cpu_flags()}; "
          f"torch {torch.__version__}; load average {os.getloadavg()[0]:.1f} at the start")
    peak = ConvPeak(torch.bfloat16)
    peak32 = ConvPeak(torch.float32)
    for name in args.models.split(","):
        model = zoo.create_model(name).eval()
        channels = input_channels(model)
        full = channels + noise_channels(model)
        macs = count_macs(model, (1, full, SIZE, SIZE))
        x = torch.rand(1, full, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
        image = np.random.default_rng(0).random((channels, SIZE, SIZE), dtype=np.float32) * 0.5 + 0.25
        runners = {"float32": TorchRunner(model, dtype=torch.float32), "bfloat16": TorchRunner(model, dtype=torch.bfloat16)}
        if not args.no_compile:
            runners["bfloat16 compiled"] = TorchRunner(model, dtype=torch.bfloat16, compile=True)
        calls = {f"net {key}": (lambda r=r, x=x: r(x)) for key, r in runners.items()}
        for key in ("float32", "bfloat16"):
            calls[f"zoo.denoise {key}"] = lambda key=key, runners=runners, image=image: zoo.denoise(runners[key], image)
        calls["peak bfloat16 conv"] = lambda: peak.conv(peak.input)
        calls["peak float32 conv"] = lambda: peak32.conv(peak32.input)
        with torch.inference_mode():
            warm(calls, 1)
            seconds = rotate(calls, args.rounds, block=3, settle=0).medians()
        peak_gflops = {"bfloat16": peak.flops / seconds["peak bfloat16 conv"] / 1e9,
                       "float32": peak32.flops / seconds["peak float32 conv"] / 1e9}
        print(f"\n## {name}: {2 * macs / 1e9:.2f} GFLOP per {SIZE}x{SIZE}; PyTorch conv peak bfloat16 "
              f"{peak_gflops['bfloat16']:.0f} GFLOP/s, float32 {peak_gflops['float32']:.0f} GFLOP/s\n")
        print("| path | ms | GFLOP/s | of its precision's peak |\n| --- | ---: | ---: | ---: |")
        for key, value in seconds.items():
            if key.startswith("peak"):
                continue
            rate = 2 * macs / value / 1e9
            precision = "float32" if "float32" in key else "bfloat16"
            print(f"| {key} | {1000 * value:.1f} | {rate:.0f} | {rate / peak_gflops[precision]:.2f} |")
        print(f"\nbfloat16 network, self CPU time per call by operator (top {args.top}):\n")
        print("| operator | ms |\n| --- | ---: |")
        for op, ms in profile_ops(runners["bfloat16"], x, args.top):
            print(f"| {op} | {ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
