"""Shared fixtures: a throw-away third-party plugin distribution with real entry-point metadata, and a
named pipe where a file is expected."""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from zoo import registry

EXTRA_MODULE = '''
"""A third-party plugin package, as a user would write one."""
import torch
from torch import nn

import zoo


class GatedBlock(nn.Module):
    """x + conv(x) * sigmoid(gate(x)): a block zoo has never heard of."""

    def __init__(self, channels, kernel_size=3):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.gate = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        return x + self.conv(x) * torch.sigmoid(self.gate(x))


class ResidualImpostor(GatedBlock):
    """Claims the built-in name 'residual'."""


def tinynet(in_channels=1, widths=(8, 8, 8), depth=1):
    """A model built from the generic skeleton with this package's block."""
    return zoo.create_model("mwnet", in_channels=in_channels, widths=widths, act="relu",
                            groups={"block": "gated", "depth": depth})


NOT_A_FACTORY = 42
'''

BROKEN_MODULE = 'raise ImportError("zoo_extra_broken needs a library that is not installed")\n'

ENTRY_POINTS = """
[zoo.blocks]
gated = zoo_extra:GatedBlock
residual = zoo_extra:ResidualImpostor
not_a_block = zoo_extra:tinynet

[zoo.models]
tinynet = zoo_extra:tinynet
broken_import = zoo_extra_broken:factory
not_callable = zoo_extra:NOT_A_FACTORY
"""


def write_fake_distribution(root: Path, name: str, modules: dict[str, str], entry_points: str) -> Path:
    """Write the modules and a dist-info of distribution ``name`` (version 0.1) declaring
    ``entry_points`` into ``root``: a plugin package as pip would install it."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    return root


def write_distribution(root: Path) -> Path:
    """Write package ``zoo_extra`` (distribution ``zoo-extra``) with its dist-info into ``root``."""
    return write_fake_distribution(root, "zoo-extra", {"zoo_extra": textwrap.dedent(EXTRA_MODULE),
                                                       "zoo_extra_broken": BROKEN_MODULE}, ENTRY_POINTS)


@contextlib.contextmanager
def installed(site: Path, modules: Iterable[str]) -> Iterator[Path]:
    """``site`` on sys.path (its entry points found) for the block; its ``modules`` forgotten after."""
    sys.path.insert(0, str(site))
    registry.refresh()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for module in modules:
            sys.modules.pop(module, None)
        registry.refresh()


@pytest.fixture
def third_party(tmp_path: Path):
    """Put the throw-away distribution on sys.path for this test; yield its folder."""
    with installed(write_distribution(tmp_path / "site"), ("zoo_extra", "zoo_extra_broken")) as root:
        yield root


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Each test starts from the installed entry points only (no leftover in-process names)."""
    registry.refresh()
    yield
    registry.refresh()


@pytest.fixture(autouse=True)
def _first_engine_for_auto(monkeypatch):
    """`--engine auto` measures the engines on a CPU, so what runs would depend on the moment (and
    export every model). In tests it takes the first candidate instead (torch for `zoo denoise`,
    onnxruntime for `zoo ort`: what ran before issue 19); tests/export/test_openvino_engines.py measures."""
    from zoo.export import engines

    def first(builders, identity, **_):
        name = next(iter(builders))
        return engines.EngineChoice(name, builders[name](), "auto: the first candidate (tests do not measure)")

    monkeypatch.setattr(engines, "fastest", first)


@pytest.fixture
def fifo(tmp_path):
    """A named pipe where a file is expected: reading it would block forever."""
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)
    return path
