"""OpenVINO's static shapes on the shipped demo models: PyTorch, OpenVINO with one dynamic graph,
and OpenVINO compiled for the input size, at 256x256, interleaved (15 turning rounds after 3
warm-up calls each). The full-size network's numbers come from ``engines.py --parts options``.

    python benchmarks/engines_static_demo.py      # about a minute on 2 quiet cores
"""

from __future__ import annotations

import statistics
import time

import torch

import zoo
from zoo.export.openvino import OpenVinoRunner
from zoo.infer import TorchRunner, denoise

ROUNDS, WARMUP, SIZE = 15, 3, 256


def main() -> None:
    for name in ("mwrcanet-demo", "mwresnet-demo"):
        model = zoo.create_model(name)
        for dtype in ("float32", "bfloat16"):
            runners = {"torch": TorchRunner(model, dtype=dtype), "openvino dynamic": OpenVinoRunner(model, dtype=dtype),
                       "openvino static": OpenVinoRunner(model, dtype=dtype, static_shapes=True)}
            x = torch.rand(1, 1, SIZE, SIZE)
            for runner in runners.values():
                for _ in range(WARMUP):
                    denoise(runner, x)
            seconds: dict[str, list[float]] = {label: [] for label in runners}
            labels = list(runners)
            for round_ in range(ROUNDS):
                turn = round_ % len(labels)
                for label in labels[turn:] + labels[:turn]:
                    start = time.perf_counter()
                    denoise(runners[label], x)
                    seconds[label].append(time.perf_counter() - start)
            ms = {label: round(statistics.median(values) * 1e3, 2) for label, values in seconds.items()}
            speedup = ms["openvino dynamic"] / ms["openvino static"]
            print(f"{name} {dtype}: {ms}  static speedup {speedup:.3f}", flush=True)


if __name__ == "__main__":
    main()
