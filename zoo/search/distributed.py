"""A search under ``torchrun``: every rank trains every candidate together (DistributedDataParallel,
as ``zoo train`` does), and rank 0 alone talks to Optuna. Before each training, rank 0 sends the
candidate to the other ranks; when the search ends it sends None and they return.

The early-stopping rule is off under torchrun: a stop would have to reach every rank at the same
step. (For one independent worker per GPU, run ``zoo search run`` once per GPU instead.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from zoo.search.candidate import Proxy, RunFolder, open_training_data
from zoo.torchrun import Place
from zoo.train.trainer import init_distributed, train


def world_size() -> int:
    """How many ranks torchrun started (1 without it); a bad variable is one line."""
    return Place.from_environment().world


def join() -> int:
    """Join the process group torchrun describes (as the trainer does); this process's rank."""
    return init_distributed().rank


def send(job: dict[str, Any] | None) -> None:
    """Rank 0: the candidate every rank trains next (None: the search is over)."""
    import torch.distributed as dist

    dist.broadcast_object_list([job], src=0)


def job(config: dict[str, Any], proxy: Proxy, folder: Path) -> dict[str, Any]:
    return {"config": config, "proxy": dataclasses.asdict(proxy), "folder": str(folder)}


def follow() -> int:
    """Ranks above 0: train what rank 0 sends until it sends None; returns how many."""
    import torch.distributed as dist

    trained = 0
    while True:
        message: list[Any] = [None]
        dist.broadcast_object_list(message, src=0)
        if message[0] is None:
            return trained
        proxy = Proxy(**message[0]["proxy"])
        run = RunFolder(Path(message[0]["folder"]) / "run")
        cfg = proxy.train_config(message[0]["config"], run.path)
        train(cfg, resume=True, progress=False, source=open_training_data(cfg.data))
        trained += 1
