"""Held-out test sets that reach past the training distribution, raw and sRGB, every block tagged
with its kind and noise level.

``crossdomain-raw`` / ``crossdomain-srgb``: 128x128 blocks of the held-out (``test``) images of
:mod:`zoo.data.natural` and of procedural images drawn from seeds no training run uses, in four
kinds, each at the :data:`LEVELS` noise levels of :func:`zoo.data.capture.level_grid` (the same
clean block at every level, so that levels compare):

- ``natural``: photographs, normally exposed;
- ``graphics``: printed text, logos, graphics (and one procedural page);
- ``highlights``: exposed so that 15-50% of the mosaic is clipped at white;
- ``lowlight``: 2 to 6 stops under-exposed.
- ``texture``: regular fine texture (procedural meshes, fabrics, stripes, dots) and cat fur.
- ``phone-lowlight``: a phone's low-light shot: 1 to 3 stops under-exposed at high gain, the
  noise kept symmetric around black and developed as a phone does (:mod:`zoo.data.phone`:
  mild denoise, sharpening, tone curve, JPEG 75-98), its level set so that the noisy sRGB image
  is 20 dB (L1) down to 15 dB (L5) from the clean one. Its raw blocks are the under-exposed
  mosaics before the phone's gain.

The sRGB blocks are the same captures developed; their noisy inputs are 8-bit, a third as PNG
and two thirds as JPEG (quality 95 and 85). ``crossval-raw`` / ``crossval-srgb`` are built the
same way from the ``validation`` images, for choosing checkpoints: never tune on the test sets.

Like ``synthraw``, the blocks are quantised to 16 bits, so that they are the same bytes on every
machine with the same library versions (a pinned checksum, and per-step digests that name the
step and library when a rebuild drifts: :mod:`zoo.data.digests`); they are built when first asked
for in a process (a few seconds of CPU) and kept for its life.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from zoo.data.capture import PATTERN, expose, jpeg, level_grid, noisy_raw, quantise8, to_srgb
from zoo.data.digests import CAMERA_STEPS, UNTRACED, Trace, explain
from zoo.data.natural import load_srgb
from zoo.data.pairs import Pair
from zoo.data.phone import at_psnr, random_in_camera, sensor_noise
from zoo.data.procedural import dead_leaves, gradient, graphics, textures
from zoo.data.unprocess import UnprocessParams, random_unprocess_params, unprocess
from zoo.errors import ZooError

BLOCK = 128
KINDS = ("natural", "graphics", "highlights", "lowlight", "texture", "phone-lowlight")
EXPOSURE = {"natural": "normal", "graphics": "normal", "highlights": "highlights", "lowlight": "shadows",
            "texture": "normal", "phone-lowlight": "normal"}
PHONE_PSNR = (20.0, 15.0)  # phone-lowlight's noisy sRGB PSNR at the lowest and the highest level
PHONE_STOPS = (1.0, 3.0)  # its under-exposure, made up by the phone's gain
PHONE_DIM = (0.5, 1.5)  # stops the developed picture stays darker than a normal exposure: a dim scene
LEVELS = 5
MAX_WHITE = 0.6  # of a developed highlight block
JPEG_QUALITIES = (None, 95, 85)  # sRGB noisy inputs: PNG, then JPEG, by block and level
VERSION = 2  # bump when the recipe changes: the cache key and the pinned checksums go with it
# The sets per build and input channel count (1: raw mosaics, 3: sRGB), for whoever needs "the
# held-out set" or "the validation set" of a model (precision losses, INT8 calibration).
BY_CHANNELS = {"test": {1: "crossdomain-raw", 3: "crossdomain-srgb"}, "validation": {1: "crossval-raw", 3: "crossval-srgb"}}
SETS = tuple(name for build in BY_CHANNELS.values() for name in build.values())

# kind -> the clean content of its blocks: a built-in image (a crop at a seeded position) or a
# procedural generator (drawn from a seed). Test and validation use disjoint images.
CONTENT: dict[str, dict[str, tuple[str, ...]]] = {
    "test": {
        "natural": ("skimage:astronaut.png", "skimage:coffee.png", "skimage:chelsea.png", "pywt:aero"),
        "graphics": ("skimage:logo.png", "skimage:page.png", "skimage:color.png", "procedural:graphics"),
        "highlights": ("skimage:astronaut.png", "skimage:coffee.png", "skimage:logo.png", "pywt:aero"),
        "lowlight": ("skimage:chelsea.png", "pywt:aero", "skimage:coffee.png", "procedural:deadleaves"),
        "texture": ("procedural:textures", "procedural:textures", "procedural:textures", "skimage:chelsea.png"),
        "phone-lowlight": ("skimage:astronaut.png", "skimage:coffee.png", "skimage:chelsea.png", "pywt:aero"),
    },
    "validation": {
        "natural": ("skimage:ihc.png", "sklearn:flower.jpg"),
        "graphics": ("skimage:text.png", "skimage:horse.png"),
        "highlights": ("sklearn:flower.jpg", "procedural:gradients"),
        "lowlight": ("skimage:ihc.png", "procedural:deadleaves"),
        "texture": ("procedural:textures", "sklearn:flower.jpg"),
        "phone-lowlight": ("skimage:ihc.png", "sklearn:flower.jpg"),
    },
}
SEEDS = {"test": 4242, "validation": 4343}  # training draws from (seed, step, rank): never these
VALIDATION_LEVELS = 3
CHECKSUMS = {
    "test": "4ae95e469c9a33a68dbc2a5178854890c717b5a137f077934f6acbf5a76708b3",
    "validation": "4fbdd4414fdfe8e451e965cee54dc99fcba9bc2bc811621c0f760694b0bf049e",
}
_PROCEDURAL = {"graphics": graphics, "gradients": gradient, "deadleaves": dead_leaves, "textures": textures}


@dataclass(frozen=True)
class Block:
    """One block at one level, before quantisation to 16 bits."""

    name: str
    level: int
    noise: tuple[float, float]  # (shot, read) of the raw block
    quality: int | None  # the noisy sRGB block's JPEG quality (None: PNG)
    raw_clean: np.ndarray
    raw_noisy: np.ndarray
    srgb_noisy: np.ndarray


def _clean_block(source: str, rng: np.random.Generator) -> np.ndarray:
    package, _, name = source.partition(":")
    if package == "procedural":
        return _PROCEDURAL[name](rng, BLOCK)
    image = load_srgb(source)
    height, width = image.shape[:2]
    if height < BLOCK or width < BLOCK:
        raise ZooError(f"built-in image {source} is smaller than a {BLOCK}-pixel block")
    top, left = int(rng.integers(0, height - BLOCK + 1)), int(rng.integers(0, width - BLOCK + 1))
    return image[top:top + BLOCK, left:left + BLOCK]


def _exposed(block: np.ndarray, camera: UnprocessParams, exposure: str,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The clean mosaic of a block at ``exposure``, and its 16-bit development. A highlight block
    whose development is mostly white (white balance gains clip red and blue long before the
    sensor clips) is exposed less until at most :data:`MAX_WHITE` of it is: a test block must
    keep something to denoise."""
    mosaic = unprocess(block, camera, PATTERN)
    clipped = rng.uniform(0.15, 0.5)
    while True:
        clean = expose(mosaic, exposure, rng, clipped=clipped)
        developed = to_srgb(clean, camera)
        if exposure != "highlights" or (developed >= 1.0).all(-1).mean() <= MAX_WHITE or clipped < 0.01:
            return clean, _quantise(developed)
        clipped *= 0.7


