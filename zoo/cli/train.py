"""`zoo train MODEL --data synthraw --out RUN_DIR`: train, validate, checkpoint, resume."""

from __future__ import annotations

import argparse
import json
import os
import sys

from zoo.cli.options import add_weights
from zoo.data.specs import TRAIN_KINDS
from zoo.data.synthetic import CONTENTS
from zoo.errors import ZooError
from zoo.precision import PRECISIONS
from zoo.train.trainer import LOSSES, TrainConfig, train


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    d = TrainConfig(model="", out="")
    parser = subparsers.add_parser(
        "train", help="train a model (L1, AdamW, cosine schedule, EMA; resumable)",
        description="Train with AdamW, warm-up then cosine decay, an EMA of the weights, gradient "
        "clipping and the 8 rotations/flips as augmentation. Checkpoints are written atomically; "
        "--resume continues exactly where a run stopped. Several GPUs or nodes: "
        "torchrun --nproc-per-node N -m zoo train ...",
    )
    parser.add_argument("model", help="registered model name")
    parser.add_argument("--data", action="append", metavar="SPEC",
                        help=f"training data, repeatable, SPEC@W to weigh one: {' | '.join(TRAIN_KINDS)}; "
                        f"CONTENT is {', '.join(CONTENTS)} (default synthraw)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    parser.add_argument("--config", type=json.loads, default={}, metavar="JSON",
                        help='model configuration, e.g. \'{"widths": [32, 48, 64], "depth": 3}\'')
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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not isinstance(args.config, dict):
        raise ZooError("--config must be a JSON object")
    cfg = TrainConfig(
        model=args.model, out=args.out, model_config=args.config, weights=args.weights, data=args.data or ["synthraw"],
        steps=args.steps, batch=args.batch, patch=args.patch, lr=args.lr, warmup=args.warmup,
        loss=args.loss, ema=args.ema, clip=args.clip, precision=args.precision,
        val=None if args.val == "none" else args.val, val_every=args.val_every,
        checkpoint_every=args.checkpoint_every, seed=args.seed,
    )
    final = train(cfg, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:  # one line from rank 0, not one per process
        print(f"zoo: wrote {final} (EMA weights); best by validation: {final.with_name('best.safetensors')}", file=sys.stderr)
    return 0
