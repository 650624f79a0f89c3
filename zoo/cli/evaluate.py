"""`zoo eval MODEL [MODEL ...] --data SET`: mean PSNR and SSIM as the challenge scored them, side by
side for several models or baselines, broken down by kind and noise level on tagged sets."""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import asdict
from pathlib import Path


from zoo.baselines import BASELINES, check_available
from zoo.cli.engine import add_engine, say
from zoo.cli.jsonout import to_json
from zoo.cli.options import add_device, add_json, add_precision, add_threads, add_tiling, add_weights, check_overlap, \
    check_tiling_options, precision_of, threads_said, use_threads
from zoo.contract import size_multiple, weights_source
from zoo.errors import ZooError
from zoo.export.engines import ENGINES
from zoo.export.precision import choose
from zoo.evaluation import DATA_KINDS, EvalReport, baseline_denoiser, evaluate, load_data, network_denoiser
from zoo.fileio import check_replaceable
from zoo.factory import create_model
from zoo.registry import list_models
from zoo.table import format_table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="score a model or a classic baseline on an evaluation set",
        description="Mean PSNR and SSIM (per block with peak 1.0, then the mean over blocks, as the "
        "challenge did), the noisy input's scores beside them, and seconds per megapixel. MODEL is "
        f"a registered model or a baseline ({', '.join(BASELINES)}; given each image's true noise "
        "level); several are scored side by side. On a tagged set (crossdomain-raw, crossdomain-srgb, "
        "crossval-*) the scores are also broken down per kind and per noise level, with the noisy "
        "input's PSNR beside each and each model's worst single block against its noisy input. "
        "Built-in sets need no download.",
    )
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="registered model names, or bm3d / wavelet / nlmeans (several: side by side)")
    parser.add_argument("--data", required=True, metavar="SET", help=" | ".join(DATA_KINDS))
    add_weights(parser)
    parser.add_argument("--ensemble", action="store_true", help="x8 self-ensemble (8x the time)")
    add_tiling(parser)
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N images")
    add_precision(parser)
    add_device(parser, dtype=False)
    add_engine(parser, ENGINES)
    add_threads(parser)
    parser.add_argument("--csv", metavar="FILE", help="write per-image scores to a CSV file")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --csv file")
    add_json(parser, help="print the summary, breakdown and per-image scores as JSON (several models: "
             "{\"reports\": [...]})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ZooError("--limit must be at least 1")
    check_overlap(args)  # baselines ignore it, but a negative one is a mistake all the same
    if args.csv and (Path(args.csv).is_dir() or not Path(args.csv).parent.is_dir()):
        raise ZooError(f"--csv {args.csv}: give a file in an existing folder")  # before hours of scoring
    if args.csv:
        check_replaceable(args.csv)  # a FIFO or device (as root, /dev/null was replaced)
        if Path(args.csv).exists() and not args.force:
            raise ZooError(f"{args.csv} exists (use --force to overwrite)")
    networks = [name for name in args.models if not _is_baseline(name)]
    if args.weights and len(networks) != 1:
        raise ZooError("--weights goes with exactly one network; score other weights in their own run")
    if len(set(args.models)) != len(args.models):
        raise ZooError("a model is named twice")
    check_available([name for name in args.models if _is_baseline(name)])  # before any model runs
    args.precision = precision_of(args)
    use_threads(args)  # every engine takes torch's count
    pairs = load_data(args.data)  # a wrong set or file fails before any model is built
    if args.limit is not None:
        pairs = pairs[: args.limit]
    if not pairs:
        raise ZooError(f"{args.data}: no images")
    denoisers = {name: _denoiser(name, args) for name in args.models}  # every model built before any scoring
    reports = [evaluate(denoiser, pairs, model=name, data=args.data) for name, denoiser in denoisers.items()]
    if args.csv:
        write_csv(reports, args.csv)
    if args.json:
        documents = [{"summary": r.summary(), "breakdown": r.breakdown(), "images": [asdict(s) for s in r.images]}
                     for r in reports]
        print(to_json(documents[0] if len(documents) == 1 else {"reports": documents}))
        return 0
    print(summary_table(reports))
    if any(score.tags for score in reports[0].images):
        print()
        print(breakdown_table(reports))
    return 0


def _is_baseline(name: str) -> bool:
    return name in BASELINES and name not in list_models()


def _denoiser(name: str, args: argparse.Namespace):
    if _is_baseline(name):
        if args.ensemble or args.tile:
            raise ZooError(f"{name} is a classic baseline: --ensemble and --tile are for networks")
        return baseline_denoiser(name)
    model = create_model(name, weights=args.weights)
    check_tiling_options(args, size_multiple(model))
    if weights_source(model) is None:  # neither --weights nor a pretrained name
        warnings.warn(f"no --weights: scoring {name} with random initial weights", UserWarning, stacklevel=1)
    choice = choose(model, precision=args.precision, engine=args.engine, device=args.device, threads=args.threads, log=say)
    runner = choice.runner
    print(f"zoo: {name} on {runner.device} [{choice.precision_reason}] [{choice.engine}: {choice.reason}]{threads_said(args)}",
          file=sys.stderr)
    return network_denoiser(runner, ensemble=args.ensemble, tile=args.tile, overlap=args.overlap)


def summary_table(reports: list[EvalReport]) -> str:
    rows = []
    for report in reports:
        s = report.summary()
        rows.append([s["model"], s["data"], s["images"], f"{s['psnr']:.2f}", f"{s['ssim']:.4f}", f"{s['noisy_psnr']:.2f}",
                     f"{s['noisy_ssim']:.4f}", f"{s['seconds_per_megapixel']:.2f}"])
    return format_table(["model", "data", "images", "PSNR dB", "SSIM", "noisy PSNR", "noisy SSIM", "s/MP"], rows,
                        right=range(2, 8))


def breakdown_table(reports: list[EvalReport]) -> str:
    """Mean PSNR per tag value: the noisy input, then each model; then each model's worst block
    against its own noisy input (negative: that block came out worse than it went in)."""
    groups = [{(g["tag"], g["value"]): g for g in report.breakdown()} for report in reports]
    names = [report.model for report in reports]
    rows = []
    for key, first in groups[0].items():
        rows.append([f"{key[0]} {key[1]}", first["images"], f"{first['noisy_psnr']:.2f}",
                     *(f"{g[key]['psnr']:.2f}" for g in groups), *(f"{g[key]['worst_gain']:+.2f}" for g in groups)])
    header = ["group", "blocks", "noisy", *names, *(f"{name} worst" for name in names)]
    return format_table(header, rows, right=range(1, len(header)))


def write_csv(reports: list[EvalReport], path: str) -> None:
    """Every model's per-image scores in one file, a ``model`` column first."""
    merged = EvalReport("", reports[0].data)
    rows = []
    for report in reports:
        rows.extend(report.images)
    merged.images = rows
    merged.write_csv(path, models=[report.model for report in reports for _ in report.images])
