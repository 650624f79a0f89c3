"""Training patches that never run out: clean content (photographs of the training split, or
procedural images) captured afresh for every patch by a random simulated camera
(:mod:`zoo.data.capture`), raw or sRGB.

Data specs (``zoo train --data``): ``CONTENT-raw`` / ``CONTENT-srgb`` for each content of
:data:`CONTENTS`; ``mixed-raw`` / ``mixed-srgb``, the mixture the shipped weights were trained on
(:data:`MIXED`); and ``highlights-raw`` / ``shadows-raw`` (and ``-srgb``), the same mixture always
at that exposure extreme, to weigh an extreme more than the mixture's 15% does.
"""

from __future__ import annotations

import cv2
import numpy as np

import dataclasses

from zoo.data.capture import DEFAULT_SETTINGS, CaptureSettings, random_capture
from zoo.data.natural import load_srgb, split
from zoo.data.phone import random_phone_capture
from zoo.data.procedural import GENERATORS
from zoo.errors import ZooError

DOMAINS = {"raw": 1, "srgb": 3}  # domain -> channels
CONTENTS = ("natural", *GENERATORS)
# The shipped weights' mixture: photographs first (what users denoise), then procedural content
# for what a few photographs lack (edges at all scales, text and graphics, smooth ramps).
# Regular textures (meshes, fabrics) since issue 23: a network that never saw them flattens them.
MIXED = {"natural": 0.4, "deadleaves": 0.15, "graphics": 0.15, "gradients": 0.1, "textures": 0.2}
EXTREMES = {"highlights": dataclasses.replace(DEFAULT_SETTINGS, highlights=1.0, shadows=0.0),
            "shadows": dataclasses.replace(DEFAULT_SETTINGS, highlights=0.0, shadows=1.0)}
RESCALE_SHARE = 0.5  # natural crops shrunk by up to 2x: other scales, and the files' own noise and JPEG averaged away


class NaturalImages:
    """The photographs of one split (``train`` by default), kept in memory as float32."""

    def __init__(self, which: str = "train") -> None:
        self.names = split(which)
        self.images = [load_srgb(name).astype(np.float32) for name in self.names]

    def crop(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """A random ``size`` x ``size`` crop of a random image, sometimes of a larger area shrunk."""
        image = self.images[int(rng.integers(len(self.images)))]
        height, width = image.shape[:2]
        scale = 2.0 ** rng.uniform(0.0, 1.0) if rng.uniform() < RESCALE_SHARE else 1.0
        side = min(int(size * scale), height, width)
        if side < size:
            raise ZooError(f"a {height}x{width} training image is smaller than the {size}-pixel patch")
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        window: np.ndarray = image[top:top + side, left:left + side]
        if side != size:
            window = cv2.resize(window, (size, size), interpolation=cv2.INTER_AREA)
        return window.astype(np.float64)


class Captures:
    """Patches of one content, captured in one domain (``raw``: an RGGB mosaic, 1 channel;
    ``srgb``: 3 channels, often JPEG)."""

    def __init__(self, content: str, domain: str, settings: CaptureSettings = DEFAULT_SETTINGS) -> None:
        if content not in CONTENTS:
            raise ZooError(f"unknown content '{content}'; choose from {', '.join(CONTENTS)}")
        if domain not in DOMAINS:
            raise ZooError(f"unknown domain '{domain}'; choose from {', '.join(DOMAINS)}")
        self.content, self.domain, self.settings = content, domain, settings
        self.channels = DOMAINS[domain]
        self._natural = NaturalImages() if content == "natural" else None

    def clean(self, rng: np.random.Generator, patch: int) -> np.ndarray:
        """A clean sRGB patch ``(patch, patch, 3)`` of this content."""
        if self._natural is not None:
            return self._natural.crop(rng, patch)
        return GENERATORS[self.content](rng, patch)

    def sample(self, rng: np.random.Generator, patch: int) -> tuple[np.ndarray, np.ndarray]:
        if self.domain == "srgb":  # developed as cameras do: no darkening learnt from clipped shadows
            return random_phone_capture(self.clean(rng, patch), rng, self.settings)
        return random_capture(self.clean(rng, patch), rng, domain=self.domain, settings=self.settings)


def capture_kinds() -> tuple[str, ...]:
    """Every data spec this module serves, e.g. ``natural-raw``, ``mixed-srgb``."""
    return tuple(f"{content}-{domain}" for content in (*CONTENTS, "mixed", *EXTREMES) for domain in DOMAINS)


def open_captures(kind: str) -> list[tuple[Captures, float]]:
    """The sources and weights of a spec of :func:`capture_kinds`."""
    content, _, domain = kind.rpartition("-")
    if kind not in capture_kinds():
        raise ZooError(f"unknown synthetic data '{kind}'; choose from {', '.join(capture_kinds())}")
    if content == "mixed" or content in EXTREMES:
        settings = EXTREMES.get(content, DEFAULT_SETTINGS)
        return [(Captures(name, domain, settings), weight) for name, weight in MIXED.items()]
    return [(Captures(content, domain), 1.0)]
