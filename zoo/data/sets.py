"""Built-in evaluation sets from real images that ship inside installed packages: no download.

``synthraw``: sRGB blocks unprocessed to a raw RGGB mosaic, with SIDD-calibrated shot/read
noise (1 channel, as the challenge's raw blocks). ``synthsrgb``: the same clean and noisy raw
blocks processed back to sRGB (3 channels). The test images and the training images are
disjoint and listed here; the test set is built with fixed seeds, quantised to 16 bits and
byte-identical on every machine (its checksum is pinned here and checked by the tests), and
cached after the first build.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from zoo.data.digests import CAMERA_STEPS, UNTRACED, Trace, explain
from zoo.data.natural import load_srgb
from zoo.data.noise import add_noise, sample_noise_levels
from zoo.data.pairs import Pair
from zoo.data.unprocess import process, random_unprocess_params, unprocess
from zoo.errors import ZooError
from zoo.fileio import atomic_path, cache_dir

BLOCK = 256  # the challenge's block size
PATTERN = "RGGB"
DRAWS_PER_BLOCK = 2  # noise draws (camera parameters and levels) per clean block
SEED = 2020
VERSION = 1  # bump when the recipe changes: the cache key and the pinned checksum go with it
TEST_SET_NAME = "synth-test"  # its reference digests: zoo/data/digests/synth-test.json
TEST_SET_SHA256 = "2e0c9c12c5a285768244e80055e821a509bb65aeab218b8117502142358a2c25"

# Lossless PNGs only for the test set: a JPEG decodes differently across libjpeg versions, and
# the test set must be the same bytes everywhere.
# Both lists draw from zoo.data.natural's split: test images from "test", training from "train".
TEST_IMAGES = ("skimage:astronaut.png", "skimage:coffee.png", "skimage:chelsea.png")
TRAIN_IMAGES = (
    "skimage:motorcycle_left.png", "skimage:motorcycle_right.png",
    "skimage:rocket.jpg", "skimage:retina.jpg", "skimage:hubble_deep_field.jpg",
    "matplotlib:grace_hopper.jpg",
    # Grey textures and scenes (read as RGB, then given random camera colours by unprocessing):
    # six colour images alone let a 1 M-parameter network overfit.
    "skimage:brick.png", "skimage:grass.png", "skimage:gravel.png", "skimage:camera.png",
    "skimage:moon.png", "skimage:coins.png", "skimage:cell.png",
)
VALIDATION_IMAGES = ("skimage:ihc.png",)  # held out from training, for choosing checkpoints
SETS = ("synthraw", "synthsrgb", "synthval", "synthval-srgb")


def _blocks(image: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """Non-overlapping BLOCK x BLOCK crops on a grid centred in the image."""
    rows, cols = image.shape[0] // BLOCK, image.shape[1] // BLOCK
    top, left = (image.shape[0] - rows * BLOCK) // 2, (image.shape[1] - cols * BLOCK) // 2
    for r in range(rows):
        for c in range(cols):
            y, x = top + r * BLOCK, left + c * BLOCK
            yield r, c, image[y:y + BLOCK, x:x + BLOCK]


def _quantise(x: np.ndarray) -> np.ndarray:
    # 16 bits, like a raw file: also what makes the set byte-identical across machines (the
    # last float bit of pow/exp may differ between CPUs; a rounded 16-bit value does not).
    return np.round(np.clip(x, 0.0, 1.0) * 65535.0).astype(np.uint16)


def build_test_arrays(images: tuple[str, ...] = TEST_IMAGES, seed: int = SEED,
                      trace: Trace | None = None) -> dict[str, np.ndarray]:
    """The test set from scratch: 16-bit clean/noisy raw and sRGB blocks, names, noise levels;
    ``trace`` receives every intermediate step (:mod:`zoo.data.digests`)."""
    trace = trace or UNTRACED
    rng = np.random.default_rng(seed)
    names, raw_clean, raw_noisy, srgb_clean, srgb_noisy, levels = [], [], [], [], [], []
    for image_name in images:
        stem = image_name.split(":")[1].rsplit(".", 1)[0]
        for r, c, block in _blocks(load_srgb(image_name)):
            for draw in range(DRAWS_PER_BLOCK):
                params = random_unprocess_params(rng)
                clean = unprocess(block, params, PATTERN)
                shot, read = sample_noise_levels(rng)
                noisy = np.clip(add_noise(clean, shot, read, rng), 0.0, 1.0)  # a sensor clips too
                name = f"{stem}-r{r}c{c}-{draw}"
                developed, noisy_developed = process(clean, params, PATTERN), process(noisy, params, PATTERN)
                trace(name, "camera", params.as_array(), CAMERA_STEPS)
                for step, array in (("content", block), ("mosaic", clean), ("noisy", noisy), ("developed", developed),
                                    ("noisy-developed", noisy_developed)):
                    trace(name, step, array)
                names.append(name)
                raw_clean.append(_quantise(clean))
                raw_noisy.append(_quantise(noisy))
                srgb_clean.append(_quantise(developed))
                srgb_noisy.append(_quantise(noisy_developed))
                levels.append((shot, read))
    return {"names": np.array(names), "raw_clean": np.stack(raw_clean), "raw_noisy": np.stack(raw_noisy),
            "srgb_clean": np.stack(srgb_clean), "srgb_noisy": np.stack(srgb_noisy),
            "noise": np.array(levels, dtype=np.float64)}


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the 16-bit blocks and names, in a fixed order."""
    digest = hashlib.sha256()
    for key in ("names", "raw_clean", "raw_noisy", "srgb_clean", "srgb_noisy"):
        value = arrays[key]
        digest.update("\n".join(value.tolist()).encode() if key == "names" else value.astype("<u2").tobytes())
    return digest.hexdigest()


