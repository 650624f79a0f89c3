"""Training patch sources, and the batches drawn from them.

A source draws one (noisy, clean) patch ``(C, P, P)`` float32 from the numpy generator it is
given. Batch ``step`` of rank ``rank`` is a pure function of ``(seed, step, rank)``: a resumed run
draws exactly the batches the interrupted one would have, with no data-loader state to save.
Data specs name sources (:mod:`zoo.data.specs`); the synthetic captures are
:mod:`zoo.data.synthetic`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from zoo.data.noise import add_noise, sample_noise_levels
from zoo.data.pairs import Pair
from zoo.data.sets import TRAIN_IMAGES, load_srgb
from zoo.data.sidd import MediumScene
from zoo.data.unprocess import random_unprocess_params, unprocess
from zoo.errors import ZooError
from zoo.ops.dihedral import TRANSFORMS
from zoo.ops.noisemap import empirical_nlf, sigma_map

#: Where a training pair's noise level is measured (denser in the shadows, where it changes fastest).
NLF_KNOTS = torch.linspace(0.0, 1.0, 9) ** 2
NLF_JITTER = 0.1  # log-normal spread of the level a network is told in training


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
        self.images = [load_srgb(name) for name in TRAIN_IMAGES]

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]:
        image = self.images[rng.integers(len(self.images))]
        height, width = image.shape[:2]
        top, left = _crop(rng, height, width, patch, even=False)
        clean = unprocess(image[top:top + patch, left:left + patch], random_unprocess_params(rng), "RGGB")
        noisy = np.clip(add_noise(clean, *sample_noise_levels(rng), rng), 0.0, 1.0)
        return noisy[None].astype(np.float32), clean[None].astype(np.float32)


class PairPatches:
    """Random patches of real (noisy, clean) pairs: SIDD-Medium scenes or image folders. Images
    are read when first drawn and kept (a training set is read many times)."""

    def __init__(self, pairs: Sequence[Pair], mosaic: bool) -> None:
        if not len(pairs):
            raise ZooError("no training pairs found")
        # Every pair read now (each would be read and kept when first drawn anyway), so that pairs
        # of different channel counts or shapes stop the run before its first step, not midway.
        self.pairs, self.mosaic = pairs, mosaic
        self._cache = {index: pair for index, pair in enumerate(pairs)}
        self.channels = self._cache[0].channels
        for pair in self._cache.values():
            if pair.channels != self.channels:
                raise ZooError(f"the training pairs mix {self.channels}-channel images ({self._cache[0].name}) with "
                               f"{pair.channels}-channel ones ({pair.name}): train on one kind at a time")
            if pair.noisy.shape != pair.clean.shape:
                raise ZooError(f"training pair {pair.name}: noisy {tuple(pair.noisy.shape)} and clean "
                               f"{tuple(pair.clean.shape)} differ in shape")

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]:
        index = int(rng.integers(len(self.pairs)))
        if index not in self._cache:
            self._cache[index] = self.pairs[index]
        pair = self._cache[index]
        noisy, clean = (a if a.ndim == 3 else a[None] for a in (pair.noisy, pair.clean))
        height, width = clean.shape[-2:]
        top, left = _crop(rng, height, width, patch, even=self.mosaic)
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
        if any(source.channels != self.channels for source in self.sources):
            found = sorted({source.channels for source in self.sources})
            raise ZooError(f"the training sources mix images of {' and '.join(map(str, found))} channels: "
                           "a model takes one kind")

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sources[int(rng.choice(len(self.sources), p=self.weights))].sample(rng, patch)


class NoiseMapped:
    """A source for noise-aware networks: each noisy patch carries its noise map, its C image
    channels followed by C channels of the map (:mod:`zoo.ops.noisemap`). The map is built from
    the pair's own noise level (the standard deviation of noisy - clean at each intensity, what an
    estimator measures), scaled by a log-normal factor of spread ``jitter``: a network that takes
    an estimate for exact would be thrown by the estimator's error."""

    def __init__(self, inner: Source, jitter: float = NLF_JITTER) -> None:
        self.inner, self.jitter, self.channels = inner, jitter, inner.channels

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]:
        noisy, clean = self.inner.sample(rng, patch)
        mosaic = self.channels == 1
        noisy_t = torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32))
        level = empirical_nlf(noisy_t, torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)), NLF_KNOTS,
                              mosaic=mosaic) * float(np.exp(rng.normal(0.0, self.jitter)))
        sigma = sigma_map(noisy_t[None], NLF_KNOTS, level[None], mosaic=mosaic)[0].numpy()
        return np.concatenate([noisy, sigma]), clean


def make_batch(source: Source, *, seed: int, step: int, rank: int, batch: int, patch: int,
               augment: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch ``step`` of rank ``rank``: the same tensors whenever it is asked for again."""
    rng = np.random.default_rng([seed, step, rank])
    noisy, clean = [], []
    for _ in range(batch):
        pair: tuple[np.ndarray, ...] = source.sample(rng, patch)
        if augment:  # one of the 8 rotations/flips per patch (views: np.stack copies once)
            k, flip = TRANSFORMS[int(rng.integers(len(TRANSFORMS)))]
            pair = tuple(np.rot90(a[..., ::-1] if flip else a, k, axes=(-2, -1)) for a in pair)
        noisy.append(pair[0])
        clean.append(pair[1])
    return torch.from_numpy(np.stack(noisy)), torch.from_numpy(np.stack(clean))
