"""The search space: a small TOML file, validated into genes with one-line errors.

A space gives choice lists for the three level widths and the skeleton's activation, and for
each of the five block groups (or tied groups, e.g. an encoder group and its mirrored decoder
group) a block type from the registered blocks, a depth range, choices for the blocks' options
and whether the group has a tail conv. Every gene is suggested in every trial (a fixed-length
genome): NSGA-II only evolves parameters that all trials share. Options of a block that a trial
did not pick are still drawn; they take effect when a later mutation picks that block.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, cast

from zoo.errors import ZooError
from zoo.ops.activations import ACTIVATIONS
from zoo.limits import ENVIRONMENT, current, exceeds
from zoo.reading import parse_toml, read_text
from zoo.registry import BLOCKS, list_blocks  # blocks come from entry points, third-party ones included
from zoo.skeleton import GROUP_KEYS as MWNET_GROUP_KEYS
from zoo.skeleton import GROUP_POSITIONS

POSITIONS = GROUP_POSITIONS  # the mwnet skeleton's five groups, in order (zoo.skeleton states them)
DEFAULT_SPACE = "default"  # the shipped spaces are named by their file's stem: default, tiny
TOP_KEYS = {"name", "in_channels", "act", "widths", "tie", "groups", "noise_map"}
GROUP_KEYS = {"blocks" if key == "block" else key for key in MWNET_GROUP_KEYS}  # a group spec's, with choices of blocks
Scalar = int | float | str | bool


@dataclass(frozen=True)
class Gene:
    """One searched value: an int range (``low``..``high``) or a list of ``choices``."""

    name: str
    choices: tuple[Scalar, ...] = ()
    low: int | None = None
    high: int | None = None

    @property
    def is_range(self) -> bool:
        return self.low is not None


@dataclass
class Unit:
    """The genes of one group, or of tied groups that share them."""

    name: str
    positions: tuple[str, ...]
    blocks: tuple[str, ...]
    depth: tuple[int, int]
    tail: tuple[bool, ...]
    options: dict[str, dict[str, tuple[Scalar, ...]]]  # block -> option -> choices


@dataclass
class Space:
    name: str
    in_channels: int
    act: tuple[str, ...]
    widths: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]
    units: list[Unit]
    source: str = ""  # the file it came from, for messages
    text: str = field(default="", repr=False)  # the TOML as read, kept with the study
    noise_map: tuple[bool, ...] = (False,)  # [false, true]: noise-aware networks (a noise-level map input) too

    def genes(self) -> list[Gene]:
        """Every gene, in a fixed order: all of them are suggested in every trial."""
        genes = [Gene(f"width{i + 1}", choices) for i, choices in enumerate(self.widths)]
        genes.append(Gene("act", self.act))
        if self.noise_map != (False,):  # a gene only where the space searches it: older spaces keep their genomes
            genes.append(Gene("noise_map", self.noise_map))
        for unit in self.units:
            genes.append(Gene(f"{unit.name}.block", unit.blocks))
            genes.append(Gene(f"{unit.name}.depth", low=unit.depth[0], high=unit.depth[1]))
            genes.append(Gene(f"{unit.name}.tail", unit.tail))
            for block in unit.blocks:
                for option, choices in unit.options.get(block, {}).items():
                    genes.append(Gene(f"{unit.name}.{block}.{option}", choices))
        return genes

    def as_dict(self) -> dict[str, Any]:
        """The validated space as plain data (what its hash is taken of)."""
        return {"in_channels": self.in_channels, "act": list(self.act), "widths": [list(w) for w in self.widths],
                "units": [{"name": u.name, "positions": list(u.positions), "blocks": list(u.blocks),
                           "depth": list(u.depth), "tail": list(u.tail),
                           "options": {b: {o: list(c) for o, c in opts.items()} for b, opts in u.options.items()}}
                          for u in self.units],
                **({"noise_map": list(self.noise_map)} if self.noise_map != (False,) else {})}

    @property
    def hash(self) -> str:
        """Of the validated content, not the text: comments and layout do not change it."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def shipped_space(name: str) -> Path | None:
    """The path of a space shipped with zoo (``default``, ``tiny``), or None."""
    path = Path(str(files("zoo.search") / "spaces" / f"{name}.toml"))
    return path if "/" not in name and path.is_file() else None


