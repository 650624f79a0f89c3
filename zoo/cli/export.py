"""`zoo export MODEL -o model.onnx`: an ONNX file for onnxruntime, checked against PyTorch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zoo.cli.jsonout import to_json
from zoo.cli.options import add_json, add_weights
from zoo.errors import ZooError
from zoo.export import DEFAULT_OPSET, FP16_TOLERANCE, FP32_TOLERANCE, export_onnx
from zoo.factory import create_model


def _batch(value: str) -> int | None:
    if value == "dynamic":
        return None
    try:
        batch = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'dynamic', got {value!r}") from None
    if batch < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'dynamic', got {value!r}")
    return batch


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model to ONNX (needs zoo-denoise[onnx])",
        description="Export to ONNX with dynamic height and width (the model's own padding is in the "
        "graph, so any size runs) and a dynamic or fixed batch. The model name, configuration, zoo "
        "version, input layout (NCHW) and value range ([0, 1]) go into the file's metadata. "
        f"--check runs onnxruntime against PyTorch on two input sizes and fails above "
        f"{FP32_TOLERANCE:g} max abs difference ({FP16_TOLERANCE:g} with --fp16).",
    )
    parser.add_argument("model", help="registered model name")
    add_weights(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="output .onnx file (default: MODEL.onnx, MODEL-fp16.onnx)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--fp16", action="store_true", help="run the network in float16 (input and output stay float32)")
    parser.add_argument("--batch", type=_batch, default=None, metavar="N|dynamic", help="fixed batch size (default: dynamic)")
    parser.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                        help="compare onnxruntime with PyTorch after export (default: on)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    add_json(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output or f"{args.model}{'-fp16' if args.fp16 else ''}.onnx")
    if output.is_dir():
        raise ZooError(f"{output} is a folder: give a file name (-o FILE.onnx)")
    if output.suffix.lower() != ".onnx":  # -o a.png wrote an ONNX graph under an image's name
        raise ZooError(f"{output}: an ONNX file's name ends in .onnx (-o FILE.onnx)")
    if output.exists() and not args.force:
        raise ZooError(f"{output} exists (use --force to overwrite)")
    model = create_model(args.model, weights=args.weights)
    print(f"zoo: exporting {args.model} to {output} ...", file=sys.stderr, flush=True)
    result = export_onnx(model, output, opset=args.opset, fp16=args.fp16, batch=args.batch, check=args.check)
    size_mb = output.stat().st_size / 1e6
    if args.json:
        print(to_json({"path": str(output), "size_mb": round(size_mb, 2), "opset": result.opset,
                          "batch": args.batch or "dynamic", "metadata": result.metadata,
                          "max_abs_diff": result.max_abs_diff, "tolerance": result.tolerance}))
        return 0
    print(f"wrote {output} ({size_mb:.1f} MB, opset {result.opset}, batch {args.batch or 'dynamic'}, "
          f"{result.metadata['zoo.precision']})")
    if result.max_abs_diff:
        diffs = ", ".join(f"{diff:.1e} at {shape}" for shape, diff in result.max_abs_diff.items())
        print(f"check: onnxruntime vs PyTorch max abs difference {diffs} (tolerance {result.tolerance:g})")
    return 0
