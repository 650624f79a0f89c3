"""Confirm a search by full training: architectures exported from a recorded search, each trained
from scratch with one recipe (the same for all, seeds as the set says), scored on the held-out
``crossdomain-raw`` set, which no search or training here selects on; the found network against
mwrcanet-demo's architecture (the search's seed trial 1).

    python benchmarks/search_confirm.py --set rungs --train   # issue 27: trains (resumable), then scores
    python benchmarks/search_confirm.py --set rungs           # scores what is trained, writes the record
    python benchmarks/search_confirm.py --set rungs --rescore # scores the committed winner's weights again
    python benchmarks/search_confirm.py --set proxy --train   # issue 16's record (one seed, 3000 steps)

Trainings run two at a time on one thread each (``OMP_NUM_THREADS=1``); run the same command again
to resume a killed one. The record: ``confirm.md`` and ``confirm.json`` in the set's folder; with
``--keep`` the winner's weights (every seed) beside them, which ``--rescore`` reads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEARCH = ROOT / "benchmarks" / "results" / "search"
HELD_OUT = "crossdomain-raw"


@dataclass(frozen=True)
class ConfirmSet:
    """Architectures (model config files in ``configs``) and the one recipe that trains them."""

    configs: Path  # the exported architectures (zoo search export)
    record: Path  # where confirm.md and confirm.json go
    runs: Path  # run folders (not committed)
    baseline: str  # mwrcanet-demo's architecture
    candidate: str  # the search's pick: the knee, or a front point at most 70% of the baseline's GMACs
    steps: int
    seeds: tuple[int, ...]
    precision: str
    val_every: int
    proxy: str  # what the exported PSNR was measured after

    def folder(self, name: str, seed: int) -> Path:
        return self.runs / (name if len(self.seeds) == 1 else f"{name}-s{seed}")

    def train_args(self, name: str, seed: int) -> list[str]:
        out = self.folder(name, seed)
        args = [str(self.configs / f"{name}.json"), "--data", "mixed-raw", "--steps", str(self.steps), "--batch", "16",
                "--patch", "96", "--lr", "6e-4", "--val", "crossval-raw", "--val-every", str(self.val_every),
                "--out", str(out)]
        if self.precision != "float32":
            args += ["--precision", self.precision]
        if len(self.seeds) > 1:
            args += ["--seed", str(seed)]
        return args + (["--resume"] if (out / "last.pt").exists() else [])


SETS = {
    # issue 16: four NSGA-II points after 400-step proxies, one seed each
    "proxy": ConfirmSet(SEARCH / "confirm", SEARCH, ROOT / "runs" / "search-confirm", "search-trial1", "search-knee",
                        steps=3000, seeds=(0,), precision="float32", val_every=500, proxy="400 steps"),
    # issue 27: the longest rung's knee (trial 8, 39% of the baseline's GMACs) against the baseline, two seeds
    "rungs": ConfirmSet(SEARCH / "rungs-confirm", SEARCH / "rungs-confirm", ROOT / "runs" / "rungs-confirm",
                        "rungs-trial1", "rungs-trial8", steps=5000, seeds=(0, 1), precision="bfloat16",
                        val_every=1000, proxy="the highest rung reached"),
}


def architectures(chosen: ConfirmSet) -> list[Path]:
    """The set's model config files (the record's confirm.json may lie beside them)."""
    return sorted(p for p in chosen.configs.glob("*.json") if p.name != "confirm.json")


def train(chosen: ConfirmSet) -> None:
    """Every (architecture, seed) not finished, largest first, on two one-thread workers."""
    jobs = [(spec.stem, seed) for spec in sorted(architectures(chosen), key=_cost, reverse=True)
            for seed in chosen.seeds if not (chosen.folder(spec.stem, seed) / "final.safetensors").is_file()]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    lock = threading.Lock()
    failed: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if not jobs:
                    return
                name, seed = jobs.pop(0)
            command = [sys.executable, "-m", "zoo", "train", *chosen.train_args(name, seed)]
            print("$ zoo train " + " ".join(command[4:]), flush=True)
            if subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL).returncode:
                failed.append(f"{name} seed {seed}")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise SystemExit(f"training failed for {', '.join(failed)}; run again to resume")


def _cost(spec: Path) -> float:
    return float(json.loads(spec.read_text())["provenance"]["gmacs_per_megapixel"])


def score(weights: Path, pairs) -> tuple[float, list[float]]:
    """The held-out mean PSNR, and each block's."""
    import zoo
    from zoo.evaluation import evaluate, network_denoiser
    from zoo.infer import TorchRunner

    report = evaluate(network_denoiser(TorchRunner(zoo.load(weights))), pairs, model=weights.stem, data=HELD_OUT,
                      progress=False)
    return float(report.summary()["psnr"]), [float(image.psnr) for image in report.images]


