"""Issue 27's study: the search with multi-fidelity promotion, each rung's front, and the measured
rank agreement of each rung (and of a power-law learning-curve fit) with the last rung.

    python benchmarks/search_rungs.py                     # about 70-90 min on 2 CPU cores (two workers)
    python benchmarks/search_rungs.py --tiny --out /tmp/r # a few minutes: checks the script

Runs `zoo search run` with --rungs in --workers processes (one thread each) on one journal, then
`zoo search report` into --results (default benchmarks/results/search/rungs/): rungs.md (each
rung's front and promotions, the agreement table and the chosen proxy), rungs.json, front.png,
trials.csv, summary.json. Run it again to continue: it resumes the study (docs/search.md says which
files to commit to continue in a later session).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "search" / "rungs-run",
                        help="the search folder (its journal, results and rung checkpoints are committable)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "search" / "rungs")
    parser.add_argument("--space", default="default")
    parser.add_argument("--trials", type=int, default=32, help="candidates trained to the first rung")
    parser.add_argument("--rungs", default="250,750,2250")
    parser.add_argument("--promote", default="0.5")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--validations", type=int, default=5, help="per first rung: the power law's points")
    parser.add_argument("--max-gmacs", type=float, default=80.0)
    parser.add_argument("--data", default="mixed-raw")
    parser.add_argument("--val", default="crossval-raw")
    parser.add_argument("--precision", default="bfloat16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="the tiny space, 8/16/32-step rungs, 6 candidates")
    parser.add_argument("--pack", action="store_true",
                        help="before committing, with no worker running: keep only the rung checkpoints a later "
                             "session may promote from, in float16 (zoo.search.rungs.pack_checkpoints)")
    args = parser.parse_args()
    if args.pack:
        return pack(args.out, args.trials)
    space, rungs, trials = args.space, args.rungs, args.trials
    extra = ["--batch", str(args.batch), "--patch", str(args.patch), "--max-gmacs", str(args.max_gmacs),
             "--data", args.data, "--val", args.val, "--precision", args.precision]
    if args.tiny:
        space, rungs, trials = "tiny", "8,16,32", min(trials, 6)
        extra = ["--batch", "2", "--patch", "32", "--data", "synthraw", "--val", "synthval"]
    command = [sys.executable, "-m", "zoo", "search", "run", space, "--out", str(args.out), "--trials", str(trials),
               "--rungs", rungs, "--promote", args.promote, "--validations", str(args.validations),
               "--population", "8", "--no-early-stop", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one core a worker
    print("$ " + " ".join(command[2:]), f"(x{args.workers})", flush=True)
    workers = [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(args.workers)]
    codes = [w.wait() for w in workers]
    if any(codes):
        print(f"a worker ended with {codes}; run the script again to resume", file=sys.stderr)
        return 1
    subprocess.run([sys.executable, "-m", "zoo", "search", "report", str(args.out), "--to", str(args.results)],
                   cwd=ROOT, check=True)
    print((args.results / "rungs.md").read_text())
    return 0


def pack(out: Path, trials: int) -> int:
    from zoo.search import storage
    from zoo.search.rungs import open_rung_study, pack_checkpoints, stored_rungs
    from zoo.search.status import SETTINGS_ATTR

    optuna = storage.require_optuna()
    location = storage.locate(str(out))
    study = optuna.load_study(study_name=storage.study_name(location), storage=location.storage)
    rungs = stored_rungs(study.user_attrs.get(SETTINGS_ATTR, {}))
    if rungs is None:
        print(f"{out}: not a search with rungs", file=sys.stderr)
        return 2
    kept, removed = pack_checkpoints(study, open_rung_study(study), rungs, out, trials)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and "/run/" not in str(p))
    print(f"{out}: {kept} rung checkpoints kept (float16), {removed} removed; "
          f"{size / 2**20:.1f} MiB outside the run folders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
