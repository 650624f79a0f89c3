"""Model configurations from files zoo did not write itself (a weights file's ``zoo.config``).

Such a configuration is checked before anything real is built:

1. it is a JSON object whose keys are the factory's options, each value of the type the
   factory's signature gives (its annotation, else its default's type), ints within 32 bits,
   floats finite;
2. it is built on the meta device (no memory, no computation) while the parameters, their bytes
   and the modules are counted against :mod:`zoo.limits`; the build stops at the first module
   over a limit (``depth: 10**7`` hung, ``widths: [100000]*3`` exhausted memory).

Every refusal is a one-line :class:`~zoo.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import collections.abc
import contextlib
import contextvars
import inspect
import math
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as module_hooks

from zoo import limits
from zoo.errors import CheckpointError, ZooError, first_line
from zoo.registry import MODELS, build_model

_INT_BOUND = 1 << 31
_MAX_ITEMS = 4096  # items of a list option (widths: 3)


class OverLimit(ZooError):
    """Raised inside a meta build the moment a count passes its limit."""


@dataclass
class _Budget:
    limits: limits.Limits
    parameters: int = 0
    bytes: int = 0
    modules: int = 0

    def tensor(self, tensor: torch.Tensor | None) -> None:
        if tensor is None:
            return
        self.parameters += tensor.numel() if isinstance(tensor, nn.Parameter) else 0
        self.bytes += tensor.numel() * tensor.element_size()
        if limits.exceeds(self.parameters, self.limits.max_parameters):
            raise OverLimit(f"more than {self.limits.max_parameters:,} parameters "
                            f"(set {limits.ENVIRONMENT['max_parameters']} to allow more)")
        if limits.exceeds(self.bytes, self.limits.max_model_bytes):
            raise OverLimit(f"more than {self.limits.max_model_bytes / 2**30:g} GiB of weights "
                            f"(set {limits.ENVIRONMENT['max_model_bytes']} to allow more)")

    def module(self) -> None:
        self.modules += 1
        if limits.exceeds(self.modules, self.limits.max_modules):
            raise OverLimit(f"more than {self.limits.max_modules:,} modules "
                            f"(set {limits.ENVIRONMENT['max_modules']} to allow more)")


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("zoo_build_budget", default=None)


def _on_tensor(module: nn.Module, name: str, tensor: torch.Tensor | None) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tensor(tensor)


def _on_module(module: nn.Module, name: str, submodule: nn.Module | None) -> None:
    budget = _budget.get()
    if budget is not None and submodule is not None:
        budget.module()


@contextlib.contextmanager
def _counting(budget: _Budget) -> Iterator[None]:
    # torch's registration hooks are process-wide; the budget is this thread's (a context
    # variable), so builds elsewhere are not counted.
    handles = [module_hooks.register_module_parameter_registration_hook(_on_tensor),
               module_hooks.register_module_buffer_registration_hook(_on_tensor),
               module_hooks.register_module_module_registration_hook(_on_module)]
    token = _budget.set(budget)
    try:
        yield
    finally:
        _budget.reset(token)
        for handle in handles:
            handle.remove()


# --- types from the signature -------------------------------------------------------------------

def _expected_types(factory: Callable[..., Any]) -> dict[str, Any]:
    """Each option's annotation, else its default's type; options with neither are left out."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return {}
    try:
        hints = typing.get_type_hints(factory)
    except Exception:  # annotations that do not resolve: fall back to the defaults
        hints = {}
    expected = {}
    for parameter in signature.parameters.values():
        if parameter.name in hints:
            expected[parameter.name] = hints[parameter.name]
        elif parameter.default is not inspect.Parameter.empty and parameter.default is not None:
            expected[parameter.name] = type(parameter.default)
    return expected


def _problem(value: Any, hint: Any) -> str | None:
    """Why the JSON ``value`` does not fit ``hint``; None when it does (or cannot be told)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return None
    if origin in (typing.Union, types.UnionType):
        problems = [_problem(value, option) for option in args]
        return None if any(p is None for p in problems) else f"fits none of {_name(hint)}"
    if hint is type(None):
        return None if value is None else "must be null"
    if hint is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {_show(value)}"
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {_show(value)}"
        return None if -_INT_BOUND <= value < _INT_BOUND else f"is out of range: {_show(value)}"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {_show(value)}"
        if isinstance(value, int):
            return None if -_INT_BOUND <= value < _INT_BOUND else f"is out of range: {_show(value)}"
        return None if math.isfinite(value) else f"must be finite, got {value}"
    if hint is str:
        return None if isinstance(value, str) else f"must be a string, got {_show(value)}"
    container = origin or hint
    if isinstance(container, type) and issubclass(container, collections.abc.Mapping):
        return None if isinstance(value, dict) else f"must be an object, got {_show(value)}"
    if isinstance(container, type) and issubclass(container, (collections.abc.Sequence, collections.abc.Set)) \
            and not issubclass(container, (str, bytes)):
        if not isinstance(value, list):
            return f"must be a list, got {_show(value)}"
        if len(value) > _MAX_ITEMS:
            return f"has {len(value):,} items, more than {_MAX_ITEMS:,}"
        item_hints = [a for a in args if a is not Ellipsis]
        if len(item_hints) == 1 or (container is tuple and len(args) == 2 and args[1] is Ellipsis):
            for index, item in enumerate(value):
                problem = _problem(item, item_hints[0])
                if problem is not None:
                    return f"item {index} {problem}"
        return None
    return None  # a type JSON cannot hold or zoo does not know: the factory checks it


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_config(name: str, config: Any, source: str) -> dict[str, Any]:
    """``config`` checked against model ``name``'s factory signature (see the module docstring)."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{source}: its model configuration must be a JSON object, got {type(config).__name__}")
    factory = MODELS.get(name)
    for key, hint in _expected_types(factory).items():
        if key in config:
            problem = _problem(config[key], hint)
            if problem is not None:
                raise CheckpointError(f"{source}: model '{name}' option '{key}' {problem}")
    return config


def build_within_limits(name: str, config: dict[str, Any], source: str) -> None:
    """Build ``name`` with ``config`` on the meta device, counting it against :mod:`zoo.limits`;
    a one-line :class:`CheckpointError` when it is too big or does not build."""
    budget = _Budget(limits.current())
    try:
        with _counting(budget), torch.device("meta"):
            build_model(name, **config)
    except OverLimit as exc:
        raise CheckpointError(f"{source}: its configuration builds a model '{name}' above the size limit: {exc}") from None
    except ZooError as exc:
        raise CheckpointError(f"{source}: its configuration does not build model '{name}': {first_line(exc)}") from None
    except Exception as exc:  # the factory's own checks, on a configuration it was never meant to see
        raise CheckpointError(f"{source}: its configuration does not build model '{name}': "
                              f"{type(exc).__name__}: {first_line(exc)}") from None


def check_untrusted_config(name: str, config: Any, source: str) -> dict[str, Any]:
    """Both checks: the types, then a counted meta build. Returns ``config``."""
    build_within_limits(name, check_config(name, config, source), source)
    return config
