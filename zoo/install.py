"""Install hints: what to ``pip install`` for an optional feature, right for an installed wheel.

zoo's distribution on the package index is :data:`DISTRIBUTION` (``zoo`` there is an unrelated
project); the import name and the ``zoo`` command are ``zoo``. A hint names the missing package
itself, and the extra that brings a whole feature where there is one.
"""

from __future__ import annotations

DISTRIBUTION = "zoo-denoise"


def pip_hint(*packages: str, extra: str | None = None) -> str:
    """``pip install PACKAGE...``, and ``(or pip install "zoo-denoise[EXTRA]")`` for a feature's extra."""
    hint = f"pip install {' '.join(packages)}"
    return f'{hint} (or pip install "{DISTRIBUTION}[{extra}]")' if extra else hint