def _cache_file() -> Path:
    return cache_dir() / "sets" / f"synth-test-v{VERSION}.npz"


def synth_test_arrays() -> dict[str, np.ndarray]:
    """The test set, from the cache when it is there (built and cached otherwise)."""
    path = _cache_file()
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files}
            if checksum(arrays) == TEST_SET_SHA256:
                return arrays
        except (OSError, ValueError, KeyError):
            pass  # a damaged or stale cache is rebuilt, not trusted
    arrays = build_test_arrays()
    if checksum(arrays) != TEST_SET_SHA256:
        trace = Trace()
        build_test_arrays(trace=trace)
        warnings.warn(f"the built-in test set differs from the published one: {explain(TEST_SET_NAME, trace)}; "
                      "its scores do not compare with others'", RuntimeWarning, stacklevel=2)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]  # the stubs match a str-keyed dict to allow_pickle too
    except OSError as exc:  # no cache is slower, not wrong
        warnings.warn(f"could not cache the test set in {path.parent}: {exc}", RuntimeWarning, stacklevel=2)
    return arrays


def load_set(name: str) -> list[Pair]:
    """``synthraw`` (``(H, W)`` mosaics) or ``synthsrgb`` (``(3, H, W)``), float32 in [0, 1];
    ``synthval`` / ``synthval-srgb``: raw / sRGB blocks of the held-out validation images (for
    training runs)."""
    if name not in SETS:
        raise ZooError(f"unknown built-in set '{name}'; choose from {', '.join(SETS)}")
    arrays = build_test_arrays(VALIDATION_IMAGES, SEED + 1) if name.startswith("synthval") else synth_test_arrays()
    prefix = "srgb" if name.endswith("srgb") else "raw"
    pairs = []
    for i, block_name in enumerate(arrays["names"].tolist()):
        noisy, clean = (arrays[f"{prefix}_{kind}"][i].astype(np.float32) / 65535.0 for kind in ("noisy", "clean"))
        if prefix == "srgb":
            noisy, clean = noisy.transpose(2, 0, 1), clean.transpose(2, 0, 1)
        shot, read = arrays["noise"][i]
        raw = prefix == "raw"
        pairs.append(Pair(block_name, noisy, clean, noise=(float(shot), float(read)) if raw else None, raw=raw))
    return pairs
