"""onnxruntime against the PyTorch backends on the full-size mwrcanet, timed interleaved in one
run (each backend's call in turn, so drift hits all alike), through ``zoo.denoise``.

    python benchmarks/onnx_backends.py                  # CPU: about 4 minutes on 2 cores
    python benchmarks/onnx_backends.py --device cuda    # GPU: torch, TensorRT, CUDA, fp32 and fp16

CPU target: onnxruntime at least matches the best PyTorch backend (eager, channels_last,
compile) at 256x256. GPU: the best float16 backend reaches 50 megapixels per second or more
(recorded, with every backend's throughput). Writes benchmarks/results/onnx-<machine>.json.
"""

from __future__ import annotations

import argparse
import sys

import torch

import zoo
from zoo.bench.backends import BACKENDS, BackendUnavailable
from zoo.bench.harness import cpu_name
from zoo.infer import denoise
from zoo.infer.runner import parse_device

from common import RESULTS, interleaved, machine_slug, write_json

CPU_BACKENDS = ("eager", "channels_last", "compile", "onnxruntime")
# (backend, torch dtype): float16 for the PyTorch backends is autocast; onnxruntime's is its own export.
GPU_BACKENDS = (("eager", "float32"), ("channels_last", "float16"), ("compile", "float16"),
                ("onnxruntime-cuda", "float32"), ("onnxruntime-cuda-fp16", "float32"),
                ("onnxruntime-tensorrt", "float32"), ("onnxruntime-tensorrt-fp16", "float32"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, help="image side (default: 256 on CPU, 1024 on GPU)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    device = parse_device(args.device)
    on_gpu = device.type == "cuda"
    size = args.size or (1024 if on_gpu else 256)
    model = zoo.create_model("mwrcanet")
    x = torch.rand(args.batch, 1, size, size)
    plan = GPU_BACKENDS if on_gpu else [(name, "float32") for name in CPU_BACKENDS]

    calls, devices, skipped = {}, {}, {}
    for name, dtype in plan:
        label = name if dtype == "float32" else f"{name} ({dtype})"
        try:
            runner = BACKENDS[name](model, getattr(torch, dtype), device)
        except BackendUnavailable as exc:
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

    if on_gpu:
        fp16 = [r for r in rows if "fp16" in r["backend"] or "float16" in r["backend"]]
        best = max(fp16, key=lambda r: r["megapixels_per_s"]) if fp16 else None
        target = {"target": "best float16 backend >= 50 MP/s", "value": best and best["megapixels_per_s"],
                  "backend": best and best["backend"], "ok": bool(best and best["megapixels_per_s"] >= 50)}
    else:
        torch_rows = [r for r in rows if not r["backend"].startswith("onnxruntime")]
        best = min(torch_rows, key=lambda r: r["median_ms"])
        ort = next((r for r in rows if r["backend"] == "onnxruntime"), None)
        ratio = best["median_ms"] / ort["median_ms"] if ort else None
        target = {"target": "onnxruntime speed / best PyTorch backend >= 1.0", "value": ratio and round(ratio, 4),
                  "best_pytorch": best["backend"], "ok": bool(ratio and ratio >= 1.0)}
    print(f"{'PASS' if target['ok'] else 'FAIL'}  {target['target']}: {target['value']}", flush=True)
    machine = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__}
    if on_gpu:
        machine["gpu"] = torch.cuda.get_device_name(device)
    path = write_json({"machine": machine, "model": "mwrcanet", "input": list(x.shape), "runs": args.runs,
                       "backends": rows, "skipped": skipped, "target": target},
                      RESULTS / f"onnx-{machine_slug(device)}.json")
    print(f"wrote {path}")
    return 0 if target["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
