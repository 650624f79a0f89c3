"""This process's place among those ``torchrun`` started, read from the variables it sets
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``) and checked, and its share of
the CPU cores. Without ``WORLD_SIZE`` (no torchrun) the process is rank 0 of 1.

A variable that is not a whole number, or values that do not fit together, are one line
(:class:`~zoo.errors.ZooError`), where a bare ``int()`` was a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

from zoo.errors import ZooError
from zoo.limits import cores


def _variable(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ZooError(f"{name}={value!r} in the environment is not a whole number (torchrun sets it)") from None


_Place = TypeVar("_Place", bound="Place")  # from_environment on a subclass (zoo.cli.ranks.Ranks) makes one of it


@dataclass(frozen=True)
class Place:
    """Rank ``rank`` of ``world``, ``local_rank`` of the ``local_world`` ranks on this node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @classmethod
    def from_environment(cls: type[_Place]) -> _Place:
        """Where torchrun put this process (rank 0 of 1 without it); a one-line error for values
        that are no whole numbers or do not fit together."""
        world = _variable("WORLD_SIZE", 1)
        if world < 1:
            raise ZooError(f"WORLD_SIZE={world} in the environment: there must be at least one rank")
        if world == 1:
            return cls()
        place = cls(_variable("RANK", 0), world, _variable("LOCAL_RANK", 0), _variable("LOCAL_WORLD_SIZE", world))
        if not (0 <= place.rank < world and 0 <= place.local_rank < place.local_world <= world):
            raise ZooError(f"RANK {place.rank} / WORLD_SIZE {world}, LOCAL_RANK {place.local_rank} / "
                           f"LOCAL_WORLD_SIZE {place.local_world} do not fit together")
        return place

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes and prints."""
        return self.rank == 0

    @property
    def several(self) -> bool:
        return self.world > 1

    def cpu_threads(self) -> int:
        """This rank's share of the cores this process may run on (torchrun sets
        ``OMP_NUM_THREADS=1``; the ranks on a node share its cores instead), at least one."""
        return max(1, cores() // self.local_world)
