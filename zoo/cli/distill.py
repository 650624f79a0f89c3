"""`zoo distill --original mwresnet --siamese mwrcanet --out RUN_DIR`: the four-step recipe.

The settings come from, each over the one before: the defaults, the pipeline folder's own (its
``config.json``, when it holds a pipeline: running again with only ``--out`` resumes it), the
recipe file (``--config-file``), the command line.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zoo.cli.jsonout import to_json
from zoo.cli.options import add_json
from zoo.cli.recipe import chosen, model_config, suppress_defaults
from zoo.errors import ZooError
from zoo.train.distill import DistillConfig, distill, format_results
from zoo.train.resume import saved_settings


def _four(kind):
    def parse(text: str):
        values = [kind(v) for v in text.split(",")]
        if len(values) != 4:
            raise argparse.ArgumentTypeError(f"expected four comma-separated values, got {text!r}")
        return tuple(values)
    parse.recipe_kind = "four"  # type: ignore[attr-defined]  # a recipe may give a list of four
    return parse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    d = DistillConfig(out="")
    parser = subparsers.add_parser(
        "distill", help="the four-step two-network distillation recipe (resumable)",
        description="1: train the original network; 2: train the siamese network; 3: average both "
        "networks' outputs on the noisy images of --pseudo-from and fine-tune both on the training "
        "data plus these pairs; 4: fine-tune the siamese network on those noisy images against both "
        "fine-tuned networks' outputs, with the training data still mixed in. Run it again to resume "
        "(`zoo distill --out RUN_DIR` alone: the folder keeps its settings; only --test and --val may "
        "change on it, and a step count is never extended); a table of each step's test PSNR, under "
        "the noisy input's, closes it. A whole recipe in one file: --config-file.",
    )
    parser.add_argument("--config-file", metavar="FILE",
                        help="a whole recipe: TOML, or YAML (.yaml/.yml) with PyYAML installed; its keys are these "
                        "options (steps = [2000, 2000, 500, 500], original-config = {...}, ...; docs/recipes/ has "
                        "an example). Options given here win")
    parser.add_argument("--original", default=d.original, help=f"original network (default {d.original})")
    parser.add_argument("--siamese", default=d.siamese, help=f"siamese network (default {d.siamese})")
    parser.add_argument("--original-config", type=model_config, default={}, metavar="JSON|FILE",
                        help="its configuration: inline JSON or a JSON file")
    parser.add_argument("--siamese-config", type=model_config, default={}, metavar="JSON|FILE",
                        help="its configuration: inline JSON or a JSON file")
    parser.add_argument("--data", action="append", metavar="SPEC", help="training data, repeatable (default synthraw)")
    parser.add_argument("--pseudo-from", default=d.pseudo_from, metavar="SET", help="`zoo eval` data whose noisy images get pseudo-labels")
    parser.add_argument("--test", default=d.test, metavar="SET", help=f"`zoo eval` data for each step's score (default {d.test})")
    parser.add_argument("--steps", type=_four(int), default=d.steps, metavar="S1,S2,S3,S4",
                        help=f"optimizer steps per step (default {','.join(map(str, d.steps))})")
    parser.add_argument("--lrs", type=_four(float), default=d.lrs, metavar="L1,L2,L3,L4",
                        help=f"peak learning rates (default {','.join(f'{v:g}' for v in d.lrs)})")
    parser.add_argument("--pseudo-share", type=float, default=d.pseudo_share, metavar="SHARE",
                        help=f"share of step three's patches from the pseudo-labelled images (default {d.pseudo_share})")
    parser.add_argument("--step4-pseudo-share", type=float, default=d.step4_pseudo_share, metavar="SHARE",
                        help=f"share of step four's patches from the pseudo-labelled images; the rest from "
                        f"--data; 1: only them (default {d.step4_pseudo_share:g})")
    parser.add_argument("--batch", type=int, default=d.batch, help=f"patches per step (default {d.batch})")
    parser.add_argument("--patch", type=int, default=d.patch, help=f"patch side (default {d.patch})")
    parser.add_argument("--finetune-batch", type=int, default=d.finetune_batch,
                        help=f"patches per step in steps three and four (default {d.finetune_batch})")
    parser.add_argument("--finetune-patch", type=int, default=d.finetune_patch,
                        help=f"patch side in steps three and four: whole pseudo-labelled blocks (default {d.finetune_patch})")
    parser.add_argument("--finetune-ema", type=float, default=d.finetune_ema,
                        help=f"EMA decay in steps three and four (default {d.finetune_ema})")
    parser.add_argument("--pseudo-ensemble", action=argparse.BooleanOptionalAction, default=d.pseudo_ensemble,
                        help="pseudo-labels from each network's x8 self-ensemble (default on)")
    parser.add_argument("--val", default=d.val, metavar="SPEC",
                        help="validation data of every training step, or 'none' (default auto: synthval, raw or sRGB)")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"seed of every step (default {d.seed})")
    parser.add_argument("--out", metavar="RUN_DIR",
                        help="pipeline folder, required here or in the recipe (run again to resume)")
    add_json(parser)
    suppress_defaults(parser)  # what was given, told apart from the defaults: the folder's or the recipe's win
    parser.set_defaults(run=run, command_parser=parser)


def distill_config(args: argparse.Namespace) -> DistillConfig:
    """The pipeline's settings: the defaults, then the folder's own, the recipe file, the command line."""
    options = chosen(args)
    if "out" not in options:
        raise ZooError("give the pipeline folder: --out RUN_DIR (or out = ... in the recipe)")
    settings: dict[str, Any] = dict(saved_settings(options["out"], DistillConfig) or {})
    settings.update({k: None if k == "val" and v == "none" else v for k, v in options.items()})
    for option in ("original_config", "siamese_config"):
        if not isinstance(settings.get(option, {}), dict):
            raise ZooError(f"--{option.replace('_', '-')} must be a JSON object")
    for option in ("steps", "lrs"):  # JSON gave lists
        if isinstance(settings.get(option), list):
            settings[option] = tuple(settings[option])
    return DistillConfig(**settings)


def run(args: argparse.Namespace) -> int:
    results = distill(distill_config(args))
    print(to_json(results) if getattr(args, "json", False) else format_results(results))
    print(f"zoo: final weights {results['final_weights']}", file=sys.stderr)
    return 0
