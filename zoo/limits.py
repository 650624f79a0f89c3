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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

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
    #: Modules it is built of (mwrcanet: 1,039; mwdensenet: 1,539): bounds the time a hostile config
    #: takes to build (about a millisecond a module, on the meta device).
    max_modules: int = 10_000
    #: Bytes of a JSON document in a file's metadata (configuration, model card).
    max_json_bytes: int = 1 << 20
    #: Nesting depth of such a document (JSON, TOML or YAML).
    max_json_depth: int = 64
    #: Bytes of a search's journal (``study.journal``), checked before Optuna replays it: a
    #: thousand trials take a few megabytes.
    max_journal_bytes: int = 256 << 20
    #: Optimizer steps of one training run (``--steps``): 10^8 is months of training at the
    #: fastest; 10^12 asked for a run that would never end, and nothing said so.
    max_steps: int = 100_000_000
    #: Choices of one gene of a search space (the items of an option list, or the span of a
    #: range): NSGA-II and TPE draw from every one, and a range of 10^9 depths hung the search.
    max_search_choices: int = 1_000
    #: Seconds a plugin may take to import (its entry point's module): one that sleeps or waits
    #: on a network hung ``zoo list`` and ``zoo info`` with no word of which plugin. It is then
    #: reported as broken, by name, and the rest load.
    plugin_import_seconds: int = 20


ENVIRONMENT = {field.name: f"ZOO_{field.name.upper()}" for field in dataclasses.fields(Limits)}
# The default is read-only: a ContextVar's default is shared by every context, and override() replaces the value whole.
_override: contextvars.ContextVar[Mapping[str, int]] = contextvars.ContextVar("zoo_limits", default=MappingProxyType({}))


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
    values = {field.name: _from_environment(field.name, field.default)  # type: ignore[arg-type]  # every field has an int default
              for field in dataclasses.fields(Limits)}
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


def check_steps(steps: int, what: str = "--steps") -> None:
    """A one-line :class:`ZooError` for more training steps than :attr:`Limits.max_steps`."""
    limit = current().max_steps
    if exceeds(steps, limit):
        raise ZooError(f"{what} {steps:,} is above the limit of {limit:,} steps; set {ENVIRONMENT['max_steps']} to "
                       "raise it")


def check_tile(tile: int | None, what: str = "--tile") -> None:
    """A one-line :class:`ZooError` for a tile whose area is above the pixel limit (a tile larger
    than any image zoo reads would be accepted silently and mean no tiling at all)."""
    if tile is None:
        return
    limit = current().max_pixels
    if exceeds(tile * tile, limit):
        raise ZooError(f"{what} {tile:,} is above the limit of {int(limit ** 0.5):,} pixels a side (a tile of "
                       f"{tile:,}x{tile:,} is above the {limit / 1e6:.0f}-megapixel image limit); set "
                       f"{ENVIRONMENT['max_pixels']} to raise it")


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_threads(threads: int | None, what: str = "--threads") -> None:
    """A one-line :class:`ZooError` for a thread count below 1 or above this machine's cores
    (100,000 threads hung ``zoo bench``; more threads than cores only slow a run down)."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ZooError(f"{what} must be at least 1, got {threads}")
    if threads > cores():
        raise ZooError(f"{what} {threads} is more than the {cores()} CPU cores this process may use")

