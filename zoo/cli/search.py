"""`zoo search run|status|report|export`: the multi-objective architecture search (needs zoo-denoise[search])."""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from zoo.cli.jsonout import to_json
from zoo.errors import ZooError

SAMPLERS = ("nsga2", "tpe", "random")  # zoo.search.runner.SAMPLERS, without importing the search here
# The search modules are imported inside the commands, not here: this module is imported to build
# the parser on every `zoo` call, and zoo.search.* loads torch (about 2 s; `python -X importtime`).


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="DIR|URL", help="the search's --out folder, or its database URL")
    parser.add_argument("--study", help="the study's name (needed when a database holds several)")
    parser.add_argument("--storage", metavar="URL", help="the database a folder's search is stored in: zoo opens "
                        "a database named in a folder's search.json only when it is given here too")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search", help="evolutionary architecture search: PSNR against GMACs (needs zoo-denoise[search])",
        description="Search mwnet architectures (block type, depth, options and widths per group) for the "
        "Pareto front of validation PSNR against GMACs per megapixel, on Optuna (NSGA-II by default). "
        "Each candidate trains a short proxy with `zoo train`'s recipe. Several processes or machines "
        "running the same command against one storage are one search. Needs: pip install \"zoo-denoise[search]\".",
    )
    parser.set_defaults(run=lambda args: _no_command(parser))
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run (or resume) a search", description="Create the study, or resume it, and run trials until "
        "the global budget (--trials) is used by all workers together. Run the same command again to continue; "
        "start it in several processes or on several machines (with --storage) to share the work.")
    run.add_argument("space", metavar="SPACE", help="search space file (TOML), or 'default' for the shipped one")
    run.add_argument("--out", required=True, type=Path, metavar="DIR", help="run folder: journal, candidates, report")
    run.add_argument("--storage", metavar="URL", help="database for many machines, e.g. postgresql://user@host/db "
                     "(default: a journal file in DIR)")
    run.add_argument("--study", help="study name (default: the run folder's name)")
    run.add_argument("--trials", type=int, default=32, help="trials that train, over all workers (default 32)")
    run.add_argument("--steps", type=int, default=300, help="proxy training steps per candidate (default 300)")
    run.add_argument("--sampler", choices=SAMPLERS, help="nsga2 (default for a new study), tpe or random; "
                     "a resumed study keeps its own")
    run.add_argument("--population", type=int, default=8, help="NSGA-II's generation size (default 8)")
    run.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    run.add_argument("--objectives", default="psnr,gmacs",
                     help="psnr,gmacs, then optionally latency and/or params (default psnr,gmacs)")
    run.add_argument("--max-gmacs", type=float, metavar="X", help="cap: GMACs per megapixel; over it nothing trains")
    run.add_argument("--max-params", type=float, metavar="M", help="cap: millions of parameters")
    run.add_argument("--data", action="append", metavar="SPEC", help="training data, repeatable (default synthraw)")
    run.add_argument("--val", default="auto", metavar="SPEC",
                     help="validation data: synthval(-srgb), crossval-raw/-srgb or a folder of your own; never a "
                     "test set (default auto: synthval, synthval-srgb for sRGB spaces)")
    run.add_argument("--batch", type=int, default=8, help="patches per step (default 8)")
    run.add_argument("--patch", type=int, default=64, help="patch side (default 64)")
    run.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the proxy (default 1e-3)")
    run.add_argument("--validations", type=int, default=4,
                     help="validations per candidate, evenly spaced, the last at the end (default 4)")
    run.add_argument("--early-stop", action=argparse.BooleanOptionalAction, default=True,
                     help="stop candidates that would end up dominated even with the best gain seen (default on)")
    run.add_argument("--stop-margin", type=float, default=0.1, help="dB of slack of that rule (default 0.1)")
    run.add_argument("--heartbeat", type=int, default=30, help="seconds between a trial's heartbeats (default 30)")
    run.add_argument("--grace", type=int, default=120,
                     help="seconds without a heartbeat before a trial counts as dead and is retried (default 120)")
    run.add_argument("--rungs", metavar="S1,S2,...",
                     help="multi-fidelity promotion: every candidate trains S1 steps (S1 replaces --steps), the best "
                     "--promote fraction of each rung (non-dominated rank, then crowding distance) resume to the "
                     "next; the front is judged at the last rung, e.g. 400,1200,3600")
    run.add_argument("--promote", type=float, default=1 / 3, metavar="F",
                     help="the fraction of a rung promoted to the next (default 1/3)")
    run.add_argument("--loss", default="l1", choices=("l1", "charbonnier", "relative-l1"),
                     help="the proxy's loss (default l1; noise-aware raw candidates train with relative-l1)")
    run.add_argument("--precision", default="float32", choices=("float32", "bfloat16"),
                     help="training precision (default float32; bfloat16 autocasts, faster on recent CPUs)")
    run.add_argument("--json", action="store_true", help="print the final status as JSON")
    run.set_defaults(run=run_command)

    status = commands.add_parser("status", help="counts, budget, cost and the current front")
    _target(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=status_command)

    report = commands.add_parser(
        "report", help="front and history plots, table, CSV, cost, hypervolume",
        description="Write front.png (dominated trials grey, seeds marked), history.png, trials.csv, table.txt "
        "and summary.json (status, total cost, hypervolume of the PSNR-GMACs front).")
    _target(report)
    report.add_argument("--to", type=Path, metavar="DIR", help="where the files go (default DIR/report)")
    report.add_argument("--reference", metavar="PSNR,GMACS",
                        help="hypervolume reference point (default: the validation set's noisy-input PSNR and the "
                        "GMACs cap, or the largest GMACs trained)")
    report.add_argument("--agreement-threshold", type=float, default=0.6, metavar="R",
                        help="the Spearman coefficient a rung needs to rank by (default 0.6)")
    report.add_argument("--agreement-on", choices=("lower", "point"), default="lower",
                        help="judge the threshold on the 95%% bootstrap interval's lower bound (default) or on "
                        "the point estimate")
    report.add_argument("--json", action="store_true", help="print the summary as JSON")
    report.set_defaults(run=report_command)

    export = commands.add_parser(
        "export", help="write a trial's architecture as a model config file",
        description="Write the chosen architecture as a model config file (JSON, with its provenance). Use the "
        "file where a model name goes: zoo train FILE, zoo bench FILE, zoo export FILE, zoo distill --siamese "
        "FILE, zoo.create_model(FILE). It needs no Optuna.")
    _target(export)
    choice = export.add_mutually_exclusive_group(required=True)
    choice.add_argument("--trial", type=int, metavar="N", help="this trial")
    choice.add_argument("--knee", action="store_true", help="the knee of the PSNR-GMACs front (with rungs: the longest rung's)")
    choice.add_argument("--max-gmacs", type=float, metavar="X",
                        help="the best PSNR at most X GMACs per megapixel (with rungs: at the longest rung)")
    export.add_argument("--name", required=True, help="the architecture's name")
    export.add_argument("-o", "--output", type=Path, metavar="FILE.json", help="output file (default NAME.json)")
    export.add_argument("--force", action="store_true", help="overwrite an existing file")
    export.add_argument("--json", action="store_true", help="print the file's content as JSON")
    export.set_defaults(run=export_command)


