"""Issue 3's speed targets for the full-size mwrcanet on this machine, each a ratio of
measurements interleaved in this one run (run A, run B, run A, ...), never a stored number.

    python benchmarks/targets.py            # about 6 minutes on 2 CPU cores

- float32 zoo.denoise at 256x256: >= 90% of the float32 3x3-conv peak
- bfloat16 zoo.denoise at 256x256: >= 85% of the bfloat16 conv peak (and its speed-up over the
  float32 NCHW forward, and the PSNR between bfloat16 and float32 outputs)
- x8 ensemble: <= 8.2x a single pass
- tiling at the default tile size: <= 1.15x an untiled pass of the same image
- per-megapixel time at 1024x1024: <= 1.15x that at 256x256
"""

from __future__ import annotations

import argparse
import sys

import torch

import zoo
from zoo.bench import run_benchmark
from zoo.infer import DEFAULT_TILE, TorchRunner, denoise

from common import RESULTS, interleaved, machine_slug, write_json


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tile-image", type=int, default=1280, help="side of the image for the tiling check")
    args = parser.parse_args()
    model = zoo.create_model("mwrcanet")
    runner = TorchRunner(model)
    results = []

    def check(name: str, value: float, limit: float, higher_is_better: bool, detail: str) -> None:
        ok = value >= limit if higher_is_better else value <= limit
        results.append({"target": name, "value": round(value, 4), "limit": limit, "ok": ok, "detail": detail})
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {value:.3f} ({'>=' if higher_is_better else '<='} {limit})  {detail}", flush=True)

    fp32 = run_benchmark(model, backends=["channels_last"], runs=args.runs)
    r = fp32["backends"][0]
    check("float32 fraction of conv peak", r["fraction_of_peak"], 0.90, True,
          f"{r['gflops']:.0f} GFLOP/s vs peak {fp32['conv_peak_gflops']:.0f}, {r['latency_ms']['median']:.0f} ms")

    bf16 = run_benchmark(model, backends=["channels_last"], dtype="bfloat16", runs=args.runs)
    r = bf16["backends"][0]
    check("bfloat16 fraction of bf16 conv peak", r["fraction_of_peak"], 0.85, True,
          f"{r['gflops']:.0f} GFLOP/s vs peak {bf16['conv_peak_gflops']:.0f}; PSNR vs float32 output {r['psnr_vs_float32']:.1f} dB")

    x = torch.rand(1, 1, 256, 256)
    nchw_model = zoo.create_model("mwrcanet").eval()
    bf16_runner = TorchRunner(zoo.create_model("mwrcanet"), dtype=torch.bfloat16)
    with torch.inference_mode():
        speed = interleaved({"nchw": lambda: nchw_model(x), "bf16": lambda: denoise(bf16_runner, x)}, args.runs)
    results.append({"target": "bfloat16 speed-up over the float32 NCHW forward (reported)",
                    "value": round(speed["nchw"] / speed["bf16"], 3)})
    print(f"info  bfloat16 zoo.denoise is {speed['nchw'] / speed['bf16']:.2f}x the float32 NCHW forward", flush=True)

    ensemble = interleaved({"single": lambda: denoise(runner, x), "x8": lambda: denoise(runner, x, ensemble=True)}, max(3, args.runs // 2))
    check("x8 ensemble cost / single pass", ensemble["x8"] / ensemble["single"], 8.2, False,
          f"{ensemble['x8'] * 1e3:.0f} ms vs {ensemble['single'] * 1e3:.0f} ms")

    side = args.tile_image
    big = torch.rand(1, 1, side, side)
    tiling = interleaved({"untiled": lambda: denoise(runner, big), "tiled": lambda: denoise(runner, big, tile=DEFAULT_TILE)}, 2, warmup=0)
    check(f"tiled (tile {DEFAULT_TILE}) / untiled, {side}x{side}", tiling["tiled"] / tiling["untiled"], 1.15, False,
          f"{tiling['tiled']:.1f} s vs {tiling['untiled']:.1f} s")

    large = torch.rand(1, 1, 1024, 1024)
    scaling = interleaved({"256": lambda: denoise(runner, x), "1024": lambda: denoise(runner, large)}, 3)
    per_mp = {k: v / (int(k) ** 2 / 1e6) for k, v in scaling.items()}
    check("per-megapixel time 1024^2 / 256^2", per_mp["1024"] / per_mp["256"], 1.15, False,
          f"{per_mp['1024']:.2f} vs {per_mp['256']:.2f} s/MP")

    summary = {"machine": fp32["machine"], "results": results}
    path = write_json(summary, RESULTS / f"targets-{machine_slug()}.json")
    failed = [r["target"] for r in results if r.get("ok") is False]
    print(f"wrote {path}; {'all targets met' if not failed else 'missed: ' + ', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