def _quantise(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 65535.0).astype(np.uint16)


def set_name(which: str) -> str:
    """The name of the ``test`` or ``validation`` build, as its reference digests are filed."""
    return f"crossdomain-{which}"


def _standard_levels(item: str, index: int, clean: np.ndarray, camera: UnprocessParams,
                     levels: list[tuple[float, float]], rng: np.random.Generator, trace: Trace) -> Iterator[Block]:
    """A block at each level: noise clipped as the sensor clips, developed by :func:`to_srgb`,
    written as PNG or JPEG."""
    for level, (shot, read) in enumerate(levels):
        name = f"{item}/L{level + 1}"
        noisy = noisy_raw(clean, (shot, read), rng)
        quality = JPEG_QUALITIES[(index + level) % len(JPEG_QUALITIES)]
        developed = to_srgb(noisy, camera)
        noisy_srgb = jpeg(developed, quality) if quality is not None else quantise8(developed)
        trace(name, "noisy", noisy)
        trace(name, "noisy-developed", developed)
        trace(name, "encoded", noisy_srgb)
        yield Block(name, level, (shot, read), quality, clean, noisy, noisy_srgb)


def _phone_levels(item: str, clean: np.ndarray, camera: UnprocessParams, levels: int, rng: np.random.Generator,
                  trace: Trace) -> tuple[np.ndarray, list[Block]]:
    """``phone-lowlight``: the developed clean block, and the block at each level. The raw
    blocks are the under-exposed mosaic (clean / gain) with its noise; the phone's gain brings
    both back up before it develops them."""
    gain = 2.0 ** rng.uniform(*PHONE_STOPS)
    clean = clean * 2.0 ** -rng.uniform(*PHONE_DIM)
    blocks = []
    clean_srgb = None
    for level in range(levels):
        name = f"{item}/L{level + 1}"
        shot, read = level_grid(LEVELS)[-1]  # drawn at SIDD's highest level, then scaled to the target PSNR
        processing = random_in_camera(rng, jpeg_share=1.0)
        noise = sensor_noise(clean, shot, read, rng)
        target = PHONE_PSNR[0] + (PHONE_PSNR[1] - PHONE_PSNR[0]) * level / max(1, levels - 1)
        noisy_srgb, clean_srgb, scale = at_psnr(clean, noise, camera, processing, target, exact_highlights=False)
        noisy = np.clip((clean + noise * scale) / gain, 0.0, 1.0)
        trace(name, "noisy", noisy)
        trace(name, "encoded", noisy_srgb)
        raw_level = (shot * scale**2 / gain, read * scale**2 / gain**2)  # the noise of clean / gain
        blocks.append(Block(name, level, raw_level, processing.quality, clean / gain, noisy, noisy_srgb))
    assert clean_srgb is not None
    return clean_srgb, blocks


