"""Issue 17, plugins: a plugin that exits, prints or raises is shown as broken in one line; zoo's
stdout stays its own (``zoo list --json`` is valid JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import installed

import zoo

MODULES = {
    "zoo_exits": "import sys\nsys.exit(3)\n",
    "zoo_prints": textwrap.dedent("""
        import os
        print("hello from a plugin")
        os.write(1, b"and from C code\\n")
        from torch import nn

        def factory(in_channels=1):
            print("building!")
            return nn.Conv2d(in_channels, in_channels, 3, padding=1)
    """),
    "zoo_raises": textwrap.dedent("""
        from torch import nn

        def factory(in_channels=1):
            raise RuntimeError("CUDA driver too old\\nsecond line")

        def quitter(in_channels=1):
            raise SystemExit(4)

        class Block(nn.Module):
            def __init__(self, channels, reduction=1):
                super().__init__()
                self.size = channels // (reduction - 1)
    """),
}
ENTRY_POINTS = """
[zoo.models]
exits = zoo_exits:factory
prints = zoo_prints:factory
raises = zoo_raises:factory
quits = zoo_raises:quitter

[zoo.blocks]
divides = zoo_raises:Block
"""


def write_plugins(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, source in MODULES.items():
        (root / f"{name}.py").write_text(source)
    info = root / "zoo_hostile-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-hostile\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return root


def run_cli(args: list[str], site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def hostile(tmp_path):
    with installed(write_plugins(tmp_path / "site"), MODULES) as site:
        yield site


def test_zoo_list_json_stays_valid_and_shows_the_hostile_plugins_as_broken(tmp_path):
    site = write_plugins(tmp_path / "site")
    result = run_cli(["list", "--json"], site)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}  # nothing the plugins printed
    assert rows["exits"]["status"] == "broken: SystemExit: it called sys.exit(3) on import"
    assert rows["prints"]["status"] == "ok"
    assert rows["raises"]["status"] == ("broken: BrokenPluginError: model 'raises' from 'zoo-hostile' "
                                        "(zoo_raises:factory) failed to build: RuntimeError: CUDA driver too old")
    assert rows["quits"]["status"].startswith("broken: BrokenPluginError: model 'quits'")
    assert rows["mwrcanet"]["status"] == "ok"
    assert "hello from a plugin" in result.stderr and "and from C code" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("model, expected", [
    ("raises", "zoo: error: model 'raises' from 'zoo-hostile' (zoo_raises:factory) failed to build: "
               "RuntimeError: CUDA driver too old"),
    ("quits", "zoo: error: model 'quits' from 'zoo-hostile' (zoo_raises:quitter) failed to build: SystemExit: 4"),
    ("exits", "zoo: error: model 'exits' from 'zoo-hostile' (zoo_exits:factory) is broken: SystemExit: "
              "it called sys.exit(3) on import"),
])
def test_a_failing_factory_is_one_line_naming_the_plugin(hostile, capsys, model, expected):
    from zoo.cli import main

    assert main(["info", model]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == expected
    assert "Traceback" not in err


def test_api_errors_name_the_plugin(hostile):
    with pytest.warns(zoo.PluginWarning, match="sys.exit"):
        with pytest.raises(zoo.BrokenPluginError, match="it called sys.exit"):
            zoo.create_model("exits")
    with pytest.raises(zoo.BrokenPluginError, match=r"block 'divides' from 'zoo-hostile' \(zoo_raises:Block\) "
                                                    r"failed to build .*ZeroDivisionError"):
        zoo.create_model("mwnet", widths=(4, 4, 4), groups={"block": "divides", "options": {"reduction": 1}})
    with pytest.raises(zoo.ZooError, match="cannot build model 'mwrcanet'"):  # a config mistake stays one
        zoo.create_model("mwrcanet", widths=(1, 2))


def test_plugin_prints_go_to_stderr(hostile, capfd):
    zoo.create_model("prints")
    out, err = capfd.readouterr()
    assert out == "" and "hello from a plugin" in err and "and from C code" in err and "building!" in err
