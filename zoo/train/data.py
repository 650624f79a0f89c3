"""Training batches, each a pure function of (seed, step, rank): a resumed run draws exactly
the batches the interrupted one would have, with no data-loader state to save."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from zoo.data.pairs import Pair
from zoo.errors import ZooError
from zoo.infer.ensemble import TRANSFORMS

if TYPE_CHECKING:
    from zoo.data.sidd import MediumScene

DATA_KINDS = ("synthraw", "mixed-raw", "mixed-srgb", "CONTENT-raw", "CONTENT-srgb", "sidd-medium:DIR", "pairs:DIR")
WEIGHT_SEPARATOR = "@"  # "natural-raw@3": drawn three times as often as a source of weight 1


class Source(Protocol):
    """Draws one (noisy, clean) training patch, ``(C, P, P)`` float32 each, from ``rng``."""

    channels: int

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]: ...


def _crop(rng: np.random.Generator, height: int, width: int, patch: int, even: bool) -> tuple[int, int]:
    if height < patch or width < patch:
        raise ZooError(f"an image of {height}x{width} is smaller than the {patch}-pixel training patch")
    top, left = rng.integers(0, height - patch + 1), rng.integers(0, width - patch + 1)
    if even:  # keep the Bayer phase of a mosaic
        top, left = top - top % 2, left - left % 2
    return int(top), int(left)


class SynthRaw:
    """The built-in training images, unprocessed to raw and noised afresh for every patch."""

    channels = 1

    def __init__(self) -> None:
        from zoo.data.sets import TRAIN_IMAGES, load_srgb

        self.images = [load_srgb(name) for name in TRAIN_IMAGES]

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]:
        from zoo.data.noise import add_noise, sample_noise_levels
        from zoo.data.unprocess import random_unprocess_params, unprocess

        image = self.images[rng.integers(len(self.images))]
        top, left = _crop(rng, *image.shape[:2], patch, even=False)
        clean = unprocess(image[top:top + patch, left:left + patch], random_unprocess_params(rng), "RGGB")
        noisy = np.clip(add_noise(clean, *sample_noise_levels(rng), rng), 0.0, 1.0)
        return noisy[None].astype(np.float32), clean[None].astype(np.float32)


class PairPatches:
    """Random patches of real (noisy, clean) pairs: SIDD-Medium scenes or image folders. Images
    are read when first drawn and kept (a training set is read many times)."""

    def __init__(self, pairs: Sequence[Pair], mosaic: bool) -> None:
        if not len(pairs):
            raise ZooError("no training pairs found")
        self.pairs, self.mosaic, self._cache = pairs, mosaic, {}
        self.channels = pairs[0].channels

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]:
        index = int(rng.integers(len(self.pairs)))
        if index not in self._cache:
            self._cache[index] = self.pairs[index]
        pair = self._cache[index]
        noisy, clean = (a if a.ndim == 3 else a[None] for a in (pair.noisy, pair.clean))
        top, left = _crop(rng, *clean.shape[-2:], patch, even=self.mosaic)
        window = (slice(None), slice(top, top + patch), slice(left, left + patch))
        return noisy[window].astype(np.float32), clean[window].astype(np.float32)


class ScenePatches:
    """Random patches of SIDD-Medium raw scenes, each read from its two files as a window, at even
    offsets (the Bayer phase is kept). The full-size images never sit in memory (SIDD-Medium's
    320 scenes are about 40 GB as float32, per training process); the OS page cache keeps the
    files that are read often."""

    channels = 1

    def __init__(self, scenes: Sequence[MediumScene]) -> None:
        if not len(scenes):
            raise ZooError("no training pairs found")
        self.scenes = scenes
        self._shapes: dict[int, tuple[int, int]] = {}

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]:
        index = int(rng.integers(len(self.scenes)))  # drawn as PairPatches draws: the same patches
        if index not in self._shapes:
            self._shapes[index] = self.scenes[index].shape()
        top, left = _crop(rng, *self._shapes[index], patch, even=True)
        noisy, clean = self.scenes[index].window((top, left, patch, patch))
        return noisy[None], clean[None]


class Mixture:
    """Patches from several sources, each drawn with its weight (distillation's extra pairs)."""

    def __init__(self, sources: Sequence[Source], weights: Sequence[float]) -> None:
        self.sources, self.weights = list(sources), np.asarray(weights, dtype=np.float64) / sum(weights)
        self.channels = self.sources[0].channels

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sources[int(rng.choice(len(self.sources), p=self.weights))].sample(rng, patch)


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


def _open_weighted(spec: str) -> list[tuple[Source, float]]:
    from zoo.data.synthetic import capture_kinds, open_captures

    if spec in capture_kinds():
        return list(open_captures(spec))
    return [(open_source(spec), 1.0)]


def open_source(spec: str) -> Source:
    """``synthraw``, a synthetic capture kind (``mixed-raw``, ``natural-srgb``, ...),
    ``sidd-medium:DIR`` or ``pairs:DIR`` (folders ``noisy/`` and ``gt/``)."""
    kind, _, folder = spec.partition(":")
    if kind == "synthraw" and not folder:
        return SynthRaw()
    from zoo.data.synthetic import capture_kinds, open_captures

    if spec in capture_kinds():
        parts = open_captures(spec)
        return parts[0][0] if len(parts) == 1 else Mixture([s for s, _ in parts], [w for _, w in parts])
    if kind in ("sidd-medium", "pairs") and folder:
        from zoo.data import sidd

        path = Path(folder).expanduser()  # a shell leaves the ~ of "sidd-medium:~/..." alone
        if kind == "sidd-medium":
            return ScenePatches(sidd.sidd_medium_scenes(path))
        return PairPatches(sidd.load_srgb_pairs(path), mosaic=False)
    raise ZooError(f"unknown training data '{spec}'; use one of {', '.join(DATA_KINDS)}")


def make_batch(source: Source, *, seed: int, step: int, rank: int, batch: int, patch: int,
               augment: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch ``step`` of rank ``rank``: the same tensors whenever it is asked for again."""
    rng = np.random.default_rng([seed, step, rank])
    noisy, clean = [], []
    for _ in range(batch):
        pair = source.sample(rng, patch)
        if augment:  # one of the 8 rotations/flips per patch (views: np.stack copies once)
            k, flip = TRANSFORMS[int(rng.integers(len(TRANSFORMS)))]
            pair = tuple(np.rot90(a[..., ::-1] if flip else a, k, axes=(-2, -1)) for a in pair)
        noisy.append(pair[0])
        clean.append(pair[1])
    return torch.from_numpy(np.stack(noisy)), torch.from_numpy(np.stack(clean))
