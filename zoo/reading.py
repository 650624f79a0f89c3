"""Reading files zoo did not write: bounded, typed, one line per problem.

Every file a user or a stranger hands zoo (a search space, a recipe, a ``--config`` file, a
study folder's ``search.json``, a weights file) is read through here:

- it must be a regular file, checked with ``stat`` *before* it is opened: a FIFO would block the
  read forever, ``/dev/zero`` or ``/dev/urandom`` never end, a folder is not a file. It is then
  opened with ``O_NONBLOCK`` (a FIFO swapped in after the check still cannot block) and checked
  again on the open descriptor;
- its size is bounded (:attr:`zoo.limits.Limits.max_json_bytes` for documents) before and while
  it is read;
- JSON, TOML and YAML are bounded in nesting depth (:attr:`~zoo.limits.Limits.max_json_depth`),
  YAML aliases are refused (a "billion laughs" file of a few hundred bytes expands to gigabytes)
  and so are keys given twice in one YAML mapping (the TOML parser refuses those already);
- the document's top level is checked to be of the type the caller expects.

Each refusal is a :class:`~zoo.errors.ZooError` whose one line names the file.

Files zoo wrote itself and reads back (a run folder's ``config.json``, a search candidate's
``result.json``, a study's ``search.json``, ...) are read by :func:`read_json_object`, with the
same bounds and one policy for damage, stated in its docstring (and in docs/security.md).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Literal, overload

from zoo.errors import DamagedFile, ZooError
from zoo.install import require
from zoo.limits import current, exceeds

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
_TYPE_NAMES: dict[type, str] = {dict: "a table (object)", list: "a list", str: "a string"}


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: str | os.PathLike[str], what: str) -> os.stat_result:
    """The ``stat`` of ``path`` (symbolic links followed) when it is a regular file; a one-line
    :class:`ZooError` naming ``what`` and the path when it is missing or anything else."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ZooError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ZooError(f"cannot read {what} {path}: it is {_kind(info.st_mode)}, not a regular file")
    return info


