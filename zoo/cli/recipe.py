"""A whole `zoo train` or `zoo distill` recipe in one file (``--config-file``), as BasicSR's
``-opt file.yml``: the keys are the command's flags (``val-every`` or ``val_every``), the values
what the flags take, and a flag given on the command line wins over the file.

TOML always (``tomllib``; ``tomli`` on Python 3.10); YAML (``.yaml``/``.yml``) when PyYAML is
installed. Each value goes through the command's own parser, as if typed on the command line,
so a file takes what the flags take and is checked the same way; a bad key, type or value is one
line naming the file and the key. Paths in the file (weights, data folders, model files) are
taken from the current folder, as on the command line.

A model configuration (``--config`` and the like) is inline JSON, a JSON file holding one object,
or in a recipe a table. A model config file from ``zoo search export`` (:mod:`zoo.modelfile`) names
its model too, so it goes where the model name goes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.modelfile import FORMAT as MODEL_FILE_FORMAT
from zoo.reading import is_yaml, parse_json, parse_toml, parse_yaml, read_json, read_text

# Options that are not part of a recipe: how to run, not what to train.
NOT_IN_RECIPES = {"config_file", "resume", "json", "help"}


def model_config(text: str) -> Any:
    """argparse type of a model configuration: inline JSON (``{...}``) or a JSON file's path.

    Inline JSON comes back whatever it holds: the command checks that it is an object and says so
    naming its own option. A file must hold an object. Both are bounded in size and depth
    (:func:`zoo.reading.parse_json`: 10,000 nested brackets were a RecursionError)."""
    text = text.strip()
    if text.startswith(("{", "[")):
        try:
            return parse_json(text, "the inline JSON")
        except ZooError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    with contextlib.suppress(ValueError):  # a scalar (5, "x", true): the command says it is no object
        return json.loads(text)
    path = Path(text).expanduser()
    try:
        value = read_json(path, "the model configuration file")
    except ZooError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (give a JSON object or a JSON file)") from None
    if isinstance(value, dict) and value.get("format") == MODEL_FILE_FORMAT:
        raise argparse.ArgumentTypeError(f"{path} is a model config file (it names its model): give it "
                                         "where the model name goes")
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{path}: a model configuration is a JSON object")
    return value


model_config.recipe_kind = "object"  # type: ignore[attr-defined]


def read_recipe(path: str | Path) -> dict[str, Any]:
    """The file's top-level table (TOML, or YAML with PyYAML), read through :mod:`zoo.reading`:
    a regular file, bounded in size and depth; in YAML no aliases and no key given twice."""
    path = Path(path).expanduser()
    if is_yaml(path):
        data = parse_yaml(read_text(path, "the recipe file"), str(path))
    else:
        try:
            data = parse_toml(read_text(path, "the recipe file"), str(path))
        except ZooError as exc:
            raise ZooError(f"{exc} (YAML recipes end in .yaml or .yml)" if "is not TOML" in str(exc) else str(exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ZooError(f"{path}: a recipe is a table of settings, not {type(data).__name__}")
    return data


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.dest not in NOT_IN_RECIPES and a.dest != argparse.SUPPRESS}


def _tokens(key: str, value: Any, action: argparse.Action) -> list[str]:
    """``value`` as the command line would give it, or a ValueError saying what was expected."""
    flag = action.option_strings[-1] if action.option_strings else None
    kind = getattr(action.type, "recipe_kind", action.type)
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse.BooleanOptionalAction)):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        if flag is None:  # argparse gives these actions option strings always
            raise ValueError(f"{key} is a switch without a flag")
        if isinstance(action, argparse.BooleanOptionalAction):  # option_strings: --x and --no-x
            negative = [s for s in action.option_strings if s.startswith("--no-")]
            return [next(s for s in action.option_strings if s not in negative) if value else negative[0]]
        return [flag] if value == isinstance(action, argparse._StoreTrueAction) else []
    if isinstance(action, argparse._AppendAction):
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ValueError(f"expected a string or a list of strings, got {value!r}")
        return [f"{flag}={v}" for v in values]
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        text = str(value)
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):  # str: YAML reads 2e-4 as one
            raise ValueError(f"expected a number, got {value!r}")
        text = str(value)
    elif kind == "object":
        if not isinstance(value, (dict, str)):
            raise ValueError(f"expected a table (or a JSON file's path), got {value!r}")
        try:
            text = json.dumps(value, allow_nan=False) if isinstance(value, dict) else value
        except (TypeError, ValueError) as exc:  # a TOML/YAML date, bytes, NaN: no model option takes them
            raise ValueError(f"expected a table of plain values (numbers, strings, lists, tables): {exc}") from None
    elif kind == "four":
        # str: YAML reads 6e-4 as a string; the command's parser checks each is a number
        if isinstance(value, list) and len(value) == 4 and all(isinstance(v, (int, float, str)) and not isinstance(v, bool)
                                                               for v in value):
            text = ",".join(map(str, value))
        elif isinstance(value, str):
            text = value
        else:
            raise ValueError(f"expected a list of four numbers, got {value!r}")
    else:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        text = value
    if flag:
        return [f"{flag}={text}"]  # one token: a value starting with '-' stays a value
    if text.startswith("-"):
        raise ValueError(f"expected a name, got {text!r}")
    return [text]


class _Refused(Exception):
    pass


@contextmanager
def _errors_raised(parser: argparse.ArgumentParser) -> Iterator[None]:
    """argparse prints a usage error and exits; here it becomes an exception to reword."""
    def error(message: str):
        raise _Refused(message)

    parser.error = error  # type: ignore[method-assign]
    try:
        yield
    finally:
        del parser.error


def parse_recipe(parser: argparse.ArgumentParser, path: str | Path) -> dict[str, Any]:
    """The settings of the recipe file at ``path`` for the command ``parser`` parses, by dest
    name, each parsed as its flag would be. The parser's defaults must be ``SUPPRESS``, so that
    only what the file sets comes back."""
    options = _options(parser)
    values: dict[str, Any] = {}
    for key, value in read_recipe(path).items():
        dest = str(key).replace("-", "_")
        if dest in values:
            raise ZooError(f"{path}: {key!r} is given twice (as {dest.replace('_', '-')} and {dest})")
        if dest in NOT_IN_RECIPES:
            raise ZooError(f"{path}: {key!r} says how to run, not what: give --{dest.replace('_', '-')} on the "
                           "command line")
        if dest not in options:
            names = ", ".join(sorted(d.replace("_", "-") for d in options))
            raise ZooError(f"{path}: unknown key {key!r}; a recipe takes the options of `{parser.prog}`: {names}")
        try:
            tokens = _tokens(key, value, options[dest])
            with _errors_raised(parser):
                parsed = vars(parser.parse_args(tokens))
        except (ValueError, _Refused) as exc:
            reason = str(exc).split("error: ")[-1]
            raise ZooError(f"{path}: {key}: {reason}") from None
        values[dest] = parsed.get(dest)
    return values


def given(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (a parser whose defaults are ``SUPPRESS``)."""
    return {k: v for k, v in vars(args).items() if k not in NOT_IN_RECIPES and k not in ("run", "command_parser")}


def chosen(args: argparse.Namespace) -> dict[str, Any]:
    """A command's options: its recipe file's (``--config-file``), overridden by those given on
    the command line. The parser is ``args.command_parser``, its defaults ``SUPPRESS``."""
    path = getattr(args, "config_file", None)
    from_file = parse_recipe(args.command_parser, path) if path else {}
    return {**from_file, **given(args)}


def suppress_defaults(parser: argparse.ArgumentParser) -> None:
    """Make every option's default ``SUPPRESS``, so a namespace holds only what was given (the
    help texts state the real defaults)."""
    for action in parser._actions:
        if action.dest != "help" and not isinstance(action, argparse._VersionAction):
            action.default = argparse.SUPPRESS
