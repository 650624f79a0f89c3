"""`zoo quantize MODEL --data SPEC -o FILE`: an INT8 file for OpenVINO (NNCF, ``.xml``) or onnxruntime
(static QDQ, ``.onnx``), its loss against float32 measured and written on its card."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from zoo.cli.engine import say
from zoo.cli.jsonout import to_json
from zoo.cli.options import add_json, add_weights
from zoo.errors import ZooError
from zoo.evaluation import DATA_KINDS, load_data
from zoo.export.onnxlib import require
from zoo.export.openvino import require_openvino
from zoo.export.quantize import against_float32, engine_for, quantize
from zoo.export.quantizers import require_nncf
from zoo.factory import create_model
from zoo.fileio import check_replaceable
from zoo.limits import check_threads
from zoo.precision import LOSS_BOUND_DB

DEFAULT_LIMIT = 64  # calibration images: NNCF's statistics settle well before (the demo models: 36)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quantize", help="quantize a model to INT8 for OpenVINO (NNCF) or onnxruntime (QDQ)",
        description="Post-training INT8 quantization: FILE.xml for OpenVINO (NNCF), FILE.onnx for onnxruntime "
        "(static QDQ). Calibrated on the noisy images of --data; what stays in float (nothing; the Haar "
        "transforms, first and last convolutions and the input's residual addition; those and every residual "
        "addition) chosen by measurement on --val: the fastest within --max-drop dB of float32, else (OpenVINO) "
        "NNCF's accuracy control. The file carries its card: the loss measured, each choice tried. A copy goes "
        "to zoo's cache, where `zoo denoise MODEL --precision auto|int8` finds it.",
    )
    parser.add_argument("model", help="registered model name")
    add_weights(parser)
    parser.add_argument("--data", required=True, metavar="SPEC", help="calibration images: " + " | ".join(DATA_KINDS))
    parser.add_argument("--val", metavar="SPEC", help="validation images for the loss (default: --data)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.xml (OpenVINO) or FILE.onnx (onnxruntime)")
    parser.add_argument("--engine", choices=["openvino", "onnxruntime"], help="what the file is for (default: by its suffix)")
    parser.add_argument("--max-drop", type=float, default=LOSS_BOUND_DB, metavar="DB",
                        help=f"the most PSNR (dB) the file may lose against float32 on --val (default {LOSS_BOUND_DB:g})")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                        help=f"at most N images of each set (default {DEFAULT_LIMIT})")
    parser.add_argument("--threads", type=int, help="CPU threads (default: as many as torch uses)")
    parser.add_argument("--force", action="store_true", help="overwrite FILE")
    add_json(parser, help="print the file's card as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    engine = engine_for(args.output, args.engine)  # a wrong suffix fails before any work
    output = Path(args.output)
    if output.is_dir() or not output.parent.is_dir():
        raise ZooError(f"-o {args.output}: give a file in an existing folder")
    check_replaceable(output)
    if output.exists() and not args.force:
        raise ZooError(f"{output} exists (use --force to overwrite)")
    if not math.isfinite(args.max_drop) or not 0 <= args.max_drop < 10:
        raise ZooError(f"--max-drop is in dB, from 0 to 10; got {args.max_drop:g}")
    if args.limit < 1:
        raise ZooError("--limit must be at least 1")
    check_threads(args.threads)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    _require(engine)
    calibration = list(load_data(args.data))[: args.limit]
    validation = calibration if args.val is None else list(load_data(args.val))[: args.limit]
    model = create_model(args.model, weights=args.weights)
    card = quantize(model, output, calibration, validation, engine=engine, max_drop=args.max_drop, data=args.data,
                    val=args.val or args.data, log=None if args.json else say)
    if args.json:
        print(to_json(card))
    else:
        held_out = f", {against_float32(card['held_out_loss_db'])} on {card['held_out']}" if "held_out" in card else ""
        print(f"{output}: int8 for {engine}, {against_float32(card['loss_db'])} on {card['validation']}{held_out} "
              f"({card['kept_in_float']} kept in float, {card['method']}), {card['milliseconds_256']:.1f} ms at 256x256")
    worst = max(card["loss_db"], card.get("held_out_loss_db", card["loss_db"]))
    if worst > LOSS_BOUND_DB:
        print(f"zoo: warning: {output} loses {worst:.3f} dB, over the {LOSS_BOUND_DB:g} dB bound: "
              "--precision auto passes it over", file=sys.stderr)
    return 0


def _require(engine: str) -> None:
    """The packages the engine's quantizer needs, or one line saying what to install."""
    require("onnxruntime")  # the export is checked in it, and it is onnxruntime's quantizer
    if engine == "openvino":
        require_openvino()
        require_nncf()