def build_arrays(which: str, trace: Trace | None = None) -> dict[str, np.ndarray]:
    """The ``test`` or ``validation`` set from scratch, as 16-bit arrays with names and tags;
    ``trace`` receives every intermediate step (:mod:`zoo.data.digests`)."""
    trace = trace or UNTRACED
    rng = np.random.default_rng(SEEDS[which])
    count = LEVELS if which == "test" else VALIDATION_LEVELS
    levels = level_grid(count)
    out: dict[str, list] = {key: [] for key in ("names", "kinds", "levels", "noise", "raw_clean", "raw_noisy",
                                                "srgb_clean", "srgb_noisy", "quality")}
    for kind in KINDS:
        for index, source in enumerate(CONTENT[which][kind]):
            block = _clean_block(source, rng)
            camera = random_unprocess_params(rng)
            clean, clean_srgb = _exposed(block, camera, EXPOSURE[kind], rng)  # the same clean block at every level
            stem = source.split(":")[1].rsplit(".", 1)[0]
            item = f"{kind}/{stem}-{index}"
            trace(item, "content", block)
            trace(item, "camera", camera.as_array(), CAMERA_STEPS)
            trace(item, "mosaic", clean)
            if kind == "phone-lowlight":
                developed, blocks = _phone_levels(item, clean, camera, count, rng, trace)
                clean_srgb = _quantise(developed)
            else:
                blocks = list(_standard_levels(item, index, clean, camera, levels, rng, trace))
            trace(item, "developed", clean_srgb)
            for b in blocks:
                out["names"].append(b.name)
                out["kinds"].append(kind)
                out["levels"].append(b.level + 1)
                out["noise"].append(b.noise)
                out["quality"].append(b.quality or 0)
                out["raw_clean"].append(_quantise(b.raw_clean))
                out["raw_noisy"].append(_quantise(b.raw_noisy))
                out["srgb_clean"].append(clean_srgb)
                out["srgb_noisy"].append(_quantise(b.srgb_noisy))
    arrays = {key: np.array(value) for key, value in out.items()}
    arrays["noise"] = arrays["noise"].astype(np.float64)
    return arrays


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the names and the 16-bit blocks, in a fixed order."""
    digest = hashlib.sha256()
    digest.update("\n".join(arrays["names"].tolist()).encode())
    for key in ("raw_clean", "raw_noisy", "srgb_clean", "srgb_noisy"):
        digest.update(arrays[key].astype("<u2").tobytes())
    return digest.hexdigest()


@functools.cache
def arrays_of(which: str) -> dict[str, np.ndarray]:
    """The ``test`` or ``validation`` arrays, read-only (built once per process), with a warning
    when they differ from the pinned set."""
    arrays = build_arrays(which)
    for array in arrays.values():
        array.flags.writeable = False
    if checksum(arrays) != CHECKSUMS[which]:
        trace = Trace()
        build_arrays(which, trace)
        warnings.warn(f"the built-in cross-domain {which} set differs from the published one: "
                      f"{explain(set_name(which), trace)}; its scores do not compare with others'",
                      RuntimeWarning, stacklevel=2)
    return arrays


def load_crossdomain(name: str) -> list[Pair]:
    """One of :data:`SETS` as pairs, float32 in [0, 1], tagged ``kind`` and ``level``."""
    if name not in SETS:
        raise ZooError(f"unknown cross-domain set '{name}'; choose from {', '.join(SETS)}")
    arrays = arrays_of("test" if name.startswith("crossdomain") else "validation")
    raw = name.endswith("-raw")
    prefix = "raw" if raw else "srgb"
    pairs = []
    for i, block_name in enumerate(arrays["names"].tolist()):
        noisy, clean = (arrays[f"{prefix}_{part}"][i].astype(np.float32) / 65535.0 for part in ("noisy", "clean"))
        if not raw:
            noisy, clean = noisy.transpose(2, 0, 1), clean.transpose(2, 0, 1)
        shot, read = arrays["noise"][i]
        tags = {"kind": str(arrays["kinds"][i]), "level": f"L{int(arrays['levels'][i])}"}
        pairs.append(Pair(block_name, np.ascontiguousarray(noisy), np.ascontiguousarray(clean),
                          noise=(float(shot), float(read)) if raw else None, raw=raw, tags=tags))
    return pairs
