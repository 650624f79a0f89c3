"""Issue 28, output: text from files reaches the terminal with its control characters escaped
(zoo.terminal.printable)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zoo.terminal import printable


@given(st.text())
def test_printable_leaves_no_control_character(text):
    for one in (True, False):
        shown = printable(text, one_line=one)
        allowed = "" if one else "\n\t"
        assert not any((ord(c) < 32 or 127 <= ord(c) < 160) and c not in allowed for c in shown)
    assert printable("plain text, ünïcode") == "plain text, ünïcode"
