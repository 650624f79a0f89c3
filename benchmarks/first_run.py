"""The first `zoo denoise` on a fresh cache, for the demo models: as it is now (a small model runs
in PyTorch until its ONNX export exists) beside the measuring first run (export, then the probe of
every engine: what every first run did before issue 24, forced here by SMALL_MODEL_GMACS = 0).
Wall seconds of the whole command, each in its own process, in one run, with the load average.

    python benchmarks/first_run.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

FORCED = ("import sys; from zoo.export import engines; engines.SMALL_MODEL_GMACS = 0.0; "
          "from zoo.cli import main; sys.exit(main(sys.argv[1:]))")


def timed(command: list[str], cache: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "ZOO_CACHE_DIR": str(cache)})
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    zoo = [str(Path(sys.executable).parent / "zoo")]
    with tempfile.TemporaryDirectory(prefix="zoo-first-run-") as name:
        folder = Path(name)
        rng = np.random.default_rng(0)
        Image.fromarray((rng.random((512, 768, 3)) * 255).astype(np.uint8)).save(folder / "photo.png")
        Image.fromarray((rng.random((512, 768)) * 4095).astype(np.uint16)).save(folder / "mosaic.png")
        inputs = {"mwrcanet-srgb-demo": ["photo.png"], "mwrcanet-demo": ["mosaic.png", "--mosaic", "RGGB", "--bit-depth", "12"]}
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
        print("| model | first run now (s) | first run measuring (s) | ratio |")
        print("| --- | ---: | ---: | ---: |")
        for model, given in inputs.items():
            tail = [str(folder / given[0]), *given[1:], "-o", str(folder / "out.png"), "--force"]
            now = []
            for i in range(args.repeats):
                now.append(timed([*zoo, "denoise", model, *tail], folder / f"cache-now-{model}-{i}"))
            measuring = timed([sys.executable, "-c", FORCED, "denoise", model, *tail], folder / f"cache-old-{model}")
            best = min(now)
            print(f"| {model} | {best:.1f} (of {', '.join(f'{t:.1f}' for t in now)}) | {measuring:.1f} | "
                  f"{measuring / best:.1f}x |", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
