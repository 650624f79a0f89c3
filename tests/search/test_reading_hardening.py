"""Issue 28, a search space file that is special, binary or recursive is one line (zoo.search.space
reads through zoo.reading)."""

from __future__ import annotations

import os

import pytest

from zoo.errors import ZooError
from hardening import within


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
