"""The recorded search run: NSGA-II against random search at the same budget, and the
hypervolume of both fronts against one reference point.

    python benchmarks/search_run.py                      # the recorded run (hours on 2 CPU cores)
    python benchmarks/search_run.py --tiny --out /tmp/s  # a few minutes: checks that the script works

Each search is `zoo search run` in its own folder under --out (run the script again to resume
either); the reports go to --results (default benchmarks/results/search/): each sampler's
front.png, history.png, trials.csv, table.txt and summary.json, plus fronts.png (both fronts) and
search.md / search.json (the comparison). Training data: the mixed data (`mixed-raw`) where this
zoo has it, else `synthraw`; validation on its held-out `crossval-raw` split, else `synthval`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_data() -> tuple[str, str]:
    from zoo.evaluation import DATA_KINDS as EVAL_KINDS
    from zoo.train.data import DATA_KINDS as TRAIN_KINDS

    data = "mixed-raw" if "mixed-raw" in TRAIN_KINDS else "synthraw"
    val = "crossval-raw" if "crossval-raw" in EVAL_KINDS else "synthval"
    return data, val


def zoo(*args: str) -> None:
    command = [sys.executable, "-m", "zoo", *args]
    print("$ zoo " + " ".join(args), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def main() -> int:
    data, val = default_data()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "search-bench", help="where the searches run")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "search")
    parser.add_argument("--space", default="default", help="search space (default: the shipped one)")
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--steps", type=int, default=400, help="proxy steps per candidate")
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--max-gmacs", type=float, default=80.0,
                        help="cap, GMACs per megapixel (mwrcanet-demo's architecture: 65.5)")
    parser.add_argument("--data", default=data)
    parser.add_argument("--val", default=val)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="a tiny space, 20-step proxies, 6 trials")
    args = parser.parse_args()

    space = args.space
    common = ["--steps", str(args.steps), "--population", str(args.population), "--seed", str(args.seed),
              "--data", args.data, "--val", args.val, "--max-gmacs", str(args.max_gmacs)]
    trials = args.trials
    if args.tiny:  # the shipped tiny space: only to check that the script runs
        space = "tiny"
        common = ["--steps", "20", "--batch", "4", "--patch", "32", "--validations", "2", "--population", "4",
                  "--seed", str(args.seed), "--data", "synthraw", "--val", "synthval", "--max-gmacs", "2.5"]
        trials = min(trials, 6)
    timings = {}
    for sampler in ("nsga2", "random"):
        started = time.perf_counter()
        zoo("search", "run", space, "--out", str(args.out / sampler), "--sampler", sampler, "--trials", str(trials),
            *common)
        timings[sampler] = time.perf_counter() - started
        zoo("search", "report", str(args.out / sampler), "--to", str(args.results / sampler))
    compare(args.out, args.results, timings)
    return 0


def compare(out: Path, results: Path, timings: dict[str, float]) -> None:
    """Both fronts' hypervolume against one reference: the worse of the two runs' reference
    points (the noisy input's PSNR or the worst trained PSNR, the GMACs cap or the largest)."""
    import optuna

    from zoo.search.pareto import hypervolume
    from zoo.search.report import MAXIMIZE_2D, front_points
    from zoo.search.status import trial_rows
    from zoo.search.storage import locate

    runs = {}
    for sampler in ("nsga2", "random"):
        location = locate(str(out / sampler))
        study = optuna.load_study(study_name=location.study, storage=location.storage)
        summary = json.loads((results / sampler / "summary.json").read_text())
        runs[sampler] = (trial_rows(study), summary)
    reference = (min(s["reference"]["psnr"] for _, s in runs.values()),
                 max(s["reference"]["gmacs"] for _, s in runs.values()))
    comparison = {"reference": {"psnr": reference[0], "gmacs": reference[1]}, "runs": {}}
    for sampler, (rows, summary) in runs.items():
        points = front_points(rows)
        comparison["runs"][sampler] = {
            "hypervolume": hypervolume(points, reference, MAXIMIZE_2D),
            "trials": summary["trials"], "trained": summary["trained"], "stopped_early": summary["stopped_early"],
            "over_cap": summary["over_cap"], "cost_minutes": round(summary["cost_seconds"] / 60, 1),
            "wall_minutes": round(timings.get(sampler, 0.0) / 60, 1), "best_psnr": max(p[0] for p in points),
            "front": summary["front"], "proxy": summary["proxy"], "space_hash": summary["space_hash"]}
    hv = {s: r["hypervolume"] for s, r in comparison["runs"].items()}
    comparison["nsga2_larger"] = hv["nsga2"] > hv["random"]
    results.mkdir(parents=True, exist_ok=True)
    (results / "search.json").write_text(json.dumps(comparison, indent=2) + "\n")
    plot(runs, results / "fronts.png", hv)
    lines = ["# zoo search: NSGA-II against random search", "",
             f"Reference point for both: {reference[0]:.3f} dB, {reference[1]:.4g} GMACs/MP.", "",
             "| sampler | trials | trained | stopped early | over cap | best PSNR (dB) | hypervolume | cost (min) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for sampler, r in comparison["runs"].items():
        lines.append(f"| {sampler} | {r['trials']} | {r['trained']} | {r['stopped_early']} | {r['over_cap']} | "
                     f"{r['best_psnr']:.3f} | {r['hypervolume']:.4g} | {r['cost_minutes']} |")
    lines += ["", f"NSGA-II's hypervolume is {'larger' if comparison['nsga2_larger'] else 'NOT larger'}.", ""]
    (results / "search.md").write_text("\n".join(lines))
    print("\n".join(lines))


def plot(runs, path: Path, hv: dict[str, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.search.report import front_points

    fig, ax = plt.subplots(figsize=(7.5, 5))
    for (sampler, (rows, _)), colour in zip(runs.items(), ("tab:red", "tab:blue")):
        trained = [r for r in rows if r.feasible]
        ax.scatter([r.gmacs for r in trained], [r.psnr for r in trained], s=12, c=colour, alpha=0.3)
        points = sorted(front_points(rows), key=lambda p: p[1])
        ax.step([p[1] for p in points], [p[0] for p in points], where="post", c=colour,
                label=f"{sampler} front (hypervolume {hv[sampler]:.4g})")
    ax.set(xlabel="GMACs per megapixel", ylabel="validation PSNR after the proxy (dB)",
           title="NSGA-II against random search, same budget")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
