"""`zoo train MODEL --data synthraw --out RUN_DIR`: train, validate, checkpoint, resume.

The settings come from, each over the one before: the defaults, the run's own (``--resume``:
its ``config.json``), the recipe file (``--config-file``), the command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from zoo.cli.options import add_weights
from zoo.cli.recipe import chosen, model_config, suppress_defaults
from zoo.data.specs import TRAIN_KINDS
from zoo.data.synthetic import CONTENTS
from zoo.errors import ZooError
from zoo.precision import PRECISIONS
from zoo.torchrun import Place
from zoo.train.resume import saved_settings
from zoo.train.trainer import LOSSES, TrainConfig, train

# Options whose TrainConfig field has another name.
FIELDS = {"config": "model_config"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    d = TrainConfig(model="", out="")
    parser = subparsers.add_parser(
        "train", help="train a model (L1, AdamW, cosine schedule, EMA; resumable)",
        description="Train with AdamW, warm-up then cosine decay, an EMA of the weights, gradient "
        "clipping and the 8 rotations/flips as augmentation. Checkpoints are written atomically; "
        "`zoo train --resume --out RUN_DIR` continues exactly where a run stopped, with the run's own "
        "settings. `--resume --steps N` with N above the run's steps extends it: the steps taken keep "
        "the rates they ran at, and from the resume step the learning rate is what a run of N steps "
        "(with the run's warm-up) has there. The result equals such a run when the stopped one had "
        "not left its warm-up; otherwise the rate moves up at the resume step to the longer schedule's "
        "(from its floor, for a finished run) and decays from there to the end "
        "(docs/training-recipe.md, 'Extending a run'). A whole recipe in one file: --config-file. "
        "Several GPUs or nodes: torchrun --nproc-per-node N -m zoo train ...",
    )
    parser.add_argument("model", nargs="?",
                        help="registered model name, or a model config file (*.json); with --resume, the run's own")
    parser.add_argument("--config-file", metavar="FILE",
                        help="a whole recipe: TOML, or YAML (.yaml/.yml) with PyYAML installed; its keys are these "
                        "options (model, steps, val-every, ...; docs/recipes/ has examples). Options given here win")
    parser.add_argument("--data", action="append", metavar="SPEC",
                        help=f"training data, repeatable, SPEC@W to weigh one: {' | '.join(TRAIN_KINDS)}; "
                        f"CONTENT is {', '.join(CONTENTS)} (default synthraw)")
    parser.add_argument("--out", metavar="RUN_DIR", help="run folder (required: here or in the recipe)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in RUN_DIR with its own settings (its config.json). An option given "
                        "with it must keep the run's training settings, except --steps above the run's (extends it); "
                        "--val, --val-every and --checkpoint-every may change")
    parser.add_argument("--config", type=model_config, default={}, metavar="JSON|FILE",
                        help='model configuration: inline JSON, e.g. \'{"widths": [32, 48, 64], "depth": 3}\', '
                        "or a JSON file holding one")
    add_weights(parser, help="start from these weights (fine-tuning)")
    parser.add_argument("--steps", type=int, default=d.steps, help=f"optimizer steps (default {d.steps})")
    parser.add_argument("--batch", type=int, default=d.batch, help=f"patches per step and rank (default {d.batch})")
    parser.add_argument("--patch", type=int, default=d.patch, help=f"patch side, a multiple of 8 (default {d.patch})")
    parser.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr:g})")
    parser.add_argument("--warmup", type=int, help="warm-up steps (default 100, at most a tenth of --steps)")
    parser.add_argument("--loss", choices=LOSSES, default=d.loss, help="training loss (default l1)")
    parser.add_argument("--ema", type=float, default=d.ema, help=f"EMA decay (default {d.ema})")
    parser.add_argument("--clip", type=float, default=d.clip, help=f"max gradient norm, 0: off (default {d.clip})")
    parser.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                        help="mixed precision on a GPU (default float32)")
    parser.add_argument("--val", default=d.val, metavar="SPEC",
                        help="validation data, any `zoo eval` set, or 'none' (default auto: the held-out synthval "
                        "blocks, raw or sRGB as the model takes)")
    parser.add_argument("--val-every", type=int, default=d.val_every, help=f"steps between validations (default {d.val_every})")
    parser.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every,
                        help=f"steps between checkpoints (default {d.checkpoint_every})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"seed of weights and batches (default {d.seed})")
    suppress_defaults(parser)  # what was given, told apart from the defaults: those of the run or the recipe win
    parser.set_defaults(run=run, command_parser=parser)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The run's settings: the defaults, then the run's own (``--resume``), the recipe file, the
    command line."""
    options = chosen(args)
    if "out" not in options:
        raise ZooError("give the run folder: --out RUN_DIR (or out = ... in the recipe)")
    settings: dict[str, Any] = {}
    if getattr(args, "resume", False):
        saved = saved_settings(options["out"])
        if saved is None and "model" not in options:
            raise ZooError(f"{options['out']} holds no run to resume (no config.json): give the model and its "
                           "settings to start one")
        settings.update(saved or {})
    for option, value in options.items():
        settings[FIELDS.get(option, option)] = None if option == "val" and value == "none" else value
    if options.get("weights"):  # saved absolute, so that --resume works from any folder
        settings["weights"] = str(Path(options["weights"]).expanduser().resolve())
    if "model" not in settings:
        raise ZooError("give the model to train (a registered name or a model config file), or --resume a run")
    if not isinstance(settings.get("model_config", {}), dict):
        raise ZooError("--config must be a JSON object")
    return TrainConfig(**settings)


def run(args: argparse.Namespace) -> int:
    final = train(train_config(args), resume=bool(getattr(args, "resume", False)))
    if Place.from_environment().main:  # one line from rank 0, not one per process
        print(f"zoo: wrote {final} (EMA weights); best by validation: {final.with_name('best.safetensors')}", file=sys.stderr)
    return 0