def load_space(path: str | Path) -> Space:
    """Read and validate a space file, or a shipped space by name (``default``, ``tiny``)."""
    path = shipped_space(str(path)) or Path(path).expanduser()
    return parse_space(read_text(path, "the search space"), source=str(path))


def parse_space(text: str, source: str = "space") -> Space:
    """Validate a space given as TOML text; every mistake is one line naming the key."""
    try:
        data = parse_toml(text, "the space")
    except ZooError as exc:  # every message of a space starts with its file's name
        raise ZooError(f"{source}: {exc}") from None
    return _Validator(source).space(data, text)


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str) -> ZooError:
        return ZooError(f"{self.source}: {message}")

    def choices(self, key: str, value: Any, kind: type | tuple[type, ...], *, positive: bool = False) -> tuple:
        """A scalar or a non-empty list of distinct scalars of ``kind``, as a tuple of choices."""
        values = value if isinstance(value, list) else [value]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        wanted = " or ".join(k.__name__ for k in kinds)
        if not values:
            raise self.fail(f"{key} is an empty list; give at least one choice")
        if exceeds(len(values), current().max_search_choices):
            raise self.fail(f"{key} lists {len(values):,} choices, above the limit of {current().max_search_choices:,} "
                            f"(set {ENVIRONMENT['max_search_choices']} to raise it)")
        for v in values:
            # bool is an int in Python: an int list must not take true/false, nor the reverse
            if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
                raise self.fail(f"{key} takes {wanted} values (or a list of them), got {v!r}")
            if positive and cast(int, v) < 1:  # positive: int values only
                raise self.fail(f"{key} must be positive, got {v!r}")
        if len(set(map(repr, values))) != len(values):
            raise self.fail(f"{key} lists a choice twice: {values}")
        return tuple(values)

    def space(self, data: dict[str, Any], text: str) -> Space:
        unknown = sorted(set(data) - TOP_KEYS)
        if unknown:
            raise self.fail(f"unknown key {', '.join(map(repr, unknown))}; a space takes {', '.join(sorted(TOP_KEYS))}")
        in_channels = data.get("in_channels", 1)
        if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels < 1:
            raise self.fail(f"in_channels must be a positive int (1 raw, 3 sRGB), got {in_channels!r}")
        act = self.choices("act", data.get("act", "prelu"), str)
        for name in act:
            if name not in ACTIVATIONS:
                raise self.fail(f"act: unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
        widths = data.get("widths")
        if not isinstance(widths, list) or len(widths) != 3:
            raise self.fail("widths must list the choices of the three levels, e.g. [[32, 48], [48, 64], [64, 96]]")
        level_widths = tuple(self.choices(f"widths[{i}]", w, int, positive=True) for i, w in enumerate(widths))
        units = self.units(data.get("tie", []), data.get("groups", {}))
        name = data.get("name", Path(self.source).stem)
        if not isinstance(name, str):
            raise self.fail(f"name must be a string, got {name!r}")
        noise_map = self.choices("noise_map", data.get("noise_map", False), bool)
        return Space(name, in_channels, act, level_widths, units, self.source, text, noise_map)  # type: ignore[arg-type]

    def ties(self, tie: Any) -> list[tuple[str, ...]]:
        if not isinstance(tie, list) or not all(isinstance(t, list) for t in tie):
            raise self.fail('tie must be a list of group lists, e.g. [["down1", "up3"], ["down2", "up2"]]')
        seen: set[str] = set()
        ties = []
        for members in tie:
            if len(members) < 2:
                raise self.fail(f"tie {members}: tie at least two groups")
            for member in members:
                if member not in POSITIONS:
                    raise self.fail(f"tie: unknown group {member!r}; the groups are {', '.join(POSITIONS)}")
                if member in seen:
                    raise self.fail(f"tie: group {member!r} is in two ties")
                seen.add(member)
            ties.append(tuple(sorted(members, key=POSITIONS.index)))
        return ties

    def units(self, tie: Any, groups: Any) -> list[Unit]:
        ties = self.ties(tie)
        if not isinstance(groups, dict):
            raise self.fail("groups must be a table: [groups.default], [groups.middle], [groups.\"down1+up3\"], ...")
        tied = {member: t for t in ties for member in t}
        names = []  # one unit per tie, one per untied group, in skeleton order
        for position in POSITIONS:
            members = tied.get(position, (position,))
            if members[0] == position:
                names.append((("+".join(members)), members))
        valid = {"default"} | {n for n, _ in names}
        for key in groups:
            if key in tied:
                raise self.fail(f"groups.{key}: {key} is tied ({'+'.join(tied[key])}): configure groups.\"{'+'.join(tied[key])}\"")
            if key not in valid:
                raise self.fail(f"groups.{key}: unknown group; give one of {', '.join(sorted(valid))}")
        if "default" not in groups and any(n not in groups for n, _ in names):
            missing = [n for n, _ in names if n not in groups]
            raise self.fail(f"no [groups.default] and no table for {', '.join(missing)}")
        return [self.unit(name, members, f'groups."{name}"' if "+" in name else f"groups.{name}", groups[name])
                if name in groups else self.unit(name, members, "groups.default", groups["default"])
                for name, members in names]

    def unit(self, name: str, positions: tuple[str, ...], key: str, spec: Any) -> Unit:
        if not isinstance(spec, dict):
            raise self.fail(f"{key} must be a table")
        unknown = sorted(set(spec) - GROUP_KEYS)
        if unknown:
            raise self.fail(f"{key}: unknown key {', '.join(map(repr, unknown))}; a group takes {', '.join(sorted(GROUP_KEYS))}")
        if "blocks" not in spec:
            raise self.fail(f"{key}: give blocks, e.g. blocks = [\"residual\", \"dense\", \"rcab\"]")
        blocks = self.choices(f"{key}.blocks", spec["blocks"], str)
        known = list_blocks()
        for block in blocks:
            if block not in known:
                raise self.fail(f"{key}.blocks: unknown block {block!r}; registered: {', '.join(known)}")
        depth = self.depth(f"{key}.depth", spec.get("depth", 1))
        tail = self.choices(f"{key}.tail", spec.get("tail", False), bool)
        options = spec.get("options", {})
        if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
            raise self.fail(f"{key}.options must hold one table per block, e.g. [{key}.options.rcab]")
        checked: dict[str, dict[str, tuple]] = {}
        for block, block_options in options.items():
            if block not in blocks:
                raise self.fail(f"{key}.options.{block}: {block!r} is not among this group's blocks ({', '.join(blocks)})")
            accepted = _block_options(block)
            checked[block] = {}
            for option, value in block_options.items():
                if accepted is not None and option not in accepted:
                    raise self.fail(f"{key}.options.{block}: block {block!r} has no option {option!r}; "
                                    f"its options are {', '.join(accepted) or 'none'}")
                checked[block][option] = self.choices(f"{key}.options.{block}.{option}", value, (int, float, str, bool))
        return Unit(name, positions, blocks, depth, tail, checked)

    def depth(self, key: str, value: Any) -> tuple[int, int]:
        if isinstance(value, int) and not isinstance(value, bool):
            low = high = value
        elif isinstance(value, dict) and set(value) == {"min", "max"} and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            low, high = value["min"], value["max"]
        else:
            raise self.fail(f"{key} must be an int or a range {{ min = 1, max = 6 }}, got {value!r}")
        if not 1 <= low <= high:
            raise self.fail(f"{key}: need 1 <= min <= max, got min {low}, max {high}")
        # Checked before the search starts: a depth of 10^9 was drawn, and its model built for hours.
        limit = current()
        if exceeds(high - low + 1, limit.max_search_choices):
            raise self.fail(f"{key}: the range {low}..{high} holds {high - low + 1:,} depths, above the limit of "
                            f"{limit.max_search_choices:,} choices (set {ENVIRONMENT['max_search_choices']} to raise it)")
        if exceeds(high, limit.max_modules):
            raise self.fail(f"{key}: a depth of {high:,} builds more than the {limit.max_modules:,} modules a model may "
                            f"have (set {ENVIRONMENT['max_modules']} to raise it)")
        return low, high


def _block_options(block: str) -> list[str] | None:
    """The keyword options a block class takes (besides ``channels``); None if it takes any."""
    parameters = list(inspect.signature(BLOCKS.get(block).__init__).parameters.values())[1:]  # drop self
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def block_defaults(block: str) -> dict[str, Any]:
    """A block's option defaults (to project a seed's unset options onto the space)."""
    parameters = list(inspect.signature(BLOCKS.get(block).__init__).parameters.values())[2:]
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