def read_bytes(path: str | os.PathLike[str], what: str, limit: int) -> bytes:
    """The content of the regular file ``path``, at most ``limit`` bytes (0: no limit)."""
    info = check_regular(path, what)
    if exceeds(info.st_size, limit):
        raise ZooError(f"{what} {path} is {info.st_size:,} bytes, above the limit of {limit:,}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ZooError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):  # replaced between the check and the open
            raise ZooError(f"cannot read {what} {path}: it is {_kind(opened.st_mode)}, not a regular file")
        chunks, size = [], 0
        while True:  # a file growing as it is read stops at the limit too
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if exceeds(size, limit):
                raise ZooError(f"{what} {path} is more than {limit:,} bytes, above the limit")
        return b"".join(chunks)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise ZooError(f"cannot read {what} {path}: it is a folder, not a regular file") from None
        raise ZooError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], what: str, limit: int | None = None) -> str:
    """The UTF-8 text of ``path``, bounded by ``limit`` bytes (default: the JSON byte limit)."""
    data = read_bytes(path, what, current().max_json_bytes if limit is None else limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ZooError(f"{what} {path} is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x})") from None


def depth(value: Any) -> int:
    """How deeply lists and tables nest in ``value`` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, level + 1) for v in item)
        else:
            continue
        deepest = max(deepest, level + 1)
    return deepest


def _check_depth(value: Any, what: str) -> Any:
    limit = current().max_json_depth
    found = depth(value)
    if exceeds(found, limit):
        raise ZooError(f"{what} nests {found} levels deep, above the limit of {limit}")
    return value


def expect(value: Any, kind: type | None, what: str) -> Any:
    """``value`` when it is a ``kind`` (None: anything); else one line saying what it is."""
    if kind is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        return value
    found = "empty" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)
    raise ZooError(f"{what} must hold {_TYPE_NAMES.get(kind, kind.__name__)}, not {found}")


# --- documents ----------------------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # a JSON string literal, escapes included
_BRACKETS = re.compile(r"[\[\]{}]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str, what: str, *, constants: bool = False) -> Any:
    """JSON text within :attr:`~zoo.limits.Limits.max_json_bytes` and
    :attr:`~zoo.limits.Limits.max_json_depth` (100,000 nested brackets were a RecursionError).
    NaN and Infinity, which Python's parser takes, are refused unless ``constants`` (zoo's own
    files: its writers write them for a score that is not finite). Every problem is one line
    about ``what``."""
    limit = current()
    size = len(text.encode("utf-8", errors="replace"))
    if exceeds(size, limit.max_json_bytes):
        raise ZooError(f"{what} is {size:,} bytes of JSON, above the limit of {limit.max_json_bytes:,}")
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):  # brackets inside strings do not nest
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    if exceeds(deepest, limit.max_json_depth):
        raise ZooError(f"{what} nests {deepest} levels deep, above the limit of {limit.max_json_depth}")
    try:
        return json.loads(text) if constants else json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so is a 5,000-digit int
        raise ZooError(f"{what} is not valid JSON ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})") from None


def parse_toml(text: str, what: str) -> dict[str, Any]:
    """TOML text as a table, bounded in size and depth; one line naming ``what`` for any fault."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the same parser as a package (a dependency there)
        tomllib = require("tomli", "reading TOML on Python 3.10")

    limit = current().max_json_bytes
    if exceeds(len(text.encode("utf-8", errors="replace")), limit):
        raise ZooError(f"{what} is more than {limit:,} bytes, above the limit")
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4,300 digits
        raise ZooError(f"{what} is not TOML: {' '.join(str(exc).split())[:200]}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ZooError(f"{what} is nested too deeply (the limit is {current().max_json_depth} levels)") from None
    return _check_depth(data, what)


@functools.cache
def _safe_loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        """PyYAML's safe loader, minus what a config file never needs and an attacker uses:
        aliases (exponential expansion), keys given twice (the second silently won), and
        nesting past the depth limit (counted as nodes are composed, before recursion runs out)."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted in zoo's files",
                                                  event.start_mark)
            self._zoo_depth = getattr(self, "_zoo_depth", 0) + 1
            try:
                limit = current().max_json_depth
                if exceeds(self._zoo_depth, limit + 1):
                    raise yaml.composer.ComposerError(None, None, f"nests more than {limit} levels deep",
                                                      self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self._zoo_depth -= 1

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the base constructor says so
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice",
                                                            key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    return Loader


def parse_yaml(text: str, what: str) -> Any:
    """YAML text, bounded in size and depth, with no aliases and no key given twice."""
    try:
        yaml = require("yaml", f"{what}: YAML", package="PyYAML")
    except ZooError as exc:
        raise ZooError(f"{exc}; or write it as TOML") from None
    limit = current().max_json_bytes
    if exceeds(len(text.encode("utf-8", errors="replace")), limit):
        raise ZooError(f"{what} is more than {limit:,} bytes, above the limit")
    try:
        data = yaml.load(text, Loader=_safe_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:  # its str() quotes the line with a caret under it: say where instead
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ZooError(f"{what} is not YAML: {' '.join(str(exc.problem).split())[:200]}{where}") from None
    except yaml.YAMLError as exc:
        raise ZooError(f"{what} is not YAML: {' '.join(str(exc).split())[:200]}") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ZooError(f"{what} is not YAML: {' '.join(str(exc).split())[:200]}") from None
    except RecursionError:
        raise ZooError(f"{what} is nested too deeply (the limit is {current().max_json_depth} levels)") from None
    return _check_depth(data, what)


def read_json(path: str | os.PathLike[str], what: str, kind: type | None = None) -> Any:
    """A JSON file, bounded in size and depth, its top level a ``kind`` when given."""
    label = f"{what} {path}"
    return expect(parse_json(read_text(path, what), label), kind, label)


@overload
def read_json_object(path: str | os.PathLike[str], what: str, *, missing_ok: Literal[False] = ...,
                     advice: str = ...) -> dict[str, Any]: ...
@overload
def read_json_object(path: str | os.PathLike[str], what: str, *, missing_ok: bool, advice: str = ...
                     ) -> dict[str, Any] | None: ...
def read_json_object(path: str | os.PathLike[str], what: str, *, missing_ok: bool = False,
                     advice: str = "") -> dict[str, Any] | None:
    """A JSON object that zoo wrote itself into one of its folders, read back. The one policy:

    - missing: None with ``missing_ok``, else a one-line :class:`ZooError`;
    - damaged (not a regular file, above the size or depth limit, not UTF-8, not JSON, not an
      object): a :class:`~zoo.errors.DamagedFile`, one line naming ``what``, the file and the fault.
      A caller whose file only records what zoo can make again (a candidate's result, the
      validation line on the curves, a lock's note of its holder) catches it, says so in a
      warning, and goes on as if the file were missing, so that it is written again; everywhere
      else (a run's settings, a pipeline's scores, a study's ``search.json``) it stops the command.

    ``advice`` ends the damage's line (what the user can do: "repair it, or use another --out").
    NaN and Infinity are read back (zoo's writers write them); otherwise read as :func:`read_json`.
    """
    if not os.path.lexists(path):
        if missing_ok:
            return None
        raise ZooError(f"cannot read {what} {path}: there is no such file")
    label = f"{what} {path}"
    try:
        return expect(parse_json(read_text(path, what), label, constants=True), dict, label)
    except ZooError as exc:
        raise DamagedFile(f"{exc}; {advice}" if advice else str(exc)) from None


def read_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """A TOML file as a table, bounded in size and depth."""
    return parse_toml(read_text(path, what), f"{what} {path}")


def read_yaml(path: str | os.PathLike[str], what: str, kind: type | None = None) -> Any:
    """A YAML file, bounded in size and depth, no aliases, no key twice; a ``kind`` when given."""
    label = f"{what} {path}"
    return expect(parse_yaml(read_text(path, what), label), kind, label)


def is_yaml(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is named as YAML (``.yaml``, ``.yml``)."""
    return Path(path).suffix.lower() in (".yaml", ".yml")
