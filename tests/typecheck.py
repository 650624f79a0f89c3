"""`make lint`'s type check: mypy over the package as it installs, settings in pyproject.toml.

The installed package maps ``zoo.plugins`` to ``plugins/`` and ``zoo.export`` to ``export/``
(``package-dir``), which mypy cannot follow in a checkout. This builds that layout as links under
``build/typecheck/`` (``zoo/``'s entries, with ``plugins`` and ``export`` beside them), runs mypy
there and names the checkout's files in its messages. Not a pytest file:
``python tests/typecheck.py [mypy options]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"
MOUNTS = {"plugins": "plugins", "export": "export"}  # zoo.<name> -> the checkout's folder


def build_tree() -> Path:
    package = TREE / "zoo"
    shutil.rmtree(package, ignore_errors=True)
    package.mkdir(parents=True)
    for entry in (ROOT / "zoo").iterdir():
        if entry.name != "__pycache__":
            os.symlink(entry, package / entry.name)
    for name, folder in MOUNTS.items():
        os.symlink(ROOT / folder, package / name)
    return package


def main(argv: list[str]) -> int:
    build_tree()
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
               "--cache-dir", str(ROOT / "build" / "mypy-cache"), *argv, "-p", "zoo"]
    done = subprocess.run(command, cwd=TREE, capture_output=True, text=True)
    for stream, text in ((sys.stdout, done.stdout), (sys.stderr, done.stderr)):
        for line in text.splitlines(keepends=True):
            for name, folder in MOUNTS.items():  # zoo/plugins/x.py is plugins/x.py in the checkout
                if line.startswith(f"zoo/{name}/"):
                    line = folder + line[len(f"zoo/{name}"):]
                    break
            stream.write(line)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
