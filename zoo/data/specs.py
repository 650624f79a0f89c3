"""Data specs: one table of every kind of data ``zoo eval`` and ``zoo train`` take.

A spec is ``KIND`` for built-in data or ``KIND:DIR`` for files of yours (``~`` is expanded). For
training, ``SPEC@W`` weighs a spec in the mixture of all ``--data`` (1 by default). Each kind says
what it serves:

- evaluation (:func:`load_data`): a sequence of pairs, for ``zoo eval``, validation during
  training (``--val``), and the distillation's test set and pseudo-labels;
- training (:func:`open_sources`): patch sources (:mod:`zoo.data.patches`), drawn afresh.

Some kinds serve both. ``synthraw`` is the built-in test blocks to evaluate on and patches of the
built-in training images to train on; ``sidd-medium:DIR`` and ``pairs:DIR`` are the same files
either way. A spec that does not fit the command is one line that lists the kinds that do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data import crossdomain, sidd, synthetic
from zoo.data.folders import load_folder_pairs
from zoo.data.pairs import Pair
from zoo.data.patches import Mixture, PairPatches, ScenePatches, Source, SynthRaw
from zoo.data.sets import load_set
from zoo.errors import ZooError

Weighted = Sequence[tuple[Source, float]]


@dataclass(frozen=True)
class DataKind:
    """One kind of data: its name, whether it names a folder, and what it serves. ``pairs`` and
    ``patches`` take the folder (``Path``) of a folder kind and nothing otherwise."""

    name: str
    folder: bool = False
    pairs: Callable[..., Sequence[Pair]] | None = None  # to evaluate on
    patches: Callable[..., Weighted] | None = None  # to train on, with weights
    listed_as: str | None = None  # one entry in help and errors for a family (CONTENT-raw)
    # What the set is for, where it is one (the one home of these facts; zoo train and the search
    # read them): "test" scores models, and nothing may validate or select on it; "validation" is
    # held out for choosing (checkpoints, architectures).
    role: str | None = None
    auto_for: int | None = None  # `--val auto`: the validation set for models of this many input channels

    @property
    def listed(self) -> str:
        return self.listed_as or (f"{self.name}:DIR" if self.folder else self.name)


def _one(source: Callable[..., Source]) -> Callable[..., Weighted]:
    return lambda *folder: [(source(*folder), 1.0)]


def _captures(name: str) -> DataKind:
    content = name.rpartition("-")[0]
    family = f"CONTENT-{name.rpartition('-')[2]}" if content in synthetic.CONTENTS else None
    return DataKind(name, patches=functools.partial(synthetic.open_captures, name), listed_as=family)


TEST, VALIDATION = "test", "validation"  # DataKind.role

KINDS: dict[str, DataKind] = {kind.name: kind for kind in (
    DataKind("sidd-val", folder=True, pairs=sidd.load_sidd_val, role=TEST),
    DataKind("siddplus-val", folder=True, pairs=sidd.load_siddplus_val, role=TEST),
    DataKind("sidd-medium", folder=True, pairs=sidd.load_sidd_medium,  # full-size images: evaluate with tiles
             patches=_one(lambda folder: ScenePatches(sidd.sidd_medium_scenes(folder)))),
    DataKind("pairs", folder=True, pairs=load_folder_pairs,
             patches=_one(lambda folder: PairPatches(load_folder_pairs(folder), mosaic=False))),
    DataKind("synthraw", pairs=functools.partial(load_set, "synthraw"), patches=_one(SynthRaw), role=TEST),
    DataKind("synthsrgb", pairs=functools.partial(load_set, "synthsrgb"), role=TEST),
    # The held-out built-in blocks of each kind: what `zoo train` and the search validate on by default.
    DataKind("synthval", pairs=functools.partial(load_set, "synthval"), role=VALIDATION, auto_for=1),
    DataKind("synthval-srgb", pairs=functools.partial(load_set, "synthval-srgb"), role=VALIDATION, auto_for=3),
    # crossdomain-* are blocks of the held-out (test) images, crossval-* of the validation images.
    *(DataKind(name, pairs=functools.partial(crossdomain.load_crossdomain, name),
               role=TEST if name.startswith("crossdomain") else VALIDATION) for name in crossdomain.SETS),
    *(_captures(name) for name in synthetic.capture_kinds()),
)}
ALIASES = {"sidd-srgb": "pairs"}  # the name `zoo eval` gave noisy/gt folders first

EVAL_KINDS = tuple(dict.fromkeys(kind.listed for kind in KINDS.values() if kind.pairs))
TRAIN_KINDS = tuple(dict.fromkeys(kind.listed for kind in KINDS.values() if kind.patches))
TEST_KINDS = tuple(name for name, kind in KINDS.items() if kind.role == TEST)
VALIDATION_KINDS = tuple(name for name, kind in KINDS.items() if kind.role == VALIDATION)
AUTO_VALIDATION = {kind.auto_for: name for name, kind in KINDS.items() if kind.auto_for is not None}
WEIGHT_SEPARATOR = "@"  # "natural-raw@3": drawn three times as often as a source of weight 1


def _lookup(spec: str, training: bool) -> tuple[DataKind, tuple[Path, ...]]:
    """The kind ``spec`` names and its folder argument (none for built-in data), or a one-line
    error listing the kinds that fit the command."""
    name, _, folder = spec.partition(":")
    kind = KINDS.get(ALIASES.get(name, name))
    fitting = ", ".join(TRAIN_KINDS if training else EVAL_KINDS)
    if kind is None:
        raise ZooError(f"unknown {'training data' if training else 'data'} '{spec}'; use one of {fitting}")
    if (kind.patches if training else kind.pairs) is None:
        use, other = ("trained on", "evaluation") if training else ("evaluated on", "training")
        raise ZooError(f"{name} is {other} data and cannot be {use}; use one of {fitting}")
    if kind.folder and not folder:
        raise ZooError(f"{name} needs a folder: {name}:DIR")
    if folder and not kind.folder:
        raise ZooError(f"{name} is built in: give it without a folder")
    return kind, (Path(folder).expanduser(),) if kind.folder else ()  # a shell leaves the ~ of "KIND:~/..." alone


def auto_validation(channels: int | None) -> str | None:
    """The validation set ``--val auto`` stands for: the held-out built-in blocks of a raw
    (1-channel) or sRGB (3-channel) model's kind; none for other inputs."""
    return AUTO_VALIDATION.get(channels or 0)