def _no_command(parser: argparse.ArgumentParser) -> int:
    from zoo.search.storage import require_optuna

    require_optuna()
    parser.print_help(sys.stderr)
    return 2


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM ends a run like Ctrl-C: the running trial is enqueued again, to resume."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(args: argparse.Namespace) -> int:
    from zoo.search.storage import require_optuna

    require_optuna()
    from zoo.search.candidate import Proxy
    from zoo.search.objectives import parse_objectives
    from zoo.search.runner import SearchSettings, run_search
    from zoo.search.rungs import Rungs, parse_rungs
    from zoo.search.space import load_space

    space = load_space(args.space)
    rungs = None
    if args.rungs:
        rungs = Rungs(parse_rungs(args.rungs), args.promote)
        rungs.check()
        args.steps = rungs.steps[0]
    settings = SearchSettings(
        space=space, out=args.out.expanduser(), storage=args.storage, study=args.study, trials=args.trials,
        proxy=Proxy(steps=args.steps, data=args.data or ["synthraw"], val=args.val, batch=args.batch,
                    patch=args.patch, lr=args.lr, validations=args.validations, loss=args.loss,
                    precision=args.precision),
        objectives=parse_objectives(args.objectives), sampler=args.sampler, population=args.population,
        seed=args.seed, max_gmacs=args.max_gmacs, max_params=args.max_params, early_stop=args.early_stop,
        stop_margin=args.stop_margin, heartbeat=args.heartbeat, grace=args.grace, rungs=rungs)
    with _terminate_as_interrupt():
        status = run_search(settings, progress=not args.json)
    if not status:  # a torchrun rank other than 0: rank 0 reports
        return 0
    print(to_json(status) if args.json else format_status(status))
    return 0


