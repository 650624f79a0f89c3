"""Files zoo wrote and reads back (issue 26): one reader, zoo.reading.read_json_object, and one
policy for a damaged file: a one-line DamagedFile naming it, which stops the command unless the
file only records what zoo can make again; then a warning, and it is made again."""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from zoo.errors import DamagedFile, ZooError
from zoo.reading import read_json_object
from zoo.runlock import LOCK_NAME, run_lock, waiting_lock
from zoo.train.resume import saved_settings
from zoo.train.runfolder import RunFolder

DAMAGED = {
    "not JSON": (b"{not json", "is not valid JSON"),
    "truncated": (b'{"steps": 12, "lr": 0.0', "is not valid JSON"),
    "empty": (b"", "is not valid JSON"),
    "a list": (b"[1, 2]", "must hold a table (object), not a list"),
    "not UTF-8": (b"\xff\xfe{}", "is not UTF-8 text"),
    "too deep": (b"[" * 100 + b"]" * 100, "nests 100 levels deep"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_file_is_one_line_naming_it(tmp_path, case):
    content, fault = DAMAGED[case]
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(DamagedFile) as caught:
        read_json_object(path, "the run's settings", missing_ok=True, advice="repair it")
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and fault in message and message.endswith("; repair it")
    assert isinstance(caught.value, ZooError)  # the CLI prints it as one line, exit 2


def test_a_folder_or_a_fifo_in_its_place_is_damaged_and_never_blocks(tmp_path):
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(DamagedFile, match="it is a folder"):
        read_json_object(tmp_path / "folder.json", "the record")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.json")
        with pytest.raises(DamagedFile, match="FIFO"):
            read_json_object(tmp_path / "fifo.json", "the record", missing_ok=True)


def test_a_file_above_the_size_limit_is_damaged(tmp_path, monkeypatch):
    (tmp_path / "big.json").write_text(json.dumps({"x": "y" * 200}))
    monkeypatch.setenv("ZOO_MAX_JSON_BYTES", "100")
    with pytest.raises(DamagedFile, match="above the limit of 100"):
        read_json_object(tmp_path / "big.json", "the record")


def test_missing_is_none_only_when_that_is_fine(tmp_path):
    assert read_json_object(tmp_path / "none.json", "the record", missing_ok=True) is None
    with pytest.raises(ZooError, match="no such file") as caught:
        read_json_object(tmp_path / "none.json", "the record")
    assert not isinstance(caught.value, DamagedFile)


def test_what_zoo_writes_reads_back_whole_non_finite_scores_too(tmp_path):
    written = {"psnr": math.inf, "ssim": math.nan, "curve": [[1, 30.5]], "name": "x"}
    (tmp_path / "r.json").write_text(json.dumps(written))  # json.dumps writes Infinity and NaN
    read = read_json_object(tmp_path / "r.json", "the record")
    assert read["psnr"] == math.inf and math.isnan(read["ssim"]) and read["curve"] == [[1, 30.5]]


# --- each file's callers --------------------------------------------------------------------------

def test_a_runs_damaged_settings_stop_resuming_in_one_line(tmp_path):
    RunFolder(tmp_path).config.write_text('{"model": "mwrcanet", ')
    for read in (lambda: saved_settings(tmp_path), RunFolder(tmp_path).read_settings):
        with pytest.raises(DamagedFile, match=r"config\.json is not valid JSON .*; repair it, or use another --out"):
            read()
    assert saved_settings(tmp_path / "none") is None and RunFolder(tmp_path / "none").read_settings() == {}


def test_a_damaged_validation_record_is_a_warning_and_no_line_on_the_curves(tmp_path):
    run = RunFolder(tmp_path)
    run.validation.write_text("{")
    with pytest.warns(RuntimeWarning, match=r"validation\.json is not valid JSON.*next validation writes it again"):
        assert run.read_validation() == {}
    run.write_validation({"val": "synthval", "noisy_psnr": 30.0})
    assert run.read_validation()["noisy_psnr"] == 30.0


@pytest.mark.skipif(sys.platform == "win32", reason="run folders are locked with flock")
def test_a_damaged_lock_note_still_refuses_in_one_line(tmp_path):
    import fcntl

    (tmp_path / LOCK_NAME).write_bytes(b"\xff not a note")
    with open(tmp_path / LOCK_NAME, "rb") as other:  # another open file: its lock conflicts, as another process's
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ZooError) as caught:
            with run_lock(tmp_path, "zoo train"):
                pass
    assert str(caught.value) == (f"{tmp_path} is in use by another zoo process: wait for it to finish, "
                                 "or use another folder")


@pytest.mark.skipif(sys.platform == "win32", reason="folders are locked with flock")
def test_a_waiting_lock_waits_its_turn(tmp_path):
    order: list[str] = []

    def second() -> None:
        with waiting_lock(tmp_path / "sub" / ".lock"):
            order.append("second")

    with waiting_lock(tmp_path / "sub" / ".lock"):  # makes its folder
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]


def test_without_flock_nothing_is_locked_and_only_the_lock_modules_ask_for_it(tmp_path, monkeypatch):
    import zoo.runlock

    monkeypatch.setattr(zoo.runlock, "fcntl", None)  # Windows
    with waiting_lock(tmp_path / ".lock"), waiting_lock(tmp_path / ".lock"), run_lock(tmp_path):
        pass  # no waiting, no refusal
    root = Path(__file__).resolve().parents[2]
    asking = sorted(str(path.relative_to(root)) for folder in ("zoo", "export", "plugins")
                    for path in (root / folder).rglob("*.py") if "import fcntl" in path.read_text())
    assert asking == ["zoo/fileio.py", "zoo/runlock.py"]  # each guarded: zoo search imported it bare


TINY = {"widths": [4, 4, 4], "act": "relu", "groups": {"block": "residual", "depth": 1, "tail": False}}


def test_a_damaged_candidate_result_is_trained_again_with_a_warning(tmp_path):
    """It failed that genome's trial each time the search drew it; now the candidate resumes
    from its checkpoint and writes its result again."""
    from zoo.search.candidate import RESULT, Proxy, train_candidate

    proxy = Proxy(steps=2, batch=2, patch=32, validations=1)
    first = train_candidate(tmp_path, TINY, proxy, None)
    assert not first.reused and train_candidate(tmp_path, TINY, proxy, None).reused
    written = json.loads((tmp_path / RESULT).read_text())
    for content, fault in [("garbage", "is not valid JSON"), ("[]", "must hold a table"),
                           (json.dumps({**written, "psnr": "high"}), "holds values of the wrong kind"),
                           (json.dumps({"psnr": 30.0}), "is not a result zoo search writes")]:
        (tmp_path / RESULT).write_text(content)
        with pytest.warns(RuntimeWarning, match=f"{RESULT} {fault}.*; training the candidate again"):
            again = train_candidate(tmp_path, TINY, proxy, None)
        assert not again.reused and again.resumed_from == proxy.steps and again.psnr == first.psnr
        assert json.loads((tmp_path / RESULT).read_text())["psnr"] == first.psnr
    assert train_candidate(tmp_path, TINY, proxy, None).reused
