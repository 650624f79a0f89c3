"""Peak memory of tiled inference on a 6000x4000 mosaic with the full-size mwrcanet, tile 512.

Target (issue 3): the process's peak RSS stays under 3 GiB. Runs in its own process, so the
high-water mark (VmHWM) is this job's alone. About 5 minutes on 2 CPU cores in float32.

    python benchmarks/tile_memory.py [--tile 512] [--dtype float32]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import zoo

from common import RESULTS, machine_slug, write_json

LIMIT_GIB = 3.0


def high_water_mark_bytes() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    model = zoo.create_model("mwrcanet")
    mosaic = np.random.default_rng(0).random((args.height, args.width), dtype=np.float32)
    start = time.perf_counter()
    out = zoo.denoise(model, mosaic, tile=args.tile, dtype=args.dtype, progress=True)
    seconds = time.perf_counter() - start
    peak = high_water_mark_bytes() / 2**30
    result = {
        "what": "peak RSS (VmHWM) of tiled zoo.denoise, full-size mwrcanet",
        "image": [args.height, args.width], "tile": args.tile, "dtype": args.dtype,
        "seconds": round(seconds, 1), "peak_rss_gib": round(peak, 3), "limit_gib": LIMIT_GIB,
        "ok": peak < LIMIT_GIB and out.shape == mosaic.shape,
    }
    write_json(result, RESULTS / f"tile-memory-{machine_slug()}.json")
    print(f"{args.height}x{args.width}, tile {args.tile}, {args.dtype}: {seconds:.0f} s, "
          f"peak RSS {peak:.2f} GiB (limit {LIMIT_GIB} GiB): {'OK' if result['ok'] else 'OVER'}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
