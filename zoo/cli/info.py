"""`zoo info NAME`: a model's configuration and per-stage summary."""

from __future__ import annotations

import argparse
import json

import torch

from zoo.cli.jsonout import to_json
from zoo.cli.options import add_json, add_weights
from zoo.table import format_table
from zoo.complexity import count_parameters, stage_summary
from zoo.checkpoint import read_card
from zoo.contract import built_as, input_channels, model_config, noise_channels, weights_source
from zoo.errors import ZooError
from zoo.factory import create_model
from zoo.registry import MODELS
from zoo.terminal import printable


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info", help="show a model's configuration and stages",
        description="Show a model's full configuration and, per top-level stage, its parameters, output shape "
        "and GMACs at the given input size. Counting uses meta tensors: nothing is computed.",
    )
    parser.add_argument("name", help="registered model name")
    add_weights(parser, help="weights file: its stored configuration is shown")
    parser.add_argument("--size", type=int, default=256, help="input height and width for the summary (default 256)")
    add_json(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.size < 1:
        raise ZooError(f"--size must be positive, got {args.size}")
    plugin = MODELS.plugin(args.name)
    if args.weights:
        model = create_model(args.name, weights=args.weights)
    else:
        with torch.device("meta"):
            model = create_model(args.name)
    channels = input_channels(model)
    shape = (1, channels + noise_channels(model), args.size, args.size)  # a noise-aware model's map follows the image
    stages = stage_summary(model, shape)
    source = weights_source(model)
    card = read_card(source) if source else None
    info = {
        "name": args.name,
        "distribution": plugin.distribution,
        "object": plugin.target,
        "config": model_config(model),
        "architecture": built_as(model) or {"model": args.name, "config": model_config(model)},
        "parameters": count_parameters(model),
        "input_shape": list(shape),
        "gmacs": sum(s.macs for s in stages) / 1e9,
        "stages": [{"name": s.name, "kind": s.kind, "parameters": s.parameters, "output_shape": list(s.output_shape),
                    "gmacs": s.macs / 1e9} for s in stages],
        "card": card,
    }
    if args.json:
        print(to_json(info))
        return 0
    print(f"{args.name}  ({plugin.target}, from '{plugin.distribution}')")
    print(f"config: {json.dumps(model_config(model))}")
    built = built_as(model)
    if built is not None:
        print(f"built as: {built['model']} {json.dumps(built['config'])}")
    print(f"parameters: {info['parameters']:,}   GMACs at {args.size}x{args.size}: {info['gmacs']:.1f}")
    if card:
        print(format_card(card))
    print()
    rows = [[s.name, s.kind, f"{s.parameters:,}", "x".join(map(str, s.output_shape[1:])), f"{s.macs / 1e9:.2f}"] for s in stages]
    print(format_table(["stage", "module", "params", "output (CxHxW)", "GMACs"], rows, right=(2, 4)))
    return 0


def format_card(card: dict) -> str:
    """A model card as indented lines: a summary, then each field (held-out scores one per set)."""
    lines = ["model card:"]
    lines += _card_lines(card)
    return "\n".join(printable(line, one_line=True) for line in lines)  # a card is anyone's text


def _card_lines(card: dict) -> list[str]:
    lines = []
    if "summary" in card:
        lines.append(f"  {card['summary']}")
    for key, value in card.items():
        if key == "summary":
            continue
        if key == "held_out" and isinstance(value, dict):
            for data, scores in value.items():
                lines.append(f"  held out, {data}: {json.dumps(scores)}")
        else:
            lines.append(f"  {key.replace('_', ' ')}: {value if isinstance(value, str) else json.dumps(value)}")
    return lines
