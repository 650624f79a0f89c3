"""Training on several processes: the process group that ``torchrun`` describes, and a check that
the replicas still hold the same weights."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from zoo.errors import ZooError
from zoo.torchrun import Place


def init_distributed() -> Place:
    """Join the process group that ``torchrun`` describes in the environment, if any (a bad
    variable is one line, :meth:`~zoo.torchrun.Place.from_environment`)."""
    info = Place.from_environment()
    if not info.several:
        return info
    if torch.cuda.is_available():  # NCCL's collectives run on the current device: this rank's own GPU
        torch.cuda.set_device(info.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if not torch.cuda.is_available():  # ranks on one machine share its cores
        torch.set_num_threads(info.cpu_threads())
    return info


def check_replicas_in_step(model: nn.Module, ddp: Place) -> None:
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
