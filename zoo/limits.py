"""Size limits for input zoo did not make: images, model configurations from weights files, JSON.

A hostile or mistaken file can ask for far more than it holds: an 875 KB PNG that decodes to
30000x30000, a weights file whose configuration builds ten million blocks. zoo checks what a file
asks for against these limits before it decodes or builds anything, and refuses more in one line.

Each limit is overridable, for the process by an environment variable (``ZOO_MAX_PIXELS=1e9``)
and in code for a block (``with zoo.limits.override(max_pixels=10**9): ...``); 0 turns a limit off.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass

from zoo.errors import ZooError


@dataclass(frozen=True)
class Limits:
    """What zoo accepts from a file; 0 means no limit."""

    #: Pixels (height x width) of one image, read from its header before decoding: 2^28, about
    #: 268 megapixels (the largest camera sensors give 150-200).
    max_pixels: int = 1 << 28
    #: Parameters of a model whose configuration comes from a file (zoo's largest: 27 M).
    max_parameters: int = 1_000_000_000
    #: Bytes of its parameters and buffers together.
    max_model_bytes: int = 8 << 30
    #: Modules it is built of (mwrcanet: about 1,300); bounds the build time of a hostile config.
    max_modules: int = 100_000
    #: Bytes of a JSON document in a file's metadata (configuration, model card).
    max_json_bytes: int = 1 << 20
    #: Nesting depth of such a document.
    max_json_depth: int = 64


ENVIRONMENT = {field.name: f"ZOO_{field.name.upper()}" for field in dataclasses.fields(Limits)}
_override: contextvars.ContextVar[dict[str, int]] = contextvars.ContextVar("zoo_limits", default={})


def _from_environment(name: str, default: int) -> int:
    variable = ENVIRONMENT[name]
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise ZooError(f"${variable} must be a number (0: no limit), got {text!r}") from None
    if not (value >= 0 and value != float("inf")):
        raise ZooError(f"${variable} must be a non-negative number (0: no limit), got {text!r}")
    return int(value)


def current() -> Limits:
    """The limits in force: defaults, then the environment, then :func:`override`."""
    values = {field.name: _from_environment(field.name, field.default) for field in dataclasses.fields(Limits)}
    values.update(_override.get())
    return Limits(**values)


@contextlib.contextmanager
def override(**limits: int) -> Iterator[Limits]:
    """Change limits for the ``with`` block (this thread or task only), e.g. ``max_pixels=0``."""
    names = {field.name for field in dataclasses.fields(Limits)}
    unknown = sorted(set(limits) - names)
    if unknown:
        raise ZooError(f"unknown limit {', '.join(unknown)}; the limits are {', '.join(sorted(names))}")
    for name, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ZooError(f"limit {name} must be a non-negative int (0: no limit), got {value!r}")
    token = _override.set({**_override.get(), **limits})
    try:
        yield current()
    finally:
        _override.reset(token)


def exceeds(value: int, limit: int) -> bool:
    """Whether ``value`` is above ``limit`` (a limit of 0 is none)."""
    return limit > 0 and value > limit


def check_pixels(height: int, width: int, what: str) -> None:
    """A one-line :class:`ZooError` when an image of ``height`` x ``width`` is above the limit."""
    limit = current().max_pixels
    if exceeds(height * width, limit):
        raise ZooError(f"{what} is {width}x{height} ({height * width / 1e6:.0f} megapixels), above the limit of "
                       f"{limit / 1e6:.0f} megapixels; set {ENVIRONMENT['max_pixels']} to raise it")
