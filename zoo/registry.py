"""Plugin registry: models and blocks found through entry points, or registered in-process.

Entry-point groups are ``zoo.models`` (name -> factory returning an ``nn.Module``) and
``zoo.blocks`` (name -> ``Block(channels, **options)`` class). Discovery reads entry-point
metadata once (cached) and imports a plugin only when it is first used. A plugin that fails to
import, or whose object is of the wrong kind, is recorded as broken and reported with a
:class:`~zoo.errors.PluginWarning`; every other plugin keeps working.

When two distributions provide the same name, the winner is deterministic: the built-in ``zoo-denoise``
distribution (zoo itself) first, then the others in order of distribution name. A warning names both.
In-process registration (:func:`register_model`, :func:`register_block`) refuses an existing
name unless ``override=True``.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import inspect
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from torch import nn

from zoo import limits
from zoo.contract import record_block, record_build
from zoo.errors import BrokenPluginError, PluginWarning, UnknownNameError, ZooError, first_line, from_the_user

BUILTIN_DISTRIBUTION = "zoo-denoise"  # zoo's own distribution: its entry points are the built-in plugins
IN_PROCESS = "(in-process)"


@dataclass
class Plugin:
    """One registered name: where it comes from and, once loaded, its object or its error."""

    name: str
    kind: str
    distribution: str
    target: str
    entry_point: EntryPoint | None = None
    obj: Any = None
    error: str | None = None
    loaded: bool = False
    shadowed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.loaded and self.error is None


def _is_model_factory(obj: Any) -> str | None:
    if not callable(obj):
        return f"expected a callable model factory, got {type(obj).__name__}"
    return None


def _is_block_class(obj: Any) -> str | None:
    if not (inspect.isclass(obj) and issubclass(obj, nn.Module)):
        return f"expected an nn.Module subclass Block(channels, **options), got {obj!r}"
    return None


@contextlib.contextmanager
def plugin_output_to_stderr() -> Iterator[None]:
    """Send whatever third-party code prints to stderr while it runs: stdout carries zoo's own
    output (``zoo list --json`` must stay valid JSON). Python's ``sys.stdout`` and file
    descriptor 1 (where C extensions write) are both redirected."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    saved_fd: int | None = None
    try:
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no descriptor 1 or 2 (closed): Python level only
        if saved_fd is not None:
            os.close(saved_fd)
        saved_fd = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved_fd is not None:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


_from_the_user = from_the_user  # the name this module's callers know


class ImportTimeout(Exception):
    """A plugin's import did not finish within :attr:`zoo.limits.Limits.plugin_import_seconds`."""


