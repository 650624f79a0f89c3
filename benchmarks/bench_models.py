"""Bench every registered model with `zoo bench`'s harness; write results/<machine>.json and a chart.

    python benchmarks/bench_models.py                       # CPU, float32, 256x256
    python benchmarks/bench_models.py --dtype bfloat16 --backends channels_last,compile
"""

from __future__ import annotations

import argparse
import sys

import torch
from tqdm import tqdm

import zoo
from zoo.bench import DEFAULT_BACKENDS, format_report, plot_throughput, run_benchmark
from zoo.infer.runner import default_device

from common import RESULTS, machine_slug, write_json


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="*", help="name pattern (default: all registered)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--backends", default=",".join(DEFAULT_BACKENDS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else default_device()
    reports = []
    for name in tqdm(zoo.list_models(args.models), desc="models", unit="model"):
        report = run_benchmark(zoo.create_model(name), size=args.size, backends=args.backends.split(","),
                               dtype=args.dtype, runs=args.runs, device=device)
        print(format_report(report), end="\n\n", flush=True)
        reports.append(report)
    stem = f"{machine_slug(device)}-{args.dtype}"
    write_json(reports, RESULTS / f"{stem}.json")
    plot_throughput(reports, RESULTS / f"{stem}.png", title=f"all models, {args.size}x{args.size}, {args.dtype} - {stem}")
    print(f"wrote {RESULTS / stem}.json and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
