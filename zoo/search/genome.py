"""Genomes: one value per gene of a space; to an ``mwnet`` configuration, and seeds into a space."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol, cast

from zoo.search.space import POSITIONS, Gene, Space, block_defaults
from zoo.skeleton import named_config

Genome = dict[str, Any]

# Known architectures that seed every search, in mwnet's plain form: the shipped demo models'
# shapes (mwresnet-demo: widths 32/48/64, two residual blocks a group; mwrcanet-demo: three RCABs a
# group with a tail). Each is projected onto the space (nearest choices) before it is enqueued.
# The family's forms are zoo.skeleton's (the mwnet factory builds its named models from them).
SEEDS: dict[str, dict[str, Any]] = {name: named_config(name, [32, 48, 64], depth)
                                    for name, depth in (("mwresnet", 2), ("mwrcanet", 3))}


class Suggester(Protocol):
    """What a genome is drawn from: an Optuna trial (``suggest_int``, ``suggest_categorical``)."""

    def suggest_int(self, name: str, low: int, high: int) -> int: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


def suggest(space: Space, trial: Suggester) -> Genome:
    """Draw every gene, in every trial: NSGA-II evolves only what all trials share."""
    genome: Genome = {}
    for gene in space.genes():
        if gene.is_range:
            genome[gene.name] = trial.suggest_int(gene.name, cast(int, gene.low), cast(int, gene.high))  # a range has both
        else:
            genome[gene.name] = trial.suggest_categorical(gene.name, list(gene.choices))
    return genome


def to_config(space: Space, genome: Genome) -> dict[str, Any]:
    """The ``mwnet`` configuration a genome stands for (plain data: JSON as it is)."""
    specs: dict[str, dict[str, Any]] = {}
    for unit in space.units:
        block = genome[f"{unit.name}.block"]
        options = {option: genome[f"{unit.name}.{block}.{option}"] for option in unit.options.get(block, {})}
        spec = {"block": block, "depth": int(genome[f"{unit.name}.depth"]), "tail": bool(genome[f"{unit.name}.tail"]),
                "options": options}
        for position in unit.positions:
            specs[position] = spec
    config = {"in_channels": space.in_channels, "widths": [int(genome[f"width{i}"]) for i in (1, 2, 3)],
              "act": genome["act"], "groups": [dict(specs[p], options=dict(specs[p]["options"])) for p in POSITIONS]}
    if genome.get("noise_map"):  # noise-aware: the network also takes a noise-level map
        config["noise_map"] = True
    return config


def config_key(config: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """A short stable name for a candidate: its configuration and training settings hashed."""
    text = json.dumps({"config": config, "train": extra or {}}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _nearest(gene: Gene, value: Any) -> Any:
    """The choice closest to ``value`` (numbers by distance, others by equality; else the first)."""
    if gene.is_range:
        return min(max(int(value), cast(int, gene.low)), cast(int, gene.high))  # a range has both bounds
    if value in gene.choices and type(value) is type(gene.choices[list(gene.choices).index(value)]):
        return value
    numbers = [c for c in gene.choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and numbers:
        return min(numbers, key=lambda c: (abs(c - value), c))
    return gene.choices[0]


def project(space: Space, config: dict[str, Any]) -> tuple[Genome | None, str]:
    """A known ``mwnet`` configuration as the nearest genome of ``space``, or None and why not
    (a seed whose block type the space does not offer is left out)."""
    groups = config["groups"]
    specs = [groups] * len(POSITIONS) if isinstance(groups, dict) else list(groups)
    genes = {g.name: g for g in space.genes()}
    genome: Genome = {}
    for i in (1, 2, 3):
        genome[f"width{i}"] = _nearest(genes[f"width{i}"], config["widths"][i - 1])
    genome["act"] = _nearest(genes["act"], config.get("act", "prelu"))
    if "noise_map" in genes:
        genome["noise_map"] = _nearest(genes["noise_map"], bool(config.get("noise_map", False)))
    for unit in space.units:
        spec = specs[POSITIONS.index(unit.positions[0])]
        if spec["block"] not in unit.blocks:
            return None, f"group {unit.name} offers no {spec['block']!r} block"
        genome[f"{unit.name}.block"] = spec["block"]
        genome[f"{unit.name}.depth"] = _nearest(genes[f"{unit.name}.depth"], spec.get("depth", 1))
        genome[f"{unit.name}.tail"] = _nearest(genes[f"{unit.name}.tail"], bool(spec.get("tail", False)))
        for block in unit.blocks:
            given = {**block_defaults(block), **spec.get("options", {})} if block == spec["block"] else {}
            for option in unit.options.get(block, {}):
                gene = genes[f"{unit.name}.{block}.{option}"]
                # options of blocks the seed does not use: the first choice, so that the same seed
                # is the same genome every time (enqueue_trial's skip_if_exists compares all genes)
                genome[gene.name] = _nearest(gene, given[option]) if option in given else gene.choices[0]
    return genome, ""
