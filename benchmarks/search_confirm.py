"""Confirm the search by longer training: architectures exported from the recorded search
(``benchmarks/results/search/confirm/*.json``), each trained from scratch with one recipe, scored on
the held-out ``crossdomain-raw`` set; the knee against mwrcanet-demo's architecture (the search's
seed trial 1), and the rank correlation between proxy PSNR and full-training PSNR.

    bash benchmarks/search_confirm.sh      # trains (resumable), then runs this script
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
CONFIRM = ROOT / "benchmarks" / "results" / "search" / "confirm"
RUNS = ROOT / "runs" / "search-confirm"
BASELINE, KNEE = "search-trial1", "search-knee"  # trial 1 is mwrcanet-demo's architecture (a seed)


def main() -> int:
    warnings.simplefilter("ignore", RuntimeWarning)
    import zoo
    from zoo.evaluation import evaluate, load_data, network_denoiser
    from zoo.infer import TorchRunner

    pairs = load_data("crossdomain-raw")
    rows = []
    for spec in sorted(CONFIRM.glob("*.json")):
        weights = RUNS / spec.stem / "final.safetensors"
        if not weights.is_file():
            print(f"{spec.stem}: not trained yet ({weights})", file=sys.stderr)
            continue
        document = json.loads(spec.read_text())
        provenance = document["provenance"]
        values = provenance.get("values") or provenance.get("objectives") or {}
        report = evaluate(network_denoiser(TorchRunner(zoo.load(weights))), pairs, model=spec.stem,
                          data="crossdomain-raw", progress=False)
        log = (RUNS / spec.stem / "log.csv").read_text().strip().splitlines()
        val = float(log[-1].split(",")[3])
        rows.append({"name": spec.stem, "trial": provenance["trial"], "proxy_psnr": float(values["psnr"]),
                     "gmacs": float(values["gmacs"]), "val_psnr": val, "test_psnr": report.summary()["psnr"]})
    if len(rows) < 2:
        print("nothing to compare yet", file=sys.stderr)
        return 1
    rho = stats.spearmanr([r["proxy_psnr"] for r in rows], [r["val_psnr"] for r in rows]).statistic
    rho_test = stats.spearmanr([r["proxy_psnr"] for r in rows], [r["test_psnr"] for r in rows]).statistic
    lines = ["| architecture | trial | GMACs/MP | proxy PSNR (crossval-raw, 400 steps) | full PSNR (crossval-raw) "
             "| held-out PSNR (crossdomain-raw) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(rows, key=lambda r: r["gmacs"]):
        lines.append(f"| {r['name']} | {r['trial']} | {r['gmacs']:.1f} | {r['proxy_psnr']:.2f} | {r['val_psnr']:.2f} | "
                     f"{r['test_psnr']:.2f} |")
    lines.append("")
    lines.append(f"Spearman rank correlation of proxy PSNR with full-training PSNR over {len(rows)} architectures: "
                 f"{rho:.2f} (validation), {rho_test:.2f} (held-out test).")
    by_name = {r["name"]: r for r in rows}
    if BASELINE in by_name and KNEE in by_name:
        knee, base = by_name[KNEE], by_name[BASELINE]
        gain, share = knee["test_psnr"] - base["test_psnr"], knee["gmacs"] / base["gmacs"]
        beats = gain > 0 and share <= 1.0
        matches = gain >= -0.05 and share <= 0.70
        verdict = "PASS" if beats or matches else "FAIL"
        lines.append(f"Knee against mwrcanet-demo's architecture, trained the same way: {gain:+.3f} dB on the held-out "
                     f"set at {share:.0%} of its GMACs: {verdict} (target: better at equal or lower GMACs, or within "
                     "0.05 dB at 70% or less).")
    text = "\n".join(lines)
    (CONFIRM.parent / "confirm.md").write_text(text + "\n")
    (CONFIRM.parent / "confirm.json").write_text(json.dumps({"rows": rows, "spearman_val": rho,
                                                             "spearman_test": rho_test}, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
