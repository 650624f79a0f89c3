"""Issue 28, a search space file that is special, binary or recursive is one line (zoo.search.space
reads through zoo.reading)."""

from __future__ import annotations

import os
import threading

import pytest

from zoo.errors import ZooError


def within(seconds: float, call):
    """``call()`` in a thread; fails (instead of hanging the suite) if it takes longer."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)
    return path


def test_a_search_space_that_is_special_binary_or_recursive_is_one_line(tmp_path, fifo):
    pytest.importorskip("optuna")
    from zoo.search.space import load_space

    binary = tmp_path / "binary.toml"
    binary.write_bytes(os.urandom(64) + b"\xff")
    recursive = tmp_path / "recursive.toml"
    recursive.write_text("widths = " + "[" * 5000 + "]" * 5000)
    for path, expected in ((fifo, "not a regular file"), ("/dev/urandom", "not a regular file"),
                           (binary, "not UTF-8 text"), (recursive, "nested too deeply")):
        with pytest.raises(ZooError) as caught:
            within(10, lambda path=path: load_space(path))
        assert expected in str(caught.value) and "\n" not in str(caught.value)