def is_test_set(spec: str) -> bool:
    """Whether ``spec`` (``KIND`` or ``KIND:DIR``) names a test set, which nothing may validate or
    select on (any ``crossdomain-*`` name counts as one, as its family does)."""
    kind = spec.partition(":")[0]
    return (kind in KINDS and KINDS[kind].role == TEST) or kind.startswith("crossdomain")


def load_data(spec: str) -> Sequence[Pair]:
    """The pairs ``spec`` names, to evaluate on (``zoo eval --data``, ``--val``, ``--test``)."""
    kind, folder = _lookup(spec, training=False)
    if kind.pairs is None:  # _lookup refuses such a kind first
        raise ZooError(f"{spec} is training data and cannot be evaluated on")
    return kind.pairs(*folder)


def split_weight(spec: str) -> tuple[str, float]:
    """``"natural-raw@3"`` -> ``("natural-raw", 3.0)``; a spec without a weight has weight 1."""
    base, separator, weight = spec.rpartition(WEIGHT_SEPARATOR)
    if not separator:
        return spec, 1.0
    try:
        value = float(weight)
    except ValueError:
        return spec, 1.0  # an "@" that is part of a folder name
    if not (value > 0 and np.isfinite(value)):
        raise ZooError(f"the weight of training data '{spec}' must be a positive number")
    return base, value


def _open_weighted(spec: str) -> Weighted:
    kind, folder = _lookup(spec, training=True)
    if kind.patches is None:  # _lookup refuses such a kind first
        raise ZooError(f"{spec} is evaluation data and cannot be trained on")
    return kind.patches(*folder)


def open_source(spec: str) -> Source:
    """The patch source of one spec (no weight); a preset such as ``mixed-raw`` is its mixture."""
    parts = _open_weighted(spec)
    return parts[0][0] if len(parts) == 1 else Mixture([s for s, _ in parts], [w for _, w in parts])


def open_sources(specs: Sequence[str]) -> Source:
    """One source drawing from every spec with its weight (``SPEC@W``; 1 by default). A preset
    such as ``mixed-raw`` brings its own mixture, scaled by its weight."""
    parts: list[tuple[Source, float]] = []
    channels: dict[str, int] = {}
    for spec in specs:
        base, weight = split_weight(spec)
        opened = _open_weighted(base)
        channels[spec] = opened[0][0].channels
        parts.extend((source, weight * share) for source, share in opened)
    if len(set(channels.values())) > 1:
        raise ZooError("training data of different channel counts cannot be mixed: "
                       + ", ".join(f"{spec} ({n})" for spec, n in channels.items()))
    if len(parts) == 1:
        return parts[0][0]
    return Mixture([source for source, _ in parts], [weight for _, weight in parts])
