"""`zoo distill --original mwresnet --siamese mwrcanet --out RUN_DIR`: the four-step recipe."""

from __future__ import annotations

import argparse
import json
import sys

from zoo.cli.jsonout import to_json
from zoo.cli.options import add_json
from zoo.errors import ZooError
from zoo.train.distill import DistillConfig, distill, format_results


def _four(kind):
    def parse(text: str):
        values = [kind(v) for v in text.split(",")]
        if len(values) != 4:
            raise argparse.ArgumentTypeError(f"expected four comma-separated values, got {text!r}")
        return tuple(values)
    return parse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    d = DistillConfig(out="")
    parser = subparsers.add_parser(
        "distill", help="the four-step two-network distillation recipe (resumable)",
        description="1: train the original network; 2: train the siamese network; 3: average both "
        "networks' outputs on the noisy images of --pseudo-from and fine-tune both on the training "
        "data plus these pairs; 4: fine-tune the siamese network on those noisy images against both "
        "fine-tuned networks' outputs, with the training data still mixed in. Run it again to resume; "
        "a table of each step's test PSNR closes it.",
    )
    parser.add_argument("--original", default=d.original, help=f"original network (default {d.original})")
    parser.add_argument("--siamese", default=d.siamese, help=f"siamese network (default {d.siamese})")
    parser.add_argument("--original-config", type=json.loads, default={}, metavar="JSON", help="its configuration")
    parser.add_argument("--siamese-config", type=json.loads, default={}, metavar="JSON", help="its configuration")
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
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="pipeline folder (run again to resume)")
    add_json(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    for option in ("original_config", "siamese_config"):
        if not isinstance(getattr(args, option), dict):
            raise ZooError(f"--{option.replace('_', '-')} must be a JSON object")
    cfg = DistillConfig(out=args.out, original=args.original, siamese=args.siamese,
                        original_config=args.original_config, siamese_config=args.siamese_config,
                        data=args.data or ["synthraw"], pseudo_from=args.pseudo_from, test=args.test,
                        steps=args.steps, lrs=args.lrs, pseudo_share=args.pseudo_share,
                        step4_pseudo_share=args.step4_pseudo_share, batch=args.batch, patch=args.patch,
                        val=None if args.val == "none" else args.val,
                        finetune_batch=args.finetune_batch, finetune_patch=args.finetune_patch,
                        finetune_ema=args.finetune_ema, pseudo_ensemble=args.pseudo_ensemble, seed=args.seed)
    results = distill(cfg)
    print(to_json(results) if args.json else format_results(results))
    print(f"zoo: final weights {results['final_weights']}", file=sys.stderr)
    return 0
