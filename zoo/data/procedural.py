"""Clean images drawn from a seed, so that training data never runs out and covers what a few
photographs do not: occlusion edges at every scale, sharp text and line graphics, smooth
gradients. Each generator returns float64 sRGB ``(size, size, 3)`` in [0, 1] and draws only
from the ``rng`` it is given (the same seed gives the same image).

- :func:`dead_leaves`: the dead-leaves model (Matheron; Lee, Mumford and Huang 2001), as used to
  train restoration networks by Achddou, Gousseau and Ladjal (2021, 2025): opaque shapes piled
  on one another, their radii drawn from a power law ``p(r) ~ r^-3`` (the exponent that makes
  the model scale invariant, like natural images), some carrying a texture, the whole sometimes
  blurred as by depth of field. See ``docs/training-data.md``.
- :func:`graphics`: text, lines, boxes, charts and checkerboards on a page or a slide, with hard
  (aliased) or anti-aliased edges: screenshots, documents, signs.
- :func:`gradient`: smooth linear and radial ramps with slow undulations: skies, walls, studio
  backdrops, where any leftover noise or blotch shows.
- :func:`textures`: regular fine texture (meshes, woven fabric, stripes, dot grids) at periods of
  2.5-16 pixels, any angle, with some perspective: the chair backs, shirts and screens a denoiser
  must not flatten, and which photographs of a few scenes barely show.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable

import cv2
import numpy as np

Generator = Callable[[np.random.Generator, int], np.ndarray]

DEAD_LEAVES_ALPHA = 3.0  # p(r) ~ r^-alpha; 3 makes the model scale invariant
MIN_RADIUS = 3.0  # pixels at the output scale: smaller leaves are speckle that looks like noise
LEAVES_PER_AREA = 0.02  # leaves drawn per pixel: about four layers deep, so the canvas is covered
TEXTURED_SHARE = 0.3  # of the leaves large enough to carry one


def _power_law_radii(rng: np.random.Generator, count: int, low: float, high: float, alpha: float) -> np.ndarray:
    """``count`` radii with density ``~ r^-alpha`` on ``[low, high]`` (inverse of the CDF)."""
    u = rng.uniform(size=count)
    a, b = low ** (1.0 - alpha), high ** (1.0 - alpha)
    return (a + u * (b - a)) ** (1.0 / (1.0 - alpha))


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """An RGB colour in [0, 1]: brightness uniform, saturation mostly low, as in photographs."""
    value = rng.uniform(0.0, 1.0)
    saturation = rng.uniform(0.0, 1.0) ** 2
    hue = rng.uniform(0.0, 6.0)
    chroma = value * saturation
    x = chroma * (1.0 - abs(hue % 2.0 - 1.0))
    sector = int(hue) % 6
    rgb = [(chroma, x, 0.0), (x, chroma, 0.0), (0.0, chroma, x), (0.0, x, chroma), (x, 0.0, chroma), (chroma, 0.0, x)]
    return np.array(rgb[sector]) + (value - chroma)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A zero-mean texture ``(H, W)``: a sinusoidal grating or a smoothed random field."""
    if rng.uniform() < 0.5:
        yy, xx = np.mgrid[0:height, 0:width]
        angle, period = rng.uniform(0.0, math.pi), rng.uniform(2.5, 24.0)
        phase = rng.uniform(0.0, 2.0 * math.pi)
        return np.sin(2.0 * math.pi * (xx * math.cos(angle) + yy * math.sin(angle)) / period + phase)
    field: np.ndarray = rng.standard_normal((height, width))
    sigma = rng.uniform(0.5, 4.0)
    field = cv2.GaussianBlur(field, (0, 0), sigma)
    return field / (field.std() + 1e-12)


def _draw_shape(canvas: np.ndarray, rng: np.random.Generator, centre: tuple[float, float], radius: float,
                colour: np.ndarray | tuple[float, ...]) -> None:
    """One opaque shape (disc, ellipse, rotated rectangle or polygon) of size ``radius``."""
    cx, cy = centre
    colour = tuple(float(c) for c in colour)
    shape = rng.uniform()
    if shape < 0.5:
        cv2.circle(canvas, (round(cx), round(cy)), max(1, round(radius)), colour, -1)
    elif shape < 0.7:
        axes = (max(1, round(radius)), max(1, round(radius * rng.uniform(0.3, 1.0))))
        cv2.ellipse(canvas, (round(cx), round(cy)), axes, rng.uniform(0.0, 180.0), 0, 360, colour, -1)
    else:
        corners = 4 if shape < 0.85 else int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, corners)) if corners != 4 else \
            rng.uniform(0.0, math.pi / 2) + np.arange(4) * math.pi / 2 + rng.uniform(-0.3, 0.3, 4)
        points = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], colour)


