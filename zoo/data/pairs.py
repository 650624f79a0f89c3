"""A noisy/clean image pair, what every evaluation set is made of."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import numpy as np

from zoo.errors import ZooError


@dataclass(frozen=True, eq=False)
class Pair:
    """``noisy`` and ``clean``: float32 in [0, 1], same shape, ``(H, W)`` or ``(C, H, W)``.

    ``noise``: the known (shot, read) levels of synthetic noise (variance ``shot * x + read``);
    ``None`` for real pairs. ``raw``: a Bayer mosaic (1 channel), not a grey image. ``tags``: what
    the block is, for reports broken down by tag (e.g. ``{"kind": "highlights", "level": "L3"}``).
    """

    name: str
    noisy: np.ndarray
    clean: np.ndarray
    noise: tuple[float, float] | None = None
    raw: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        """Colour channels of the images: 1 for ``(H, W)``, else the leading axis."""
        return 1 if self.noisy.ndim == 2 else int(self.noisy.shape[0])


class LazyPairs(Sequence[Pair]):
    """Pairs read on access (full-size images do not all fit in memory), by position.

    Re-iterable and sized; each access reads the files again (nothing is cached).
    """

    def __init__(self, names: Sequence[str], read: Callable[[int], Pair]) -> None:
        self.names = tuple(names)
        self._read = read

    def __len__(self) -> int:
        return len(self.names)

    @overload
    def __getitem__(self, index: int) -> Pair: ...
    @overload
    def __getitem__(self, index: slice) -> LazyPairs: ...
    def __getitem__(self, index: int | slice) -> Pair | LazyPairs:
        if isinstance(index, slice):  # still lazy: a slice of full-size images reads nothing yet
            positions = range(len(self))[index]
            return LazyPairs([self.names[i] for i in positions], lambda j: self._read(positions[j]))
        return self._read(range(len(self))[index])  # range: negative indices and IndexError

    def __iter__(self) -> Iterator[Pair]:
        return (self._read(i) for i in range(len(self)))

    def __repr__(self) -> str:
        return f"LazyPairs({len(self)} pairs)"


def check_unique_names(names: Sequence[str], files: Sequence[Path]) -> None:
    """Refuse two pairs of one name (the names key scores and reports)."""
    seen: dict[str, Path] = {}
    for name, file in zip(names, files):
        if name in seen:
            raise ZooError(f"two pairs would both be named '{name}': {seen[name]} and {file}")
        seen[name] = file
