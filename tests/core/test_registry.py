"""The registry, seen through real entry points of a throw-away distribution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

import zoo
from zoo.plugins.blocks.residual import ResidualBlock

BUILTIN_MODELS = ["mwdensenet", "mwnet", "mwrcanet", "mwrcanet-demo", "mwrcanet-srgb-demo", "mwresnet", "mwresnet-demo"]
BUILTIN_BLOCKS = ["dense", "rcab", "residual"]


def test_builtins_are_found_through_entry_points():
    assert zoo.list_models() == BUILTIN_MODELS
    assert zoo.list_blocks() == BUILTIN_BLOCKS
    assert zoo.list_models("mwr*net") == ["mwrcanet", "mwresnet"]
    assert zoo.list_blocks("r*") == ["rcab", "residual"]


def test_core_never_imports_plugins_directly():
    import zoo.export

    offenders = []
    for root in (os.path.dirname(zoo.__file__), os.path.dirname(zoo.export.__file__)):  # the core, and export/
        for folder, _, files in os.walk(root):
            for name in files:
                if name.endswith(".py"):
                    text = open(os.path.join(folder, name)).read()
                    if "zoo.plugins" in text.replace('"zoo.plugins"', ""):
                        offenders.append(name)
    assert offenders == []


def test_unknown_name_suggests_close_matches():
    with pytest.raises(zoo.UnknownNameError, match="did you mean 'mwrcanet'"):
        zoo.create_model("mwrcannet")
    with pytest.raises(zoo.UnknownNameError, match="unknown block 'rcba'.*'rcab'"):
        zoo.create_block("rcba", 8)


def test_third_party_block_and_model_are_seen(third_party):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zoo.PluginWarning)
        assert "gated" in zoo.list_blocks()
        assert {"tinynet", "broken_import", "not_callable"} <= set(zoo.list_models())
        block = zoo.create_block("gated", 16, kernel_size=5)
        x = torch.randn(2, 16, 9, 11)
        assert block(x).shape == x.shape
        # The new block inside the generic skeleton, built from a plain dict, on an odd size.
        model = zoo.create_model("tinynet", depth=2)
        assert model.middle.body[1].__class__.__name__ == "GatedBlock"
        image = torch.rand(1, 1, 37, 101)
        assert model(image).shape == image.shape


def test_broken_plugins_are_isolated_and_explained(third_party):
    with pytest.warns(zoo.PluginWarning, match="broken_import.*zoo-extra.*not installed"):
        with pytest.raises(zoo.BrokenPluginError, match="ImportError: zoo_extra_broken needs a library") as info:
            zoo.create_model("broken_import")
    assert "zoo-extra" in str(info.value)
    with pytest.warns(zoo.PluginWarning), pytest.raises(zoo.BrokenPluginError, match="callable model factory"):
        zoo.create_model("not_callable")
    with pytest.warns(zoo.PluginWarning), pytest.raises(zoo.BrokenPluginError, match="nn.Module subclass"):
        zoo.create_block("not_a_block", 8)
    # Everything else still works after the failures.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zoo.PluginWarning)
        assert isinstance(zoo.create_model("mwresnet", widths=(8, 8, 8), depth=1), nn.Module)


def test_duplicate_name_warns_with_both_distributions_and_builtin_wins(third_party):
    with pytest.warns(zoo.PluginWarning, match=r"block 'residual' is provided by 'zoo-denoise', 'zoo-extra'; using 'zoo-denoise'"):
        names = zoo.list_blocks()
    assert names.count("residual") == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zoo.PluginWarning)
        assert type(zoo.create_block("residual", 8)) is ResidualBlock


def test_in_process_registration():
    @zoo.register_block("identity_plus")
    class IdentityPlus(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x * self.scale

    assert "identity_plus" in zoo.list_blocks()
    model = zoo.create_model("mwnet", widths=(8, 8, 8), groups={"block": "identity_plus", "depth": 1})
    assert model(torch.rand(1, 1, 16, 16)).shape == (1, 1, 16, 16)

    zoo.register_model("tiny", lambda in_channels=1: nn.Conv2d(in_channels, in_channels, 3, padding=1))
    assert zoo.create_model("tiny", in_channels=2).in_channels == 2
    with pytest.raises(zoo.ZooError, match="already provided.*override=True"):
        zoo.register_model("mwrcanet", lambda: nn.Identity())
    with pytest.raises(zoo.ZooError, match="nn.Module subclass"):
        zoo.register_block("bad", lambda channels: nn.Identity())


def test_unknown_option_lists_the_model_options():
    with pytest.raises(zoo.ZooError, match="no option 'width'.*in_channels, widths, depth"):
        zoo.create_model("mwrcanet", width=3)


def _run_cli(args, pythonpath):
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_lists_third_party_plugins_and_reports_broken_ones(tmp_path):
    from conftest import write_distribution

    site = write_distribution(tmp_path / "site")
    result = _run_cli(["list", "--json"], site)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["tinynet"]["status"] == "ok" and rows["tinynet"]["distribution"] == "zoo-extra"
    assert rows["tinynet"]["parameters"] > 0 and rows["tinynet"]["in_channels"] == 1
    assert rows["broken_import"]["status"].startswith("broken: ImportError")
    assert rows["not_callable"]["status"].startswith("broken: expected a callable")
    assert all(rows[name]["status"] == "ok" for name in BUILTIN_MODELS)
    assert "broken_import" in result.stderr  # a one-line warning, no traceback
    assert "Traceback" not in result.stderr

    blocks = _run_cli(["list", "--blocks"], site)
    assert blocks.returncode == 0
    assert "gated" in blocks.stdout and "zoo-extra" in blocks.stdout
    assert "'residual' is provided by 'zoo-denoise', 'zoo-extra'" in blocks.stderr

    broken = _run_cli(["info", "broken_import"], site)
    assert broken.returncode == 2
    assert broken.stderr.strip().splitlines()[-1].startswith("zoo: error: model 'broken_import' from 'zoo-extra'")
    assert "Traceback" not in broken.stderr
