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

The sRGB blocks are the same captures developed; their noisy inputs are 8-bit, a third as PNG
and two thirds as JPEG (quality 95 and 85). ``crossval-raw`` / ``crossval-srgb`` are built the
same way from the ``validation`` images, for choosing checkpoints: never tune on the test sets.

Like ``synthraw``, the blocks are quantised to 16 bits, so that they are the same bytes on every
machine with the same library versions (a pinned checksum, and per-step digests that name the
step and library when a rebuild drifts: :mod:`zoo.data.digests`); they are built when asked for,
in under a second.
"""

from __future__ import annotations

import hashlib
import warnings
import numpy as np

from zoo.data.capture import PATTERN, expose, jpeg, level_grid, noisy_raw, quantise8, to_srgb
from zoo.data.digests import CAMERA_STEPS, UNTRACED, Trace, explain
from zoo.data.natural import load_srgb
from zoo.data.pairs import Pair
from zoo.data.procedural import dead_leaves, gradient, graphics
from zoo.data.unprocess import UnprocessParams, random_unprocess_params, unprocess
from zoo.errors import ZooError

BLOCK = 128
KINDS = ("natural", "graphics", "highlights", "lowlight")
EXPOSURE = {"natural": "normal", "graphics": "normal", "highlights": "highlights", "lowlight": "shadows"}
LEVELS = 5
MAX_WHITE = 0.6  # of a developed highlight block
JPEG_QUALITIES = (None, 95, 85)  # sRGB noisy inputs: PNG, then JPEG, by block and level
VERSION = 1  # bump when the recipe changes: the cache key and the pinned checksums go with it
SETS = ("crossdomain-raw", "crossdomain-srgb", "crossval-raw", "crossval-srgb")

# kind -> the clean content of its blocks: a built-in image (a crop at a seeded position) or a
# procedural generator (drawn from a seed). Test and validation use disjoint images.
CONTENT = {
    "test": {
        "natural": ("skimage:astronaut.png", "skimage:coffee.png", "skimage:chelsea.png", "pywt:aero"),
        "graphics": ("skimage:logo.png", "skimage:page.png", "skimage:color.png", "procedural:graphics"),
        "highlights": ("skimage:astronaut.png", "skimage:coffee.png", "skimage:logo.png", "pywt:aero"),
        "lowlight": ("skimage:chelsea.png", "pywt:aero", "skimage:coffee.png", "procedural:deadleaves"),
    },
    "validation": {
        "natural": ("skimage:ihc.png", "sklearn:flower.jpg"),
        "graphics": ("skimage:text.png", "skimage:horse.png"),
        "highlights": ("sklearn:flower.jpg", "procedural:gradients"),
        "lowlight": ("skimage:ihc.png", "procedural:deadleaves"),
    },
}
SEEDS = {"test": 4242, "validation": 4343}  # training draws from (seed, step, rank): never these
VALIDATION_LEVELS = 3
CHECKSUMS = {
    "test": "ec7382f31d051d7e0fb843774b891793336788c028b13d0e9655aca5f3f24474",
    "validation": "fd4e20b1bcecf3c6555d8535bee3328d3e71c2250594b3f9c5163963341d8970",
}
_PROCEDURAL = {"graphics": graphics, "gradients": gradient, "deadleaves": dead_leaves}


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


def build_arrays(which: str, trace: Trace | None = None) -> dict[str, np.ndarray]:
    """The ``test`` or ``validation`` set from scratch, as 16-bit arrays with names and tags;
    ``trace`` receives every intermediate step (:mod:`zoo.data.digests`)."""
    trace = trace or UNTRACED
    rng = np.random.default_rng(SEEDS[which])
    levels = level_grid(LEVELS if which == "test" else VALIDATION_LEVELS)
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
            trace(item, "developed", clean_srgb)
            for level, (shot, read) in enumerate(levels):
                noisy = noisy_raw(clean, (shot, read), rng)
                quality = JPEG_QUALITIES[(index + level) % len(JPEG_QUALITIES)]
                developed = to_srgb(noisy, camera)
                noisy_srgb = jpeg(developed, quality) if quality is not None else quantise8(developed)
                name = f"{item}/L{level + 1}"
                trace(name, "noisy", noisy)
                trace(name, "noisy-developed", developed)
                trace(name, "encoded", noisy_srgb)
                out["names"].append(name)
                out["kinds"].append(kind)
                out["levels"].append(level + 1)
                out["noise"].append((shot, read))
                out["quality"].append(quality or 0)
                out["raw_clean"].append(_quantise(clean))
                out["raw_noisy"].append(_quantise(noisy))
                out["srgb_clean"].append(clean_srgb)
                out["srgb_noisy"].append(_quantise(noisy_srgb))
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


def arrays_of(which: str) -> dict[str, np.ndarray]:
    """The ``test`` or ``validation`` arrays (built in under a second: not cached), with a warning
    when they differ from the pinned set."""
    arrays = build_arrays(which)
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
