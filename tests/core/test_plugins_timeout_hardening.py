"""Issue 28, plugins: a plugin whose import does not finish within the limit
(``ZOO_PLUGIN_IMPORT_SECONDS``) is reported by name and skipped; ``zoo list`` and ``zoo info``
answer instead of hanging, and the other plugins load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_fake_distribution

from zoo import limits, registry

SLEEPS = "import time\ntime.sleep(600)  # a plugin waiting on a network that never answers\n\ndef factory(in_channels=1):\n    pass\n"
ENTRY_POINTS = """
[zoo.models]
sleeps = zoo_sleeps:factory
sleeps_too = zoo_sleeps:factory
"""


def write_plugins(root: Path) -> Path:
    return write_fake_distribution(root, "zoo-sleeps", {"zoo_sleeps": SLEEPS}, ENTRY_POINTS)


def run_cli(args: list[str], site: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, PYTHONPATH=str(site), **{limits.ENVIRONMENT["plugin_import_seconds"]: "2"})
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, env=env, timeout=120)
    return result, time.monotonic() - started


def test_zoo_list_skips_a_plugin_that_hangs_on_import(tmp_path):
    result, seconds = run_cli(["list", "--json"], write_plugins(tmp_path / "site"))
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["sleeps"]["status"].startswith("broken: ImportTimeout: it did not finish importing within 2 s")
    assert "ZOO_PLUGIN_IMPORT_SECONDS" in rows["sleeps"]["status"]
    assert rows["sleeps_too"]["status"].startswith("broken: ImportTimeout")  # not another 2 s: its module is stuck
    assert rows["mwrcanet"]["status"] == "ok" and "Traceback" not in result.stderr
    assert "plugin 'sleeps' from 'zoo-sleeps'" in result.stderr
    assert seconds < 60


def test_zoo_info_names_the_plugin_that_hangs(tmp_path):
    result, _ = run_cli(["info", "sleeps"], write_plugins(tmp_path / "site"))
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("zoo: error: model 'sleeps' from 'zoo-sleeps'") and "did not finish importing" in line
    assert "Traceback" not in result.stderr


def test_a_plugin_that_imports_in_time_loads(tmp_path, monkeypatch):
    """The bound changes nothing for a plugin that imports: its object, and its errors, as before."""
    monkeypatch.setenv(limits.ENVIRONMENT["plugin_import_seconds"], "30")
    registry.refresh()
    try:
        assert registry.MODELS.plugin("mwrcanet").ok
    finally:
        registry.refresh()


@pytest.mark.parametrize("text", ["-1", "soon"])
def test_a_bad_limit_is_one_line(tmp_path, text):
    env = dict(os.environ, **{limits.ENVIRONMENT["plugin_import_seconds"]: text})
    result = subprocess.run([sys.executable, "-m", "zoo", "list"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2 and "ZOO_PLUGIN_IMPORT_SECONDS" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