def dead_leaves(rng: np.random.Generator, size: int) -> np.ndarray:
    """A dead-leaves image: shapes of power-law radii, later ones on top, some textured."""
    scale = 2 if rng.uniform() < 0.5 else 1  # drawn at twice the size, then averaged: soft edges
    side = size * scale
    canvas = np.empty((side, side, 3), dtype=np.float32)
    canvas[:] = random_colour(rng)
    count = int(LEAVES_PER_AREA * size * size) + 8
    radii = _power_law_radii(rng, count, MIN_RADIUS * scale, side * rng.uniform(0.4, 1.0), DEAD_LEAVES_ALPHA)
    centres = rng.uniform(-0.1 * side, 1.1 * side, (count, 2))
    for radius, (cx, cy) in zip(radii, centres):
        colour = random_colour(rng)
        if radius > 6 * scale and rng.uniform() < TEXTURED_SHARE:
            _draw_textured(canvas, rng, (cx, cy), radius, colour)
        else:
            _draw_shape(canvas, rng, (cx, cy), radius, colour)
    image: np.ndarray = canvas.astype(np.float64)
    if scale > 1:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    if rng.uniform() < 0.25:  # depth of field
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 2.0))
    return image.clip(0.0, 1.0)


def _draw_textured(canvas: np.ndarray, rng: np.random.Generator, centre: tuple[float, float], radius: float,
                   colour: np.ndarray) -> None:
    """A shape filled with ``colour`` modulated by a texture (drawn inside its bounding box)."""
    side = canvas.shape[0]
    top, left = max(0, int(centre[1] - radius) - 1), max(0, int(centre[0] - radius) - 1)
    bottom, right = min(side, int(centre[1] + radius) + 2), min(side, int(centre[0] + radius) + 2)
    if bottom <= top or right <= left:
        return
    mask = np.zeros((bottom - top, right - left), dtype=np.float32)
    _draw_shape(mask, rng, (centre[0] - left, centre[1] - top), radius, (1.0,))
    amplitude = rng.uniform(0.05, 0.35)
    tint = colour[None, None, :] * (1.0 + amplitude * _texture(rng, *mask.shape)[..., None])
    region = canvas[top:bottom, left:right]
    inside = mask > 0.5
    region[inside] = tint.clip(0.0, 1.0)[inside]


_GLYPHS = string.ascii_letters + string.digits + "     .,:;-+=/()%$#@&!?"
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
          cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)


def _ink(rng: np.random.Generator, background: np.ndarray) -> tuple[int, ...]:
    """A colour that stands out from ``background`` (8-bit BGR), as text and lines do."""
    colour = random_colour(rng)
    if abs(colour.mean() - background.mean() / 255.0) < 0.3:
        colour = 1.0 - colour
    return tuple(int(round(c * 255)) for c in colour)