def status_command(args: argparse.Namespace) -> int:
    from zoo.search.journal import damaged_storage
    from zoo.search.rungs import with_rungs
    from zoo.search.status import study_status

    study, location = _load(args)
    with damaged_storage(location.url):  # the trials' records are the storage's content too
        status = with_rungs(study_status(study, location), study)
    print(to_json(status) if args.json else format_status(status))
    return 0


def report_command(args: argparse.Namespace) -> int:
    from zoo.search.report import build_report

    reference = None
    if args.reference:
        try:
            psnr, gmacs = (float(v) for v in args.reference.split(","))
        except ValueError:
            raise ZooError(f"--reference takes PSNR,GMACS, got {args.reference!r}") from None
        if not (math.isfinite(psnr) and math.isfinite(gmacs)):  # NaN broke summary.json after the plots
            raise ZooError(f"--reference takes two finite numbers PSNR,GMACS, got {args.reference!r}")
        reference = (psnr, gmacs)
    study, location = _load(args)
    summary = build_report(study, location, args.to.expanduser() if args.to else None, reference,
                           threshold=args.agreement_threshold, criterion=args.agreement_on)
    table = summary.pop("table")
    if args.json:
        print(to_json(summary))
        return 0
    print(table)
    print(f"\n{format_status(summary)}\nhypervolume {summary['hypervolume']:.4g} (reference "
          f"{summary['reference']['psnr']:.2f} dB, {summary['reference']['gmacs']:.4g} GMACs/MP)")
    print(f"wrote {', '.join(summary['files'].values())}", file=sys.stderr)
    return 0


def export_command(args: argparse.Namespace) -> int:
    from zoo.search.export import choose, export_trial
    from zoo.search.rungs import judged_at_rungs
    from zoo.search.status import trial_rows

    output = (args.output or Path(f"{args.name}.json")).expanduser()
    if output.exists() and not args.force:
        raise ZooError(f"{output} exists (use --force to overwrite)")
    study, location = _load(args)
    rows, at_last_rung = judged_at_rungs(study, trial_rows(study))
    row = choose(rows, trial=args.trial, use_knee=args.knee, max_gmacs=args.max_gmacs, among=at_last_rung)
    how = f"trial {args.trial}" if args.trial is not None else "knee" if args.knee else f"max_gmacs {args.max_gmacs:g}"
    model_file = export_trial(study, location, row, args.name, output, how=how)
    if args.json:
        print(to_json(model_file.as_dict()))
        return 0
    print(f"wrote {output}: trial {row.number}, {row.psnr:.2f} dB after {row.steps} steps, {row.gmacs:.3g} GMACs/MP, "
          f"{row.mparams:.3f} M params; use it as a model name: zoo train {output} ...")
    return 0


def _load(args: argparse.Namespace):
    """The study and where it is; a storage Optuna cannot read is one line, here at the start."""
    from zoo.search.journal import damaged_storage
    from zoo.search.storage import locate, require_optuna, study_name

    optuna = require_optuna()
    location = locate(args.target, args.study, args.storage)
    name = study_name(location)
    with damaged_storage(location.url):
        study = optuna.load_study(study_name=name, storage=location.storage)
        study.get_trials(deepcopy=False)  # replays the whole storage now: its faults surface here
        study.user_attrs  # noqa: B018
    return study, location


def format_status(status: dict) -> str:
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(status["states"].items()))
    lines = [
        f"study {status['study']} in {status['storage']}: sampler {status['sampler']}, space {status['space']} "
        f"({status['space_hash']}), objectives {','.join(status['objectives'])}",
        f"budget {status['budget_used']}/{status['budget']} trials; {status['trials']} in all ({states}); "
        f"{status['stopped_early']} stopped early, {status['over_cap']} over a cap, {status['reused']} repeats, "
        f"{status['retried']} retried; cost {status['cost_seconds'] / 60:.1f} min",
    ]
    if status.get("rungs"):
        from zoo.search.rungs import format_rungs  # as the other search modules: loaded only when used

        lines.append(format_rungs(status["rungs"]))
    if status["front"]:
        lines.append("front: " + "; ".join(
            f"#{p['trial']} {p['psnr']:.2f} dB @ {p['gmacs']:.3g} GMACs/MP" + (f" ({p['seed']})" if p["seed"] else "")
            for p in status["front"]))
    return "\n".join(lines)