def paired_interval(gains: list[float], *, resamples: int = 2000, level: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean per-block gain (blocks resampled, pairs kept)."""
    import numpy as np

    values = np.asarray(gains)
    rng = np.random.default_rng(0)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    return float(np.quantile(means, (1 - level) / 2)), float(np.quantile(means, (1 + level) / 2))


def last_validation(run: Path) -> float:
    """The last logged validation PSNR (crossval-raw) of a finished run, read as zoo reads its log."""
    from zoo.train.runfolder import RunFolder

    return float([r for r in RunFolder(run).read_log() if r.get("val_psnr")][-1]["val_psnr"])


def measure(chosen: ConfirmSet) -> list[dict]:
    from zoo.evaluation import load_data

    pairs = load_data(HELD_OUT)
    rows = []
    for spec in architectures(chosen):
        provenance = json.loads(spec.read_text())["provenance"]
        values = provenance.get("values") or provenance.get("objectives") or {}
        for seed in chosen.seeds:
            run = chosen.folder(spec.stem, seed)
            if not (run / "final.safetensors").is_file():
                print(f"{spec.stem} seed {seed}: not trained yet ({run})", file=sys.stderr)
                continue
            rows.append({"name": spec.stem, "trial": provenance["trial"], "seed": seed,
                         "proxy_psnr": float(values["psnr"]), "proxy_steps": provenance.get("steps"),
                         "gmacs": float(values["gmacs"]), "val_psnr": last_validation(run),
                         **dict(zip(("test_psnr", "blocks"), score(run / "final.safetensors", pairs)))})
    return rows


def by_architecture(rows: list[dict]) -> dict[str, dict]:
    """Each architecture's mean over its seeds, and the spread (largest minus smallest)."""
    found: dict[str, dict] = {}
    for name in sorted({r["name"] for r in rows}):
        mine = [r for r in rows if r["name"] == name]
        tests, vals = [r["test_psnr"] for r in mine], [r["val_psnr"] for r in mine]
        found[name] = {"trial": mine[0]["trial"], "gmacs": mine[0]["gmacs"], "proxy_psnr": mine[0]["proxy_psnr"],
                       "proxy_steps": mine[0]["proxy_steps"],
                       "seeds": len(mine), "val_mean": statistics.fmean(vals), "test_mean": statistics.fmean(tests),
                       "test_spread": max(tests) - min(tests),
                       "blocks": [statistics.fmean(v) for v in zip(*(r["blocks"] for r in mine))]}  # seeds' mean
    return found


def verdict(chosen: ConfirmSet, archs: dict[str, dict]) -> dict | None:
    """Issue 27's target: the candidate, at most 70% of the baseline's GMACs (or the knee), scores at
    least as well as the baseline on the held-out set, both as the mean over the seeds."""
    if chosen.candidate not in archs or chosen.baseline not in archs:
        return None
    found, base = archs[chosen.candidate], archs[chosen.baseline]
    gain, share = found["test_mean"] - base["test_mean"], found["gmacs"] / base["gmacs"]
    low, high = paired_interval([a - b for a, b in zip(found["blocks"], base["blocks"])])
    return {"candidate": chosen.candidate, "baseline": chosen.baseline, "gain_db": gain, "gmacs_share": share,
            "blocks": len(found["blocks"]), "gain_interval": [low, high], "passed": gain >= 0.0}


def write_record(chosen: ConfirmSet, rows: list[dict]) -> str:
    from scipy import stats

    archs = by_architecture(rows)
    seeds = len(chosen.seeds)
    lines = [f"Each trained {chosen.steps} steps on mixed-raw (batch 16, patch 96, lr 6e-4, {chosen.precision}), "
             f"{seeds} seed{'s' if seeds > 1 else ''}; validation crossval-raw; held out {HELD_OUT}.", "",
             f"| architecture | trial | GMACs/MP | search PSNR (crossval-raw, {chosen.proxy}) | full PSNR (crossval-raw) "
             f"| held-out PSNR ({HELD_OUT}) |" + (" spread |" if seeds > 1 else ""),
             "| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if seeds > 1 else "")]
    for name, a in sorted(archs.items(), key=lambda item: item[1]["gmacs"]):
        spread = f" {a['test_spread']:.3f} |" if seeds > 1 else ""
        steps = f" ({a['proxy_steps']} steps)" if a["proxy_steps"] else ""
        lines.append(f"| {name} | {a['trial']} | {a['gmacs']:.1f} | {a['proxy_psnr']:.2f}{steps} | {a['val_mean']:.2f} | "
                     f"{a['test_mean']:.3f} |{spread}")
    if seeds > 1:
        lines += ["", "Per seed (held-out PSNR): " + "; ".join(
            f"{r['name']} seed {r['seed']} {r['test_psnr']:.3f}" for r in sorted(rows, key=lambda r: (r["name"], r["seed"])))]
    summary: dict = {"steps": chosen.steps, "seeds": list(chosen.seeds), "precision": chosen.precision, "rows": rows,
                     "architectures": archs}
    # A rank correlation over two points says nothing, nor one between PSNRs after different steps
    if len(archs) >= 3 and len({a["proxy_steps"] for a in archs.values()}) == 1:
        proxy = [a["proxy_psnr"] for a in archs.values()]
        summary["spearman_val"] = stats.spearmanr(proxy, [a["val_mean"] for a in archs.values()]).statistic
        summary["spearman_test"] = stats.spearmanr(proxy, [a["test_mean"] for a in archs.values()]).statistic
        lines += ["", f"Spearman rank correlation of the search's PSNR with full-training PSNR over {len(archs)} "
                  f"architectures: {summary['spearman_val']:.2f} (validation), {summary['spearman_test']:.2f} (held-out test)."]
    judged = verdict(chosen, archs)
    if judged is not None:
        summary["verdict"] = judged
        lines += ["", f"{judged['candidate']} against mwrcanet-demo's architecture ({judged['baseline']}), trained the "
                  f"same way: {judged['gain_db']:+.3f} dB on the held-out set (mean of {seeds}) at "
                  f"{judged['gmacs_share']:.0%} of its GMACs: {'PASS' if judged['passed'] else 'FAIL'} (target: at least "
                  "as good, at the knee or at most 70% of its GMACs). Over the "
                  f"{judged['blocks']} held-out blocks, paired (each block's mean over the seeds), the gain's 95% "
                  f"bootstrap interval is {judged['gain_interval'][0]:+.3f} to {judged['gain_interval'][1]:+.3f} dB."]
    text = "\n".join(lines)
    chosen.record.mkdir(parents=True, exist_ok=True)
    (chosen.record / "confirm.md").write_text(text + "\n")
    (chosen.record / "confirm.json").write_text(json.dumps(summary, indent=1) + "\n")
    return text


def keep(chosen: ConfirmSet) -> None:
    """The candidate's weights, every seed, beside its record (float32 safetensors, with their config)."""
    for seed in chosen.seeds:
        source = chosen.folder(chosen.candidate, seed) / "final.safetensors"
        shutil.copyfile(source, chosen.record / f"{chosen.candidate}-s{seed}.safetensors")


def rescore(chosen: ConfirmSet) -> int:
    """The committed weights scored again, beside the recorded numbers."""
    from zoo.evaluation import load_data

    recorded = {(r["name"], r["seed"]): r["test_psnr"]
                for r in json.loads((chosen.record / "confirm.json").read_text())["rows"]}
    pairs = load_data(HELD_OUT)
    worst = 0.0
    for seed in chosen.seeds:
        weights = chosen.record / f"{chosen.candidate}-s{seed}.safetensors"
        now, then = score(weights, pairs)[0], recorded[(chosen.candidate, seed)]
        worst = max(worst, abs(now - then))
        print(f"{weights.name}: {now:.3f} dB on {HELD_OUT} (recorded {then:.3f})")
    return 0 if worst < 0.01 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="rungs")
    parser.add_argument("--train", action="store_true", help="train what is not trained yet first (resumable)")
    parser.add_argument("--keep", action="store_true", help="copy the candidate's weights beside the record")
    parser.add_argument("--rescore", action="store_true", help="score the committed weights again; writes nothing")
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    chosen = SETS[args.set]
    if args.rescore:
        return rescore(chosen)
    if args.train:
        train(chosen)
    rows = measure(chosen)
    if len({r["name"] for r in rows}) < 2:
        print("nothing to compare yet", file=sys.stderr)
        return 1
    print(write_record(chosen, rows))
    if args.keep:
        keep(chosen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