def graphics(rng: np.random.Generator, size: int) -> np.ndarray:
    """Text and line graphics on a flat or ramped page, drawn at 8 bits as screens and scans are."""
    if rng.uniform() < 0.5:  # a page or a slide: near-white, or any flat colour
        background = np.full(3, rng.uniform(0.85, 1.0)) if rng.uniform() < 0.6 else random_colour(rng)
        canvas: np.ndarray = np.empty((size, size, 3), dtype=np.uint8)
        canvas[:] = np.round(background * 255)
    else:
        canvas = np.round(gradient(rng, size) * 255).astype(np.uint8)
    base = canvas.reshape(-1, 3).mean(0)
    line_type = cv2.LINE_AA if rng.uniform() < 0.6 else cv2.LINE_8
    for _ in range(int(rng.integers(3, 12))):
        element = rng.uniform()
        colour = _ink(rng, base)
        if element < 0.45:  # a line of text
            font = _FONTS[int(rng.integers(len(_FONTS)))]
            text = "".join(rng.choice(list(_GLYPHS), int(rng.integers(3, 24))))
            font_scale = rng.uniform(0.25, 1.6) * size / 96
            origin = (int(rng.integers(-size // 4, size)), int(rng.integers(0, size + size // 4)))
            cv2.putText(canvas, text, origin, font, font_scale, colour, int(rng.integers(1, 4)), line_type)
        elif element < 0.65:  # straight lines, as in diagrams and tables
            for _ in range(int(rng.integers(1, 6))):
                p, q = rng.integers(-size // 4, size + size // 4, (2, 2))
                if rng.uniform() < 0.6:  # axis-aligned, the commonest in graphics
                    q = (q[0], p[1]) if rng.uniform() < 0.5 else (p[0], q[1])
                cv2.line(canvas, tuple(int(v) for v in p), tuple(int(v) for v in q), colour,
                         int(rng.integers(1, 5)), line_type)
        elif element < 0.8:  # a box, filled or outlined
            p = rng.integers(-size // 4, size, 2)
            q = p + rng.integers(4, size // 2 + 5, 2)
            cv2.rectangle(canvas, tuple(int(v) for v in p), tuple(int(v) for v in q), colour,
                          -1 if rng.uniform() < 0.5 else int(rng.integers(1, 4)), line_type)
        elif element < 0.92:  # a chart's polyline
            xs = np.sort(rng.integers(0, size, int(rng.integers(3, 10))))
            ys = rng.integers(0, size, len(xs))
            cv2.polylines(canvas, [np.stack([xs, ys], 1).astype(np.int32)], False, colour, int(rng.integers(1, 4)),
                          line_type)
        else:  # a checkerboard or stripes
            cell = int(rng.integers(2, max(3, size // 6)))
            yy, xx = np.mgrid[0:size, 0:size] // cell
            pattern = ((yy + xx) % 2 == 0) if rng.uniform() < 0.5 else (xx % 2 == 0)
            top, left = rng.integers(0, size, 2)
            window = np.zeros((size, size), dtype=bool)
            window[top:top + int(rng.integers(size // 4, size)), left:left + int(rng.integers(size // 4, size))] = True
            canvas[pattern & window] = colour
    if rng.uniform() < 0.25:  # a photographed page: slightly turned and softened
        matrix = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-8.0, 8.0), 1.0)
        canvas = cv2.warpAffine(canvas, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return canvas[..., ::-1].astype(np.float64) / 255.0


def gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth ramp between two colours (linear or radial), with a slow undulation."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    if rng.uniform() < 0.6:
        angle = rng.uniform(0.0, 2.0 * math.pi)
        t = (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle)
    else:
        cx, cy = rng.uniform(-0.5, 1.5, 2)
        t = np.hypot(xx - cx, yy - cy)
    t = (t - t.min()) / (np.ptp(t) + 1e-12)
    t = t ** rng.uniform(0.5, 2.0)
    start, end = random_colour(rng), random_colour(rng)
    image = start + t[..., None] * (end - start)
    for _ in range(int(rng.integers(0, 3))):  # slow waves: lighting falls off unevenly
        angle, period = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(0.5, 3.0)
        wave = np.sin(2.0 * math.pi * (xx * math.cos(angle) + yy * math.sin(angle)) / period + rng.uniform(0, 6.3))
        image = image * (1.0 + rng.uniform(0.02, 0.12) * wave[..., None])
    return image.clip(0.0, 1.0)


TEXTURE_SUPERSAMPLING = 4  # drawn at 4x and averaged down: edges anti-aliased, no moire of our own


def _pattern(kind: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coverage in [0, 1] of a regular pattern over coordinates ``u``, ``v`` in periods."""
    fu, fv = u % 1.0, v % 1.0
    if kind == "mesh":  # two families of threads with open cells between them
        width = rng.uniform(0.12, 0.45)
        return ((fu < width) | (fv < width * rng.uniform(0.5, 1.5))).astype(np.float64)
    if kind == "fabric":  # plain weave: over one, under one
        warp = 0.5 + 0.5 * np.cos(2.0 * math.pi * fu)
        weft = 0.5 + 0.5 * np.cos(2.0 * math.pi * fv)
        over = (np.floor(u) + np.floor(v)) % 2 == 0
        return np.where(over, warp * (0.6 + 0.4 * weft), weft * (0.6 + 0.4 * warp))
    if kind == "stripes":
        return (fu < rng.uniform(0.3, 0.7)).astype(np.float64)
    radius = rng.uniform(0.15, 0.4)  # dots on a grid
    return (np.hypot(fu - 0.5, fv - 0.5) < radius).astype(np.float64)


def textures(rng: np.random.Generator, size: int) -> np.ndarray:
    """A regular texture: a mesh, a fabric, stripes or dots, of a random period, angle, colours
    and perspective, under uneven light."""
    kind = ("mesh", "fabric", "stripes", "dots")[int(rng.integers(4))]
    side = size * TEXTURE_SUPERSAMPLING
    yy, xx = (np.mgrid[0:side, 0:side] + 0.5) / TEXTURE_SUPERSAMPLING  # output pixels
    angle = rng.uniform(0.0, math.pi)
    period = 2.5 * 2.0 ** rng.uniform(0.0, math.log2(16.0 / 2.5))
    ratio = 1.0 if rng.uniform() < 0.5 else rng.uniform(0.6, 1.6)  # square cells or not
    tilt = rng.uniform(-0.6, 0.6)  # perspective: the period grows or shrinks down the frame
    scale = period * (1.0 + tilt * (yy / size - 0.5))
    u = (xx * math.cos(angle) + yy * math.sin(angle)) / scale + rng.uniform()
    v = (-xx * math.sin(angle) + yy * math.cos(angle)) / (scale * ratio) + rng.uniform()
    coverage = _pattern(kind, u, v, rng)
    ink, paper = random_colour(rng), random_colour(rng)
    if abs(ink.mean() - paper.mean()) < 0.15:  # a texture too faint to see teaches nothing
        ink = paper * 0.35 if paper.mean() > 0.5 else paper + (1.0 - paper) * 0.65
    image = paper + coverage[..., None] * (ink - paper)
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    light = gradient(rng, size).mean(-1, keepdims=True)  # uneven light over the cloth
    return (image * (0.7 + 0.6 * light)).clip(0.0, 1.0)


GENERATORS: dict[str, Generator] = {"deadleaves": dead_leaves, "graphics": graphics, "gradients": gradient,
                                    "textures": textures}