def _load_bounded(entry_point: EntryPoint, seconds: int) -> Any:
    """``entry_point.load()``, given at most ``seconds`` (0: no bound, in this thread).

    Python cannot stop an import from outside, so the import runs in a daemon thread that is
    joined with a timeout: a stuck import is abandoned (its thread goes on, or ends with the
    process, and holds its module's import lock: other entry points of that module are refused
    without waiting again). Whatever the import raises comes back here, to be contained as before.
    """
    if seconds <= 0:
        return entry_point.load()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["obj"] = entry_point.load()
        except BaseException as exc:  # SystemExit too: a thread would swallow it without a word
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"zoo-plugin-import:{entry_point.name}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        _STUCK_MODULES.add(entry_point.module)
        raise ImportTimeout(f"it did not finish importing within {seconds} s and was skipped (set "
                            f"{limits.ENVIRONMENT['plugin_import_seconds']} to wait longer, 0: no limit)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["obj"]


_STUCK_MODULES: set[str] = set()  # modules whose import timed out: their import lock stays held


def _distribution_rank(distribution: str) -> tuple[bool, str]:
    return (distribution != BUILTIN_DISTRIBUTION, distribution.lower())


class Registry:
    """Names of one kind (models or blocks) and the plugins behind them."""

    def __init__(self, kind: str, group: str, validate: Callable[[Any], str | None]):
        self.kind = kind
        self.group = group
        self._validate = validate
        self._plugins: dict[str, Plugin] | None = None

    # -- discovery -------------------------------------------------------------------------
    def _discovered(self) -> dict[str, Plugin]:
        if self._plugins is None:
            self._plugins = self._discover()
        return self._plugins

    def _discover(self) -> dict[str, Plugin]:
        candidates: dict[str, list[Plugin]] = {}
        for ep in entry_points(group=self.group):
            distribution = ep.dist.name if ep.dist is not None else "(unknown)"
            plugin = Plugin(ep.name, self.kind, distribution, ep.value, entry_point=ep)
            candidates.setdefault(ep.name, []).append(plugin)
        plugins = {}
        for name, found in candidates.items():
            found.sort(key=lambda p: _distribution_rank(p.distribution))
            winner = found[0]
            winner.shadowed = [p.distribution for p in found[1:] if p.distribution != winner.distribution]
            if winner.shadowed:
                warnings.warn(
                    f"zoo: {self.kind} '{name}' is provided by {', '.join(map(repr, [winner.distribution, *winner.shadowed]))}; "
                    f"using '{winner.distribution}' (built-in first, then by distribution name)",
                    PluginWarning,
                    stacklevel=3,
                )
            plugins[name] = winner
        return plugins

    def refresh(self) -> None:
        """Forget discovered plugins, so that newly installed distributions are seen."""
        self._plugins = None

    def _load(self, plugin: Plugin) -> None:
        if plugin.loaded:
            return
        seconds = limits.current().plugin_import_seconds  # a bad $ZOO_PLUGIN_IMPORT_SECONDS: the user's, one line
        plugin.loaded = True
        try:
            if plugin.entry_point is not None and plugin.entry_point.module in _STUCK_MODULES:
                raise ImportTimeout(f"its module {plugin.entry_point.module!r} did not finish importing for another "
                                    "entry point and was skipped")
            with plugin_output_to_stderr():
                obj = _load_bounded(plugin.entry_point, seconds) \
                    if plugin.entry_point is not None else plugin.obj
        except SystemExit as exc:  # sys.exit() at import must not end zoo (zoo list went silent, exit 3)
            plugin.error = f"SystemExit: it called sys.exit({exc.code!r}) on import"
        except BaseException as exc:  # any import-time failure of third-party code must not spread,
            if _from_the_user(exc):  # a BaseException of its own too; Ctrl-C is the user's and goes on
                raise
            plugin.error = f"{type(exc).__name__}: {first_line(exc)}"
        else:
            plugin.error = self._validate(obj)
            plugin.obj = obj if plugin.error is None else None
        if plugin.error is not None:
            warnings.warn(
                f"zoo: {self.kind} plugin '{plugin.name}' from '{plugin.distribution}' "
                f"({plugin.target}) is broken: {plugin.error}",
                PluginWarning,
                stacklevel=4,
            )

    # -- queries ---------------------------------------------------------------------------
    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._discovered() if fnmatch.fnmatchcase(n, pattern))

    def plugin(self, name: str) -> Plugin:
        """The plugin registered as ``name``, loaded (it may be broken: check ``.ok``)."""
        plugins = self._discovered()
        if name not in plugins:
            close = difflib.get_close_matches(name, plugins, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else f"; known: {', '.join(sorted(plugins)) or 'none'}"
            raise UnknownNameError(f"unknown {self.kind} '{name}'{hint}")
        plugin = plugins[name]
        self._load(plugin)
        return plugin

    def get(self, name: str) -> Any:
        plugin = self.plugin(name)
        if plugin.error is not None:
            raise BrokenPluginError(
                f"{self.kind} '{name}' from '{plugin.distribution}' ({plugin.target}) is broken: {plugin.error}"
            )
        return plugin.obj

    def plugins(self, pattern: str = "*") -> list[Plugin]:
        """Every plugin whose name matches, loaded, broken ones included."""
        return [self.plugin(n) for n in self.names(pattern)]

    def register(self, name: str, obj: Any, *, override: bool = False) -> None:
        problem = self._validate(obj)
        if problem is not None:
            raise ZooError(f"cannot register {self.kind} '{name}': {problem}")
        plugins = self._discovered()
        if name in plugins and not override:
            raise ZooError(
                f"{self.kind} '{name}' is already provided by '{plugins[name].distribution}'; "
                "pass override=True to replace it"
            )
        target = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"
        plugins[name] = Plugin(name, self.kind, IN_PROCESS, target, obj=obj, loaded=True)

    def unregister(self, name: str) -> None:
        """Remove an in-process registration (entry-point plugins come back on refresh)."""
        self._discovered().pop(name, None)


MODELS = Registry("model", "zoo.models", _is_model_factory)
BLOCKS = Registry("block", "zoo.blocks", _is_block_class)


def _register(registry: Registry, name: str, obj: Any, override: bool):
    if obj is None:  # used as a decorator
        def decorator(target):
            registry.register(name, target, override=override)
            return target
        return decorator
    registry.register(name, obj, override=override)
    return obj


def register_model(name: str, factory: Callable[..., nn.Module] | None = None, *, override: bool = False):
    """Register a model factory under ``name`` in this process; usable as a decorator."""
    return _register(MODELS, name, factory, override)


def register_block(name: str, block: type[nn.Module] | None = None, *, override: bool = False):
    """Register a block class ``Block(channels, **options)`` under ``name``; usable as a decorator."""
    return _register(BLOCKS, name, block, override)


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the registered models that match the shell-style ``pattern``."""
    return MODELS.names(pattern)


def list_blocks(pattern: str = "*") -> list[str]:
    """Sorted names of the registered blocks that match the shell-style ``pattern``."""
    return BLOCKS.names(pattern)


def refresh() -> None:
    """Re-read entry points (after installing a plugin distribution in a running process)."""
    MODELS.refresh()
    BLOCKS.refresh()


def resolve_config(name: str, **config: Any) -> dict[str, Any]:
    """The full configuration that ``create_model(name, **config)`` builds: defaults filled in."""
    factory = MODELS.get(name)
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins and some callables have no signature
        return dict(config)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    named = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(config) - {p.name for p in named})
    if unknown and not accepts_any:
        raise ZooError(
            f"model '{name}' has no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(p.name for p in named) or 'none'}"
        )
    resolved = {p.name: p.default for p in named if p.default is not inspect.Parameter.empty}
    resolved.update(config)
    return resolved


def build_model(name: str, **config: Any) -> nn.Module:
    """Build ``name`` from a configuration, recording its name and configuration on it
    (:func:`zoo.contract.record_build`)."""
    resolved = resolve_config(name, **config)
    factory = MODELS.get(name)
    try:
        with plugin_output_to_stderr():
            model = factory(**resolved)
    except ZooError:
        raise
    except (TypeError, ValueError) as exc:
        raise ZooError(f"cannot build model '{name}' with {resolved}: {first_line(exc)}") from exc
    except BaseException as exc:  # third-party code: one line naming it, never a traceback
        if _from_the_user(exc):
            raise
        raise BrokenPluginError(f"{_origin(MODELS, name)} failed to build: {type(exc).__name__}: {first_line(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise BrokenPluginError(f"model '{name}' factory returned {type(model).__name__}, not an nn.Module")
    record_build(model, name, resolved)
    return model


def create_block(name: str, channels: int, **options: Any) -> nn.Module:
    """Build the block registered as ``name``: ``(N, channels, H, W)`` to the same shape."""
    block_class = BLOCKS.get(name)
    try:
        with plugin_output_to_stderr():
            block = block_class(channels, **options)
        record_block(block, name)  # so that a probe pass can name a block whose shape lies
        return block
    except ZooError:
        raise
    except (TypeError, ValueError) as exc:
        raise ZooError(f"cannot build block '{name}' with channels={channels}, options {options}: {first_line(exc)}") from exc
    except BaseException as exc:
        if _from_the_user(exc):
            raise
        raise BrokenPluginError(f"{_origin(BLOCKS, name)} failed to build with channels={channels}, options {options}: "
                                f"{type(exc).__name__}: {first_line(exc)}") from exc


def _origin(registry: Registry, name: str) -> str:
    """``model 'x' from 'dist' (module:object)``: where a failing plugin comes from."""
    plugin = registry.plugin(name)
    return f"{registry.kind} '{name}' from '{plugin.distribution}' ({plugin.target})"
