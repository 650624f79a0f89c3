"""`zoo ort MODEL.onnx INPUT... -o OUT`: denoise image files with onnxruntime."""

from __future__ import annotations

import argparse
from pathlib import Path

from zoo.cli.denoise import add_image_arguments, denoise_files
from zoo.export import OrtRunner


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ort", help="denoise image files with an exported .onnx model in onnxruntime",
        description="Denoise image files as `zoo denoise` does (same formats, tiling and x8 ensemble) "
        "with a file from `zoo export` in onnxruntime. Without --provider it prefers TensorRT, then "
        "CUDA, then the CPU, and names the one that ran.",
    )
    parser.add_argument("onnx_file", metavar="MODEL.onnx", help="a file written by `zoo export`")
    add_image_arguments(parser)
    parser.add_argument("--provider", choices=["tensorrt", "cuda", "cpu"],
                        help="execution provider (default: the fastest that starts)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: as many as torch uses)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return denoise_files(args, lambda: OrtRunner(args.onnx_file, provider=args.provider, threads=args.threads),
                         Path(args.onnx_file).name)
