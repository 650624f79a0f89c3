"""Install hints: what to ``pip install`` for an optional feature, right for an installed wheel.

zoo's distribution on the package index is :data:`DISTRIBUTION` (``zoo`` there is an unrelated
project); the import name and the ``zoo`` command are ``zoo``. A hint names the missing package
itself, and the extra that brings a whole feature where there is one. An optional package is
imported with :func:`require`, which says so in one line when it is missing.
"""

from __future__ import annotations

import sys
from types import ModuleType

from zoo.errors import ZooError, first_line

DISTRIBUTION = "zoo-denoise"


def pip_hint(*packages: str, extra: str | None = None) -> str:
    """``pip install PACKAGE...``, and ``(or pip install "zoo-denoise[EXTRA]")`` for a feature's extra."""
    hint = f"pip install {' '.join(packages)}"
    return f'{hint} (or pip install "{DISTRIBUTION}[{extra}]")' if extra else hint


def require(module: str, what: str | None = None, *, package: str | None = None,
            extra: str | None = None) -> ModuleType:
    """``import module``, or a one-line :class:`ZooError` with its install hint:
    ``WHAT needs PACKAGE: pip install PACKAGE (or pip install "zoo-denoise[EXTRA]")`` (without
    ``what``: ``PACKAGE is not installed: ...``). ``package`` is what pip installs, when it is not
    the module's name (PyYAML for ``yaml``). A package that is there but fails to import (a
    library of its own missing) adds the import's own error."""
    try:
        __import__(module)  # through builtins, as a plain import statement
    except ImportError as exc:
        name = package or module.partition(".")[0]
        hint = pip_hint(name, extra=extra)
        message = f"{what} needs {name}: {hint}" if what else f"{name} is not installed: {hint}"
        missing = exc.name is not None and (module == exc.name or module.startswith(exc.name + "."))
        raise ZooError(message if missing else f"{message} ({first_line(exc)})") from None
    return sys.modules[module]
