"""Choose between weights on the validation sets only (``crossval-raw`` / ``crossval-srgb``):
per-kind PSNR, the worst block against its noisy input, and (sRGB) the phone-lowlight colour
shift, for each weights file or registered model given, raw ones also told the true level.

    python benchmarks/noise_aware_validate.py mwrcanet-srgb-demo runs/aware3-srgb/final.safetensors

The held-out ``crossdomain-*`` sets are not read here: they score the chosen weights once
(benchmarks/noise_aware_weights.py).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from noise_aware_weights import mean_shift, summarise, told_denoiser  # noqa: E402
from robust_weights import evaluate_file, scores_of  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="+", help="weights files (.safetensors) or registered model names")
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)

    import torch

    import zoo
    from zoo.evaluation import network_denoiser
    from zoo.infer import TorchRunner

    torch.set_num_threads(1)
    for item in args.weights:
        model = zoo.load(item) if item.endswith(".safetensors") else zoo.create_model(item)
        runner = TorchRunner(model, device="cpu")
        domain = "raw" if model.in_channels == 1 else "srgb"
        data = f"crossval-{domain}"
        runs = {"estimated level": network_denoiser(runner)}
        if domain == "raw" and getattr(model, "noise_channels", 0):
            runs["true level"] = told_denoiser(runner)
        for label, denoiser in runs.items():
            scores = summarise(scores_of(evaluate_file(denoiser, data, item))["blocks"], item, data)
            kinds = {g["value"]: g for g in scores["breakdown"] if g["tag"] == "kind"}
            worst = min(scores["blocks"], key=lambda b: b["psnr"] - b["noisy_psnr"])
            print(f"{item} [{data}, {label}]: all {scores['summary']['psnr']:.3f}; "
                  + ", ".join(f"{k} {g['psnr']:.2f}" for k, g in kinds.items())
                  + f"; worst block {worst['psnr'] - worst['noisy_psnr']:+.2f} dB ({worst['name']})")
        if domain == "srgb":
            shift = mean_shift(runner, data, "phone-lowlight")
            print(f"  phone-lowlight mean shift {100 * shift['mean_shift']:.2f}% (noisy {100 * shift['noisy_mean_shift']:.2f}%), "
                  f"16x16 box error {100 * shift['box_mean_error']:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
