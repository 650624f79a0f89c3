"""`zoo denoise` under ``torchrun`` (one node or several): the inputs split across the ranks, each
rank on its own GPU (``LOCAL_RANK``) or its share of the CPU cores, one summary from rank 0.

The process group is gloo whatever the device: it carries only the closing summary (a few small
objects), and gloo runs on every machine and across nodes. Ranks wait for each other only at the
end, so the group's timeout is long: a rank's share may take hours. (A rank that dies is not
waited for: torchrun stops the others.)
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from zoo.errors import ZooError

# How long a finished rank waits for the slowest one at the closing summary.
SUMMARY_TIMEOUT = datetime.timedelta(days=7)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ZooError(f"{name}={value!r} in the environment is not a whole number (torchrun sets it)") from None


@dataclass(frozen=True)
class Ranks:
    """This process's place among the ranks ``torchrun`` started (one rank without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @classmethod
    def from_environment(cls) -> Ranks:
        world = _env_int("WORLD_SIZE", 1)
        if world <= 1:
            return cls()
        ranks = cls(_env_int("RANK", 0), world, _env_int("LOCAL_RANK", 0), _env_int("LOCAL_WORLD_SIZE", world))
        if not (0 <= ranks.rank < world and 0 <= ranks.local_rank < ranks.local_world):
            raise ZooError(f"RANK {ranks.rank} / WORLD_SIZE {world}, LOCAL_RANK {ranks.local_rank} / "
                           f"LOCAL_WORLD_SIZE {ranks.local_world} do not fit together")
        return ranks

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def several(self) -> bool:
        return self.world > 1

    def share(self, sizes: Sequence[int]) -> list[int]:
        """The indices of the items this rank takes, in their order. Largest first, each item goes
        to the rank with the least so far (ties to the lower rank): every rank computes the same
        split from the same sizes, and each item goes to exactly one rank."""
        load = [0] * self.world
        mine = []
        for index in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
            rank = min(range(self.world), key=lambda r: (load[r], r))
            load[rank] += max(sizes[index], 1)
            if rank == self.rank:
                mine.append(index)
        return sorted(mine)

    def join(self, device: str | None) -> str:
        """Join the process group and take this rank's part of the machine: its GPU (``device``
        None or ``cuda``), else its share of the cores. Returns that part in words ("GPU 1")."""
        if not self.several:
            return ""
        on_gpu = torch.cuda.is_available() and (device is None or device == "cuda")
        if on_gpu:
            if self.local_rank >= torch.cuda.device_count():
                raise ZooError(f"local rank {self.local_rank} has no GPU of its own: this machine has "
                               f"{torch.cuda.device_count()}; start at most that many ranks per node")
            torch.cuda.set_device(self.local_rank)  # "cuda" now means this rank's GPU
        elif device is None or device.startswith("cpu"):
            # torchrun sets OMP_NUM_THREADS=1; the ranks on a node share its cores instead.
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.local_world))
        if not dist.is_initialized():
            dist.init_process_group("gloo", timeout=SUMMARY_TIMEOUT)
        threads = torch.get_num_threads()
        return f"GPU {self.local_rank}" if on_gpu else f"{threads} CPU thread{'s' if threads > 1 else ''}"

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank (so all end with the same status)."""
        if not self.several:
            return [value]
        values: list[Any] = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def leave(self) -> None:
        if self.several and dist.is_initialized():
            dist.destroy_process_group()

    @contextmanager
    def errors_from_main(self) -> Iterator[None]:
        """For checks that come out the same on every rank (the arguments, the shared files):
        rank 0 prints the one-line error; the other ranks end with the same status quietly."""
        try:
            yield
        except ZooError:
            if self.main:
                raise
            raise SystemExit(2) from None
