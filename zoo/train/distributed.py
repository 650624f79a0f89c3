"""Training on several processes: the process group that ``torchrun`` describes, and a check that
the replicas still hold the same weights."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from zoo.errors import ZooError


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Distributed:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Distributed()
    info = Distributed(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if torch.cuda.is_available():  # NCCL's collectives run on the current device: this rank's own GPU
        torch.cuda.set_device(info.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if not torch.cuda.is_available():  # ranks on one machine share its cores
        local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    return info


def check_replicas_in_step(model: nn.Module, ddp: Distributed) -> None:
    """Every rank must hold the same weights: DDP averages gradients, so a difference is a bug."""
    if ddp.world == 1:
        return
    with torch.no_grad():
        total = torch.zeros((), dtype=torch.float64, device=next(model.parameters()).device)
        for i, p in enumerate(model.parameters()):
            total += p.double().sum() * (i + 1)
    gathered = [torch.zeros_like(total) for _ in range(ddp.world)]
    dist.all_gather(gathered, total)
    if any(g.item() != gathered[0].item() for g in gathered):
        raise ZooError(f"replicas out of step: weight checksums {[g.item() for g in gathered]}")
