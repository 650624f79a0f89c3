"""What the hardening tests of every room check the same way: a CLI mistake is one line with
status 2, a call that might hang is bounded, a refusal is one ZooError line."""

from __future__ import annotations

import threading
import time

import pytest

from zoo.cli import main
from zoo.errors import ZooError


def one_line(capsys, argv: list[str], seconds: float = 60) -> str:
    """Run ``zoo argv``: exit 2 within ``seconds``, one line on stderr, no traceback."""
    start = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - start < seconds
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("zoo") and ": error: " in line
    return line


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


def refusal(call, *args) -> str:
    """The one-line :class:`ZooError` message ``call(*args)`` raises."""
    with pytest.raises(ZooError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message
