"""Score candidate weights on the held-out sets beside the noisy input and BM3D, check issue 15's
targets, draw before/after crop grids, and (with --ship) write model cards into the shipped files.

    python benchmarks/robust_weights.py                # score the runs of train_robust_weights.sh
    python benchmarks/robust_weights.py --ship         # ... and copy them, with cards, into the package

Held out: ``crossdomain-raw`` / ``crossdomain-srgb`` (never trained or tuned on) and ``synthraw``
(seen distribution: made the way the old training data was). Results go to
``benchmarks/results/robust-weights/``; BM3D's scores are cached there (they take minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "robust-weights"
RUNS = ROOT / "runs" / "robust"

# name -> (run folder under runs/robust, domain)
CANDIDATES = {
    "mwrcanet-demo": ("mwrcanet-raw", "raw"),
    "mwresnet-demo": ("mwresnet-raw", "raw"),
    "mwrcanet-srgb-demo": ("mwrcanet-srgb", "srgb"),
}
HELD_OUT = {"raw": ["crossdomain-raw", "synthraw"], "srgb": ["crossdomain-srgb", "synthsrgb"]}
BM3D_MARGIN = {"raw": 1.0, "srgb": 0.5}  # mean PSNR over BM3D the issue asks for
SYNTHRAW_BEFORE, SYNTHRAW_SLACK = 39.24, 0.3
BLOCK_SLACK = 0.1  # no held-out block more than this below its noisy input


def evaluate_file(denoiser, data: str, label: str):
    from zoo.evaluation import evaluate, load_data

    return evaluate(denoiser, load_data(data), model=label, data=data, progress=False)


def scores_of(report) -> dict:
    """A report as plain JSON: the summary, the per-tag breakdown and every block."""
    return {"summary": report.summary(), "breakdown": report.breakdown(),
            "blocks": [{"name": s.name, "psnr": s.psnr, "noisy_psnr": s.noisy_psnr, **s.tags} for s in report.images]}


def bm3d_scores(data: str) -> dict:
    """BM3D given each block's true noise level, cached in the results folder."""
    from zoo.evaluation import baseline_denoiser

    cache = RESULTS / f"bm3d-{data}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    scores = scores_of(evaluate_file(baseline_denoiser("bm3d"), data, "bm3d"))
    cache.write_text(json.dumps(scores, indent=1) + "\n")
    return scores


def check_targets(domain: str, model: dict, bm3d: dict, synth: dict | None) -> list[tuple[str, bool, str]]:
    """Issue 15's targets on the held-out cross-domain set, each (target, passed, measured)."""
    checks = []
    groups = {(g["tag"], g["value"]): g for g in model["breakdown"]}
    worst_group = min(groups.values(), key=lambda g: g["psnr"] - g["noisy_psnr"])
    checks.append(("every kind and level above the noisy input", worst_group["psnr"] > worst_group["noisy_psnr"],
                   f"smallest margin {worst_group['psnr'] - worst_group['noisy_psnr']:+.2f} dB "
                   f"({worst_group['value']})"))
    worst_block = min(model["blocks"], key=lambda b: b["psnr"] - b["noisy_psnr"])
    margin = worst_block["psnr"] - worst_block["noisy_psnr"]
    checks.append((f"no block more than {BLOCK_SLACK} dB below its noisy input", margin >= -BLOCK_SLACK,
                   f"worst block {margin:+.2f} dB ({worst_block['name']})"))
    over = model["summary"]["psnr"] - bm3d["summary"]["psnr"]
    checks.append((f"mean at least {BM3D_MARGIN[domain]} dB above BM3D", over >= BM3D_MARGIN[domain], f"{over:+.2f} dB"))
    bm3d_groups = {(g["tag"], g["value"]): g for g in bm3d["breakdown"]}
    kinds = [key for key in groups if key[0] == "kind"]
    worst_kind = min(kinds, key=lambda k: groups[k]["psnr"] - bm3d_groups[k]["psnr"])
    gap = groups[worst_kind]["psnr"] - bm3d_groups[worst_kind]["psnr"]
    checks.append(("above BM3D in every kind", gap > 0, f"smallest margin {gap:+.2f} dB ({worst_kind[1]})"))
    if synth is not None:
        value = synth["summary"]["psnr"]
        checks.append((f"synthraw within {SYNTHRAW_SLACK} dB of {SYNTHRAW_BEFORE}",
                       value >= SYNTHRAW_BEFORE - SYNTHRAW_SLACK, f"{value:.2f} dB"))
    return checks


