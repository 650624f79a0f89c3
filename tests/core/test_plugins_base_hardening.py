"""Issue 28, plugins: a BaseException that is not an Exception (a class of the plugin's own, or
one that merely looks like Ctrl-C) is contained like an error, on import and when building, and
the rest load; a real KeyboardInterrupt still stops zoo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import installed, write_fake_distribution

import zoo
from zoo import registry

MODULE = textwrap.dedent("""
    from torch import nn

    class Doom(BaseException):
        pass

    class FakeInterrupt(KeyboardInterrupt):
        pass

    def factory(in_channels=1):
        raise Doom("the plugin's own BaseException")

    def interrupts(in_channels=1):
        raise FakeInterrupt("not the user's Ctrl-C")
""")
ON_IMPORT = 'class Doom(BaseException):\n    pass\nraise Doom("at import")\n'
ENTRY_POINTS = """
[zoo.models]
doom = zoo_doom:factory
fake_interrupt = zoo_doom:interrupts
doom_on_import = zoo_doom_import:factory
"""


def write_plugins(root: Path) -> Path:
    return write_fake_distribution(root, "zoo-doom", {"zoo_doom": MODULE, "zoo_doom_import": ON_IMPORT}, ENTRY_POINTS)


@pytest.fixture
def doom(tmp_path):
    with installed(write_plugins(tmp_path / "site"), ("zoo_doom", "zoo_doom_import")) as site:
        yield site


def test_zoo_list_contains_base_exceptions(tmp_path):
    site = write_plugins(tmp_path / "site")
    env = dict(os.environ, PYTHONPATH=str(site))
    result = subprocess.run([sys.executable, "-m", "zoo", "list", "--json"], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["doom_on_import"]["status"] == "broken: Doom: at import"
    assert rows["doom"]["status"].startswith("broken: BrokenPluginError: model 'doom' from 'zoo-doom'")
    assert "Doom: the plugin's own BaseException" in rows["doom"]["status"]
    assert "FakeInterrupt" in rows["fake_interrupt"]["status"]
    assert rows["mwrcanet"]["status"] == "ok" and "Traceback" not in result.stderr


@pytest.mark.parametrize("model, expected", [("doom", "Doom: the plugin's own BaseException"),
                                             ("fake_interrupt", "FakeInterrupt: not the user's Ctrl-C"),
                                             ("doom_on_import", "is broken: Doom: at import")])
def test_a_base_exception_is_one_line_naming_the_plugin(doom, capsys, model, expected):
    from zoo.cli import main

    assert main(["info", model]) == 2
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"zoo: error: model '{model}' from 'zoo-doom'") and expected in line
    assert "Traceback" not in err


def test_a_real_keyboard_interrupt_still_stops():
    def real_interrupt(in_channels=1):
        raise KeyboardInterrupt  # as Ctrl-C during a build: the user's, so not contained

    zoo.register_model("real_interrupt", real_interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            zoo.create_model("real_interrupt")
    finally:
        registry.MODELS.unregister("real_interrupt")

