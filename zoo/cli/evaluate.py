"""`zoo eval MODEL --data SET`: mean PSNR and SSIM as the challenge scored them."""

from __future__ import annotations

import argparse
import sys

from zoo.cli.jsonout import to_json
from zoo.cli.options import add_device, add_json, add_tiling, add_weights, check_tiling_options
from zoo.errors import ZooError
from zoo.table import format_table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from zoo.baselines import BASELINES
    from zoo.evaluation import DATA_KINDS

    parser = subparsers.add_parser(
        "eval", help="score a model or a classic baseline on an evaluation set",
        description="Mean PSNR and SSIM (per block with peak 1.0, then the mean over blocks, as the "
        "challenge did), the noisy input's scores beside them, and seconds per megapixel. MODEL is "
        f"a registered model or a baseline ({', '.join(BASELINES)}; given each image's true noise "
        "level). Built-in sets need no download.",
    )
    parser.add_argument("model", help="registered model name, or bm3d / wavelet / nlmeans")
    parser.add_argument("--data", required=True, metavar="SET", help=" | ".join(DATA_KINDS))
    add_weights(parser)
    parser.add_argument("--ensemble", action="store_true", help="x8 self-ensemble (8x the time)")
    add_tiling(parser)
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N images")
    add_device(parser)
    parser.add_argument("--csv", metavar="FILE", help="write per-image scores to a CSV file")
    add_json(parser, help="print the summary and per-image scores as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from zoo.baselines import BASELINES
    from zoo.evaluation import baseline_denoiser, evaluate, load_data, network_denoiser
    from zoo.registry import list_models

    if args.limit is not None and args.limit < 1:
        raise ZooError("--limit must be at least 1")
    if args.csv and (Path(args.csv).is_dir() or not Path(args.csv).parent.is_dir()):
        raise ZooError(f"--csv {args.csv}: give a file in an existing folder")  # before hours of scoring
    pairs = load_data(args.data)  # a wrong set or file fails before any model is built
    if args.limit is not None:
        pairs = pairs[: args.limit]
    if not pairs:
        raise ZooError(f"{args.data}: no images")
    if args.model in BASELINES and args.model not in list_models():
        if args.weights or args.ensemble or args.tile:
            raise ZooError(f"{args.model} is a classic baseline: --weights, --ensemble and --tile are for networks")
        denoiser = baseline_denoiser(args.model)
    else:
        import warnings

        from zoo.contract import size_multiple, weights_source
        from zoo.factory import create_model
        from zoo.infer import TorchRunner

        model = create_model(args.model, weights=args.weights)
        check_tiling_options(args, size_multiple(model))
        if weights_source(model) is None:  # neither --weights nor a pretrained name
            warnings.warn(f"no --weights: scoring {args.model} with random initial weights", UserWarning, stacklevel=1)
        runner = TorchRunner(model, dtype=args.dtype, device=args.device)
        print(f"zoo: {args.model} on {runner.device}", file=sys.stderr)
        denoiser = network_denoiser(runner, ensemble=args.ensemble, tile=args.tile, overlap=args.overlap)
    report = evaluate(denoiser, pairs, model=args.model, data=args.data)
    if args.csv:
        report.write_csv(args.csv)
    summary = report.summary()
    if args.json:
        print(to_json({"summary": summary, "images": [asdict(s) for s in report.images]}))
        return 0
    rows = [[summary["model"], summary["data"], summary["images"], f"{summary['psnr']:.2f}", f"{summary['ssim']:.4f}",
             f"{summary['noisy_psnr']:.2f}", f"{summary['noisy_ssim']:.4f}", f"{summary['seconds_per_megapixel']:.2f}"]]
    print(format_table(["model", "data", "images", "PSNR dB", "SSIM", "noisy PSNR", "noisy SSIM", "s/MP"], rows,
                       right=range(2, 8)))
    return 0
