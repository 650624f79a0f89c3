"""`zoo list`: the registered models (or blocks), their size, cost and where they come from."""

from __future__ import annotations

import argparse
from typing import Any

import torch

from zoo.cli.jsonout import to_json
from zoo.cli.options import add_json
from zoo.table import format_table
from zoo.complexity import count_parameters, macs_per_megapixel
from zoo.checkpoint import read_card
from zoo.terminal import printable
from zoo.contract import input_channels, weights_source
from zoo.registry import BLOCKS, MODELS, Plugin, build_model


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "list", help="list registered models (or blocks)",
        description="List registered models, or blocks with --blocks, with their status. Parameters and "
        "GMACs per megapixel are counted on the default configuration with torch's FLOP counter.",
    )
    parser.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern (default: all)")
    parser.add_argument("--blocks", action="store_true", help="list blocks instead of models")
    add_json(parser)
    parser.set_defaults(run=run)


def _status(plugin: Plugin) -> str:
    return "ok" if plugin.ok else f"broken: {plugin.error}"


def describe_model(plugin: Plugin) -> dict[str, Any]:
    row: dict[str, Any] = {"name": plugin.name, "distribution": plugin.distribution, "status": _status(plugin),
                           "parameters": None, "gmacs_per_megapixel": None, "in_channels": None, "card": None}
    if plugin.ok:
        try:
            with torch.device("meta"):  # counts need shapes only: nothing is allocated
                model = build_model(plugin.name)
            channels = input_channels(model)
            row.update(parameters=count_parameters(model), in_channels=channels,
                       gmacs_per_megapixel=round(macs_per_megapixel(model, channels) / 1e9, 1))
            source = weights_source(model)  # a pretrained name's shipped file: its model card
            row["card"] = read_card(source) if source else None
        except Exception as exc:  # a third-party model failing to build must not stop the listing
            row["status"] = f"broken: {type(exc).__name__}: {exc}"
    return row


def headline(card: dict[str, Any] | None) -> str:
    """A model card in a few words: its training data and its first held-out score."""
    if not card:
        return "-"
    trained_on = card.get("trained_on")
    words = "+".join(map(str, trained_on)) if isinstance(trained_on, list) and trained_on else "trained"
    held_out = card.get("held_out") or {}
    if isinstance(held_out, dict) and held_out:
        data, scores = next(iter(held_out.items()))
        if isinstance(scores, dict) and isinstance(scores.get("psnr"), (int, float)):
            words += f"; {data} {scores['psnr']:.2f} dB"
    return printable(words, one_line=True)  # a card is the weights file's text: no terminal escapes


def describe_block(plugin: Plugin) -> dict[str, Any]:
    return {"name": plugin.name, "distribution": plugin.distribution, "status": _status(plugin), "target": plugin.target}


def run(args: argparse.Namespace) -> int:
    registry, describe = (BLOCKS, describe_block) if args.blocks else (MODELS, describe_model)
    rows = [describe(plugin) for plugin in registry.plugins(args.pattern)]
    if args.json:
        print(to_json(rows))
        return 0
    if not rows:
        print(f"no {registry.kind} matches '{args.pattern}'")
        return 0
    if args.blocks:
        print(format_table(["block", "distribution", "object", "status"],
                           [[r["name"], r["distribution"], r["target"], r["status"]] for r in rows]))
    else:
        def fmt(value: Any, spec: str) -> str:
            return "-" if value is None else format(value, spec)

        table = [[r["name"], fmt(r["parameters"] and r["parameters"] / 1e6, ".2f"), fmt(r["gmacs_per_megapixel"], ".1f"),
                  fmt(r["in_channels"], "d"), r["distribution"], r["status"], headline(r["card"])] for r in rows]
        print(format_table(["model", "params (M)", "GMACs/MP", "in ch", "distribution", "status", "weights"], table,
                           right=(1, 2, 3)))
    return 0