def breakdown_table(model: dict, bm3d: dict) -> str:
    bm3d_groups = {(g["tag"], g["value"]): g for g in bm3d["breakdown"]}
    lines = ["| group | blocks | noisy | BM3D | model | model - noisy (worst block) |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for g in model["breakdown"]:
        b = bm3d_groups[(g["tag"], g["value"])]
        lines.append(f"| {g['value']} | {g['images']} | {g['noisy_psnr']:.2f} | {b['psnr']:.2f} | {g['psnr']:.2f} | "
                     f"{g['psnr'] - g['noisy_psnr']:+.2f} ({g['worst_gain']:+.2f}) |")
    s, b = model["summary"], bm3d["summary"]
    lines.append(f"| **all** | {s['images']} | {s['noisy_psnr']:.2f} | {b['psnr']:.2f} | {s['psnr']:.2f} | "
                 f"{s['psnr'] - s['noisy_psnr']:+.2f} |")
    return "\n".join(lines)


def _view(image: np.ndarray, raw: bool, gain: float = 1.0) -> np.ndarray:
    """A block as 8-bit RGB to look at: a mosaic is demosaiced with fixed gains and gamma; ``gain``
    brightens a dark block (the same for every column of a row)."""
    from zoo.data.unprocess import demosaic_bilinear

    if raw:
        rgb = demosaic_bilinear(image.astype(np.float64), "RGGB") * np.array([2.0, 1.0, 1.7])
        rgb = np.clip(rgb, 0.0, 1.0) ** (1 / 2.2)
    else:
        rgb = np.moveaxis(image, 0, -1)
    return np.round(np.clip(rgb * gain, 0.0, 1.0) * 255).astype(np.uint8)


def crop_grid(runners: dict, domain: str, target: Path, level: str = "L3") -> None:
    """For each kind, the first held-out block at ``level``: noisy, BM3D, each runner, clean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.evaluation import baseline_denoiser, load_data
    from zoo.infer import denoise
    from zoo.metrics import psnr

    pairs = [p for p in load_data(f"crossdomain-{domain}") if p.tags["level"] == level]
    firsts = {}
    for pair in pairs:
        firsts.setdefault(pair.tags["kind"], pair)
    bm3d = baseline_denoiser("bm3d")
    columns = 3 + len(runners)
    fig, axes = plt.subplots(len(firsts), columns, figsize=(2.5 * columns, 2.6 * len(firsts)))
    for row, (kind, pair) in enumerate(firsts.items()):
        images = {"noisy": pair.noisy, "BM3D (true level)": bm3d(pair),
                  **{name: denoise(runner, pair.noisy) for name, runner in runners.items()}, "clean": pair.clean}
        gain = min(16.0, max(1.0, 0.35 / max(float(_view(pair.clean, domain == "raw").mean()) / 255, 1e-3)))
        for col, (title, image) in enumerate(images.items()):
            ax = axes[row, col]
            ax.imshow(_view(image, domain == "raw", gain), interpolation="nearest")
            score = "" if title == "clean" else f"\n{psnr(image, pair.clean, data_range=1.0):.2f} dB"
            ax.set_title(f"{title}{score}" if row or title != "noisy" else f"{kind}: {title}{score}", fontsize=9)
            ax.set_ylabel((kind + (f" (shown x{gain:.0f})" if gain > 1.5 else "")) if col == 0 else "")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"crossdomain-{domain}, noise level {level} of 5 (held out)", fontsize=11)
    fig.tight_layout()
    fig.savefig(target, dpi=90)
    plt.close(fig)


def card_for(name: str, domain: str, run: Path, model_scores: dict, bm3d: dict, synth: dict | None) -> dict:
    config = json.loads((run / "config.json").read_text())
    card = {
        "summary": f"{config['model']} {'raw Bayer (RGGB) mosaic' if domain == 'raw' else 'sRGB'} denoiser, "
                   f"trained on {' + '.join(config['data'])}",
        "domain": domain,
        "architecture": {"model": config["model"], "config": config["model_config"]},
        "trained_on": config["data"],
        "validated_on": config["val"],
        "started_from": Path(config["weights"]).name if config.get("weights") else "random initial weights",
        "recipe": {key: config[key] for key in ("steps", "batch", "patch", "lr", "min_lr", "loss", "ema", "clip", "seed")},
        "held_out": {"crossdomain-" + domain: {"psnr": round(model_scores["summary"]["psnr"], 3),
                                               "noisy_psnr": round(model_scores["summary"]["noisy_psnr"], 3),
                                               "bm3d_psnr": round(bm3d["summary"]["psnr"], 3),
                                               "per_kind": {g["value"]: round(g["psnr"], 3) for g in model_scores["breakdown"]
                                                            if g["tag"] == "kind"}}},
        "record": "benchmarks/results/robust-weights.md",
    }
    if synth is not None:
        card["held_out"][synth["summary"]["data"]] = {"psnr": round(synth["summary"]["psnr"], 3),
                                                      "note": "seen distribution: made like the training data"}
    return card


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ship", action="store_true", help="write cards and copy the weights into the package")
    parser.add_argument("--file", default="final.safetensors", help="weights file of each run (default final)")
    parser.add_argument("--run", action="append", default=[], metavar="NAME=FOLDER",
                        help="score (and ship) NAME from runs/robust/FOLDER instead of its default run")
    parser.add_argument("--only", action="append", metavar="NAME", help="score only these names")
    args = parser.parse_args()
    for item in args.run:
        name, _, folder = item.partition("=")
        CANDIDATES[name] = (folder, CANDIDATES[name][1])
    warnings.simplefilter("ignore", RuntimeWarning)

    import zoo
    from zoo.evaluation import network_denoiser
    from zoo.infer import TorchRunner

    RESULTS.mkdir(parents=True, exist_ok=True)
    summary, all_passed = {}, True
    for name, (folder, domain) in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        run = RUNS / folder
        weights = run / args.file
        if not weights.is_file():
            print(f"{name}: no {weights}, skipped", file=sys.stderr)
            continue
        runner = TorchRunner(zoo.load(weights))
        cross, seen = HELD_OUT[domain]
        model_scores = scores_of(evaluate_file(network_denoiser(runner), cross, name))
        seen_scores = scores_of(evaluate_file(network_denoiser(runner), seen, name))
        bm3d = bm3d_scores(cross)
        checks = check_targets(domain, model_scores, bm3d, seen_scores if domain == "raw" else None)
        all_passed &= all(passed for _, passed, _ in checks)
        summary[name] = {"weights": str(weights.relative_to(ROOT)), cross: model_scores, seen: seen_scores["summary"],
                         "targets": [{"target": t, "passed": p, "measured": m} for t, p, m in checks]}
        print(f"\n## {name} ({weights.relative_to(ROOT)})\n\n{breakdown_table(model_scores, bm3d)}\n")
        print(f"{seen}: {seen_scores['summary']['psnr']:.2f} dB (noisy {seen_scores['summary']['noisy_psnr']:.2f})")
        for target, passed, measured in checks:
            print(f"- {'PASS' if passed else 'FAIL'} {target}: {measured}")
        crop_grid({"zoo": runner}, domain, RESULTS / f"{name}-crops.png")
        if args.ship:
            card = card_for(name, domain, run, model_scores, bm3d, seen_scores if domain == "raw" else None)
            zoo.save(zoo.load(weights), ROOT / "plugins" / "weights" / f"{name}.safetensors", card=card)
            print(f"shipped {name} with its card", file=sys.stderr)
    (RESULTS / "scores.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
