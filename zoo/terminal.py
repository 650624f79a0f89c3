"""Text from files, made safe to print: a terminal obeys the control characters in what it is
sent, so a model card or an ONNX file's metadata holding ``ESC [ 2 J`` cleared the screen, and
one holding an OSC sequence could set the window title or a clipboard. :func:`printable` escapes
every control character (C0, DEL, C1) as Python would write it, so the text reads the same and
does nothing."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline
_CONTROL_AND_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\x{ord(char):02x}")


def printable(text: object, *, one_line: bool = False) -> str:
    """``str(text)`` with its control characters escaped (``\\x1b``); with ``one_line``, newlines
    and tabs too (an error message is one line, whatever a file name holds)."""
    return (_CONTROL_AND_NEWLINE if one_line else _CONTROL).sub(_escape, str(text))
