"""OpenVINO's static shapes on the shipped demo models: PyTorch, OpenVINO with one dynamic graph,
and OpenVINO compiled for the input size, at 256x256, interleaved (15 turning rounds of
:func:`zoo.timing.rotate` after 3 warm-up calls each). The full-size network's numbers come from ``engines.py --parts options``.

    python benchmarks/engines_static_demo.py      # about a minute on 2 quiet cores
"""

from __future__ import annotations

import functools

import torch

import zoo
from zoo.export.openvino import OpenVinoRunner
from zoo.infer import TorchRunner, denoise
from zoo.timing import rotate, warm

ROUNDS, WARMUP, SIZE = 15, 3, 256


def main() -> None:
    for name in ("mwrcanet-demo", "mwresnet-demo"):
        model = zoo.create_model(name)
        for dtype in ("float32", "bfloat16"):
            runners = {"torch": TorchRunner(model, dtype=dtype), "openvino dynamic": OpenVinoRunner(model, dtype=dtype),
                       "openvino static": OpenVinoRunner(model, dtype=dtype, static_shapes=True)}
            x = torch.rand(1, 1, SIZE, SIZE)
            calls = {label: functools.partial(denoise, runner, x) for label, runner in runners.items()}
            warm(calls, WARMUP)
            medians = rotate(calls, ROUNDS, block=1, settle=0).medians()
            ms = {label: round(value * 1e3, 2) for label, value in medians.items()}
            speedup = ms["openvino dynamic"] / ms["openvino static"]
            print(f"{name} {dtype}: {ms}  static speedup {speedup:.3f}", flush=True)


if __name__ == "__main__":
    main()
