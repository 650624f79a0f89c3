"""`zoo denoise` under ``torchrun`` (one node or several): the inputs split across the ranks, each
rank on its own GPU (``LOCAL_RANK``) or its share of the CPU cores, one summary from rank 0.

The process group is gloo whatever the device: it carries only the closing summary (a few small
objects), and gloo runs on every machine and across nodes. Ranks wait for each other only at the
end, so the group's timeout is long: a rank's share may take hours. (A rank that dies is not
waited for: torchrun stops the others.)
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist

from zoo.errors import ZooError
from zoo.torchrun import Place

# How long a finished rank waits for the slowest one at the closing summary.
SUMMARY_TIMEOUT = datetime.timedelta(days=7)


class Ranks(Place):
    """This process's place among the ranks ``torchrun`` started (one rank without torchrun,
    :meth:`~zoo.torchrun.Place.from_environment`), and what the ranks of ``zoo denoise`` do together."""

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
            torch.set_num_threads(self.cpu_threads())
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
