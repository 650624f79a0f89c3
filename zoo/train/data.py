"""Training data, for code that imports it from here (the architecture search, benchmarks). The
patch sources live in :mod:`zoo.data.patches`, the data specs in :mod:`zoo.data.specs`."""

from zoo.data.patches import Mixture, PairPatches, ScenePatches, Source, SynthRaw, make_batch
from zoo.data.specs import TRAIN_KINDS as DATA_KINDS
from zoo.data.specs import WEIGHT_SEPARATOR, open_source, open_sources, split_weight

__all__ = ["DATA_KINDS", "WEIGHT_SEPARATOR", "Mixture", "PairPatches", "ScenePatches", "Source", "SynthRaw",
           "make_batch", "open_source", "open_sources", "split_weight"]
