"""`zoo cache list|clear`: what zoo's cache holds (exports, compiled models, engine measurements,
built-in sets), and emptying it. The cap on its size: :mod:`zoo.cache`."""

from __future__ import annotations

import argparse

from zoo.cache import LIMIT_ENV, cache_limit, clear, entries
from zoo.cli.jsonout import to_json
from zoo.cli.options import add_json
from zoo.fileio import cache_dir
from zoo.table import format_table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache", help="list or clear zoo's cache",
        description="zoo keeps what it can rebuild in its cache ($ZOO_CACHE_DIR, else $XDG_CACHE_HOME/zoo, else "
        "~/.cache/zoo): ONNX exports and OpenVINO compiled models of the models --engine runs, the engine "
        f"measurements of --engine auto, built-in test sets. It is capped (${LIMIT_ENV}, default 2G; 0: no cap): "
        "past the cap the entries used longest ago are removed first. zoo bench keeps nothing there.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the cache's entries, most recently used first, with their sizes",
                                 description="The cache's entries, most recently used first: kind, size, last use.")
    add_json(listing)
    listing.set_defaults(run=run_list)
    clearing = actions.add_parser("clear", help="remove everything in the cache (engine measurements too)",
                                  description="Remove everything in the cache; the next --engine auto measures again "
                                  "and the next run of an engine exports its model again.")
    add_json(clearing)
    clearing.set_defaults(run=run_clear)


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def run_list(args: argparse.Namespace) -> int:
    found = entries()
    total, limit = sum(e.bytes for e in found), cache_limit()
    if args.json:
        print(to_json({"folder": str(cache_dir()), "bytes": total, "limit_bytes": limit,
                       "entries": [e.as_dict() for e in found]}))
        return 0
    if found:
        rows = [[e.kind, e.name, _size(e.bytes), e.as_dict()["last_used"].replace("T", " ")] for e in found]
        print(format_table(["kind", "entry", "size", "last used"], rows, right=(2,)))
    cap = _size(limit) if limit else "none"
    print(f"{cache_dir()}: {len(found)} entries, {_size(total)} (cap {cap}: ${LIMIT_ENV})")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    removed = clear()
    freed = sum(e.bytes for e in removed)
    if args.json:
        print(to_json({"folder": str(cache_dir()), "removed": len(removed), "bytes": freed}))
    else:
        print(f"{cache_dir()}: removed {len(removed)} entries, {_size(freed)}")
    return 0
