"""`zoo ort MODEL.onnx INPUT... -o OUT`: denoise image files with an exported model, in onnxruntime
or OpenVINO (``--engine``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from zoo.cli.denoise import add_image_arguments, denoise_files
from zoo.cli.engine import add_engine, say
from zoo.cli.options import add_precision, add_threads, precision_of
from zoo.export.engines import FILE_ENGINES
from zoo.export.precision import choose_file


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ort", help="denoise image files with an exported .onnx model (onnxruntime or OpenVINO)",
        description="Denoise image files as `zoo denoise` does (same formats, tiling and x8 ensemble) "
        "with a file from `zoo export`, in onnxruntime or OpenVINO. --engine auto (the default) takes "
        "onnxruntime when --provider is named or a GPU is there (TensorRT, then CUDA), OpenVINO for "
        "bfloat16, and on a CPU otherwise the faster of the two installed, measured once on this "
        "machine and kept. An INT8 file from `zoo quantize` runs as it is quantized (.xml in OpenVINO, .onnx in "
        "onnxruntime). The first line printed names the precision and the engine that ran, and why.",
    )
    parser.add_argument("onnx_file", metavar="MODEL.onnx",
                        help="a file written by `zoo export` or `zoo quantize` (.onnx, or OpenVINO .xml)")
    add_image_arguments(parser)
    add_engine(parser, FILE_ENGINES)
    add_precision(parser, ("auto", "float32", "bfloat16", "int8"))
    parser.add_argument("--provider", choices=["tensorrt", "cuda", "cpu"],
                        help="onnxruntime's execution provider (default: the fastest that starts)")
    add_threads(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    precision = precision_of(args)
    return denoise_files(args, lambda: choose_file(args.onnx_file, precision=precision, engine=args.engine,
                                                   provider=args.provider, threads=args.threads, log=say),
                         Path(args.onnx_file).name)
