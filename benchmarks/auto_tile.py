"""A 12-megapixel photo through `zoo denoise` with no --tile: does it tile on its own, stay inside
the memory budget, and how long does it take? Each run is its own process; peak RSS is the
process's high-water mark (GNU time's "Maximum resident set size").

    python benchmarks/auto_tile.py [--budget 2G]

Inputs are written here: a 4000x3000 RGGB mosaic (.npy) for mwrcanet-demo and a 4000x3000 sRGB
PNG for mwrcanet-srgb-demo, both noisy.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zoo.machine import cpu_name  # noqa: E402

WIDTH, HEIGHT = 4000, 3000


def run(model: str, source: Path, target: Path, budget: str) -> dict:
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "zoo", "denoise", model, str(source), "-o", str(target),
               "--memory-budget", budget]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ})
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{model}: exit {result.returncode}: {result.stderr[-2000:]}")
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    notes = [line for line in result.stderr.splitlines() if line.startswith("zoo:")]
    return {"model": model, "seconds": seconds, "peak_gib": peak_kib / 2**20, "notes": notes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="2G", help="--memory-budget for both runs (default 2G, zoo's default cap)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        ramp = np.linspace(0.05, 0.8, WIDTH, dtype=np.float32)[None, :] * np.ones((HEIGHT, 1), np.float32)
        mosaic = np.clip(ramp + rng.normal(0, 0.03, (HEIGHT, WIDTH)).astype(np.float32), 0, 1)
        np.save(work / "mosaic.npy", mosaic)
        srgb = np.clip(ramp[..., None] * np.array([1.0, 0.9, 0.8], np.float32) + rng.normal(0, 0.05, (HEIGHT, WIDTH, 3)), 0, 1)
        Image.fromarray((srgb * 255).astype(np.uint8)).save(work / "photo.png")
        rows = [run("mwrcanet-demo", work / "mosaic.npy", work / "out.npy", args.budget),
                run("mwrcanet-srgb-demo", work / "photo.png", work / "out.png", args.budget)]
    load = os.getloadavg()[0]
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; load average after: {load:.1f}; budget {args.budget}\n")
    print("| model | 12 MP input | wall (s) | peak RSS (GiB) | what zoo said |\n| --- | --- | ---: | ---: | --- |")
    for row, kind in zip(rows, ("4000x3000 RGGB mosaic (.npy)", "4000x3000 sRGB PNG")):
        said = "<br>".join(n.replace("|", "/") for n in row["notes"])
        print(f"| {row['model']} | {kind} | {row['seconds']:.1f} | {row['peak_gib']:.2f} | {said} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
