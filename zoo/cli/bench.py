"""`zoo bench MODEL`: latency, throughput, memory and achieved FLOP rate per engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from zoo.bench import DEFAULT_ENGINES, ENGINES, format_report, plot_throughput, run_benchmark
from zoo.cli.jsonout import to_json
from zoo.cli.options import add_device, add_json, add_tiling, add_weights, check_tiling_options
from zoo.contract import size_multiple
from zoo.errors import ZooError
from zoo.factory import create_model
from zoo.fileio import check_replaceable
from zoo.limits import check_threads


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="benchmark a model's inference per engine",
        description="Time zoo.denoise of random input (no download, no weights needed) on each engine, "
        "beside the machine's 3x3-convolution peak measured in the same run.",
    )
    parser.add_argument("model", help="registered model name")
    add_weights(parser)
    parser.add_argument("--size", type=int, default=256, help="input height and width (default 256)")
    parser.add_argument("--batch", type=int, default=1, help="images per call (default 1)")
    parser.add_argument("--engines", "--backends", dest="engines", default=",".join(DEFAULT_ENGINES),
                        help=f"comma-separated, from: {', '.join(ENGINES)} (default: %(default)s); "
                        "--backends is its older name, still accepted")
    parser.add_argument("--threads", type=int, help="CPU threads for torch, onnxruntime and OpenVINO (default: torch's choice)")
    add_device(parser)
    parser.add_argument("--ensemble", action="store_true", help="time the x8 self-ensemble")
    add_tiling(parser)
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (default 2)")
    parser.add_argument("--runs", type=int, default=5,
                        help="timed rounds: each engine and the conv peak once per round, in turn (default 5)")
    add_json(parser)
    parser.add_argument("--plot", metavar="FILE.png",
                        help="draw throughput per engine to a PNG, the runs' spread as error bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Every setting is checked before the first model is built: 10,000 threads hung, a FIFO as
    # --plot blocked after the whole benchmark had run, and --plot x.txt wrote a PNG named .txt.
    check_threads(args.threads)
    if args.plot:
        if Path(args.plot).is_dir():
            raise ZooError(f"--plot {args.plot} is a folder; give a .png file name")
        if Path(args.plot).suffix.lower() != ".png":
            raise ZooError(f"--plot {args.plot}: the plot is a PNG; give a file name ending in .png")
        check_replaceable(args.plot)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    if not engines:  # `--engines ,,` would time nothing and print an empty table
        raise ZooError(f"--engines names no engine; choose from {', '.join(ENGINES)}")
    model = create_model(args.model, weights=args.weights)
    check_tiling_options(args, size_multiple(model))
    report = run_benchmark(
        model, size=args.size, batch=args.batch, engines=engines,
        dtype=args.dtype, ensemble=args.ensemble, tile=args.tile, overlap=args.overlap, warmup=args.warmup, runs=args.runs,
        device=args.device,
    )
    print(to_json(report) if args.json else format_report(report))
    if args.json:  # the table carries them; JSON on stdout too, but a person reads stderr
        for line in report["warnings"]:
            print(f"zoo: warning: {line}", file=sys.stderr)
    if args.plot:
        try:
            plot_throughput([report], args.plot)
        except OSError as exc:
            raise ZooError(f"cannot write {args.plot}: {exc.strerror or exc}") from exc
    return 0
