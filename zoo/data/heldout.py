"""Every built-in set whose bytes are pinned, in one table: how to build it, its checksum, its
reference digests (:mod:`zoo.data.digests`).

``python -m zoo.data.heldout`` rebuilds each set and says whether it is the pinned bytes, and
which step drifted where it is not; ``--pin`` records the reference digests anew (for the
maintainers, with the versions of ``constraints.txt``, after a recipe change that also bumps the
set's ``VERSION`` and checksum).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zoo.data import crossdomain, sets
from zoo.data.digests import Trace, explain, write_pinned


@dataclass(frozen=True)
class PinnedSet:
    """A built-in set: ``build(trace)`` makes its arrays, ``checksum`` hashes them to ``expected``."""

    name: str
    build: Callable[[Trace | None], dict[str, np.ndarray]]
    checksum: Callable[[dict[str, np.ndarray]], str]
    expected: str
    serves: str  # the data specs built from it


PINNED_SETS = {
    entry.name: entry for entry in (
        PinnedSet("synth-test", lambda trace: sets.build_test_arrays(trace=trace), sets.checksum,
                  sets.TEST_SET_SHA256, "synthraw, synthsrgb"),
        PinnedSet(crossdomain.set_name("test"), lambda trace: crossdomain.build_arrays("test", trace),
                  crossdomain.checksum, crossdomain.CHECKSUMS["test"], "crossdomain-raw, crossdomain-srgb"),
        PinnedSet(crossdomain.set_name("validation"), lambda trace: crossdomain.build_arrays("validation", trace),
                  crossdomain.checksum, crossdomain.CHECKSUMS["validation"], "crossval-raw, crossval-srgb"),
    )
}


def rebuild(name: str) -> tuple[bool, Trace]:
    """Build a pinned set afresh: whether it is the pinned bytes, and the trace of its steps."""
    entry = PINNED_SETS[name]
    trace = Trace()
    return entry.checksum(entry.build(trace)) == entry.expected, trace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zoo.data.heldout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pin", action="store_true", help="record the reference digests of every set that matches "
                        "its pinned checksum (the maintainers' step after a deliberate recipe change)")
    args = parser.parse_args(argv)
    failed = 0
    for name, entry in PINNED_SETS.items():
        same, trace = rebuild(name)
        if same and args.pin:
            print(f"{name}: pinned bytes; digests written to {write_pinned(name, trace, entry.expected)}")
        elif same:
            print(f"{name} ({entry.serves}): the pinned bytes")
        else:
            failed += 1
            print(f"{name} ({entry.serves}): DIFFERS: {explain(name, trace)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
