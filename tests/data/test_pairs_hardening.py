"""Issue 28, special files in ``pairs:DIR``: an image name that is a FIFO, a device, a folder or
a broken link is a one-line error naming it, never skipped (``zoo eval`` scored the rest and
exited 0) nor opened (a FIFO blocks the read)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch import nn

import zoo
from zoo import registry
from zoo.cli import main
from zoo.data.folders import load_folder_pairs
from zoo.errors import ZooError


def write_png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.random.default_rng(seed).random((16, 16, 3)) * 255).astype(np.uint8)).save(path)


def pair_folder(root: Path) -> Path:
    for i, name in enumerate(("a.png", "b.png")):
        write_png(root / "noisy" / name, i)
        write_png(root / "gt" / name, 10 + i)
    return root


def fifo(path: Path) -> None:
    os.mkfifo(path)


def device(path: Path) -> None:
    path.symlink_to("/dev/zero")


def folder(path: Path) -> None:
    path.mkdir()


def broken_link(path: Path) -> None:
    path.symlink_to(path.parent / "missing.png")


SPECIALS: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (fifo, "it is a FIFO (named pipe)"),
    "device": (device, "it is a character device"),
    "folder": (folder, "it is a folder"),
    "broken_link": (broken_link, "No such file or directory"),
}


@contextlib.contextmanager
def no_hang(seconds: int = 20) -> Iterator[None]:
    """A test that would block on a FIFO fails instead of hanging the run."""
    def stop(signum, frame):
        raise TimeoutError("blocked: a special file was opened")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def identity():
    zoo.register_model("pairs_identity", lambda in_channels=3: nn.Conv2d(in_channels, in_channels, 1))
    yield "pairs_identity"
    registry.MODELS.unregister("pairs_identity")


@pytest.mark.parametrize("kind", sorted(SPECIALS))
@pytest.mark.parametrize("side", ["noisy", "gt"])
def test_a_special_pair_file_is_named_when_listed(tmp_path, kind, side):
    root = pair_folder(tmp_path / "pairs")
    make, reason = SPECIALS[kind]
    other = "gt" if side == "noisy" else "noisy"
    make(root / side / "c.png")
    write_png(root / other / "c.png", 5)  # its partner is there: nothing unmatched to point at it
    with no_hang(), pytest.raises(ZooError) as refused:
        load_folder_pairs(root)
    assert f"cannot read image pair file {root / side / 'c.png'}: {reason}" in str(refused.value)


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_zoo_eval_with_a_fifo_pair_exits_non_zero(tmp_path, capsys, identity, json_flag):
    root = pair_folder(tmp_path / "pairs")
    fifo(root / "noisy" / "c.png")
    fifo(root / "gt" / "c.png")
    with no_hang():
        code = main(["eval", identity, "--data", f"pairs:{root}", "--engine", "torch", *json_flag])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    line = captured.err.strip().splitlines()[-1]
    assert line.startswith("zoo: error: cannot read image pair file ") and "c.png: it is a FIFO" in line
    if json_flag:
        assert '"error": "cannot read image pair file' in captured.out


def test_a_pair_replaced_by_a_fifo_after_listing_is_not_opened(tmp_path):
    root = pair_folder(tmp_path / "pairs")
    pairs = load_folder_pairs(root)
    (root / "gt" / "b.png").unlink()
    fifo(root / "gt" / "b.png")
    assert pairs[0].name == "a"
    with no_hang(), pytest.raises(ZooError, match=r"b\.png: it is a FIFO"):
        pairs[1]
