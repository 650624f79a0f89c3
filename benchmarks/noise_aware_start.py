"""Start a noise-aware network from a blind one's weights (issue 23).

The noise-aware skeleton differs from the blind one only in its first convolution, which also
sees the noise map's four Haar bands per channel. Those new input weights start at zero, so the
started network is the blind one exactly, and fine-tuning teaches it to use the map.

    python benchmarks/noise_aware_start.py mwrcanet-srgb-demo runs/start-srgb.safetensors
"""

from __future__ import annotations

import argparse

import zoo
from zoo.contract import record_build
from zoo.plugins.models.mwnet import with_noise_map


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a registered blind mwnet-family model, e.g. mwrcanet-srgb-demo")
    parser.add_argument("out", help="the noise-aware weights to write (.safetensors)")
    args = parser.parse_args()
    blind = zoo.create_model(args.model)
    architecture = getattr(blind, "zoo_architecture", None) or {"model": args.model, "config": blind.zoo_config}
    aware = with_noise_map(blind)
    record_build(aware, architecture["model"], {**architecture["config"], "noise_map": True})
    zoo.save(aware, args.out)
    print(f"{args.out}: {args.model} made noise-aware ({sum(p.numel() for p in aware.parameters()):,} parameters)")


if __name__ == "__main__":
    main()
