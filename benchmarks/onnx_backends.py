"""onnxruntime against the PyTorch backends on the full-size mwrcanet on a GPU, timed interleaved in
one run (each backend's call in turn, so drift hits all alike), through ``zoo.denoise``.

    python benchmarks/onnx_backends.py                  # GPU: torch, TensorRT, CUDA, fp32 and fp16

Target: the best float16 backend reaches 50 megapixels per second or more (recorded, with every
backend's throughput). Writes benchmarks/results/onnx-<machine>.json. On a CPU, every engine
(PyTorch, onnxruntime, OpenVINO) is measured by its successor, ``engines.py``;
results/onnx-cpu-amd-epyc-2t.json is this script's last CPU record, kept for history.
"""

from __future__ import annotations

import argparse
import sys

import torch

import zoo
from zoo.bench.engines import ENGINES, EngineUnavailable
from zoo.machine import machine_info
from zoo.infer import denoise
from zoo.infer.runner import parse_device

from common import RESULTS, interleaved, machine_slug, write_json

# (backend, torch dtype): float16 for the PyTorch backends is autocast; onnxruntime's is its own export.
GPU_BACKENDS = (("eager", "float32"), ("channels_last", "float16"), ("compile", "float16"),
                ("onnxruntime-cuda", "float32"), ("onnxruntime-cuda-fp16", "float32"),
                ("onnxruntime-tensorrt", "float32"), ("onnxruntime-tensorrt-fp16", "float32"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=1024, help="image side (default 1024)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    device = parse_device(args.device)
    if device.type != "cuda":
        parser.error("on a CPU, run benchmarks/engines.py: every CPU engine side by side, OpenVINO included")
    size = args.size
    model = zoo.create_model("mwrcanet")
    x = torch.rand(args.batch, 1, size, size)

    calls, devices, skipped = {}, {}, {}
    for name, dtype in GPU_BACKENDS:
        label = name if dtype == "float32" else f"{name} ({dtype})"
        try:
            runner = ENGINES[name](model, getattr(torch, dtype), device)
        except EngineUnavailable as exc:
            skipped[label] = str(exc)
            print(f"skip  {label}: {exc}", flush=True)
            continue
        print(f"warm  {label} on {runner.device}", flush=True)
        denoise(runner, x)  # compiles, builds engines, tunes kernels: not timed
        calls[label] = lambda runner=runner: denoise(runner, x)
        devices[label] = runner.device
    seconds = interleaved(calls, args.runs)
    megapixels = args.batch * size * size / 1e6
    rows = [{"backend": label, "device": devices[label], "median_ms": round(s * 1e3, 2),
             "megapixels_per_s": round(megapixels / s, 3)} for label, s in seconds.items()]
    for row in rows:
        print(f"{row['backend']:<34} {row['median_ms']:>9.1f} ms  {row['megapixels_per_s']:>8.3f} MP/s  {row['device']}")

    fp16 = [r for r in rows if "fp16" in r["backend"] or "float16" in r["backend"]]
    best = max(fp16, key=lambda r: r["megapixels_per_s"]) if fp16 else None
    target = {"target": "best float16 backend >= 50 MP/s", "value": best and best["megapixels_per_s"],
              "backend": best and best["backend"], "ok": bool(best and best["megapixels_per_s"] >= 50)}
    print(f"{'PASS' if target['ok'] else 'FAIL'}  {target['target']}: {target['value']}", flush=True)
    machine = machine_info(device)
    path = write_json({"machine": machine, "model": "mwrcanet", "input": list(x.shape), "runs": args.runs,
                       "backends": rows, "skipped": skipped, "target": target},
                      RESULTS / f"onnx-{machine_slug(device)}.json")
    print(f"wrote {path}")
    return 0 if target["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
