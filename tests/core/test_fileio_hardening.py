"""Issue 17, writes: nothing is replaced but a regular file (or a link), stale temporary files of
zoo's naming are swept, and a full disk is one line.

Devices, FIFOs and sockets are made under the test's own folder: no system file is touched.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.errors import WriteError, ZooError
from zoo.fileio import atomic_path, check_replaceable

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"widths": (8, 8, 8), "depth": 1}


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.csv"
    os.mkfifo(path)
    return path


def _socket(folder: Path) -> Path:
    path = folder / "sock.csv"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


def _char_device(folder: Path) -> Path:
    """A node with /dev/null's numbers, in the test's folder (root only)."""
    path = folder / "null.safetensors"
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return path


MAKERS = {"fifo": (_fifo, stat.S_ISFIFO), "socket": (_socket, stat.S_ISSOCK), "device": (_char_device, stat.S_ISCHR)}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_atomic_path_refuses_what_is_not_a_regular_file(tmp_path, kind):
    make, is_kind = MAKERS[kind]
    node = make(tmp_path)
    with pytest.raises(WriteError, match="not a regular file") as caught:
        with atomic_path(node) as tmp:
            tmp.write_text("replaced")
    assert "\n" not in str(caught.value) and str(node) in str(caught.value)
    assert is_kind(os.lstat(node).st_mode)  # still what it was
    assert sorted(p.name for p in tmp_path.iterdir()) == [node.name]  # and no temporary file made


def test_atomic_path_refuses_a_folder_and_replaces_a_link_not_its_target(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(WriteError, match="it is a folder"):
        with atomic_path(tmp_path / "dir"):
            pass
    fifo = _fifo(tmp_path)
    link = tmp_path / "link.csv"
    link.symlink_to(fifo)
    with atomic_path(link) as tmp:
        tmp.write_text("new")
    assert link.is_file() and not link.is_symlink() and link.read_text() == "new"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # the link's target is untouched


def test_a_refused_target_is_decided_from_lstat_only():
    # /dev/null is only looked at, never written: the decision alone is checked.
    if not stat.S_ISCHR(os.lstat("/dev/null").st_mode):
        pytest.skip("no /dev/null device here")
    with pytest.raises(WriteError, match="character device"):
        check_replaceable("/dev/null")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_save_and_write_image_refuse_a_device_or_fifo(tmp_path, kind):
    make, is_kind = MAKERS[kind]
    node = make(tmp_path)
    with pytest.raises(ZooError, match="not a regular file"):
        zoo.save(zoo.create_model("mwresnet", **SMALL), node)
    from zoo.imageio import Image, write_image

    image_node = node.with_suffix(".npy")
    node.rename(image_node)
    with pytest.raises(ZooError, match="not a regular file"):
        write_image(image_node, np.zeros((4, 4), np.float32), Image(np.zeros((4, 4), np.float32), "npy", 32, "float32"))
    assert is_kind(os.lstat(image_node).st_mode)


# --- temporary files stranded by a kill -------------------------------------------------------------

_WRITER = textwrap.dedent("""
    import os, signal, sys, time
    from zoo.fileio import atomic_path
    with atomic_path(sys.argv[1]) as tmp:
        tmp.write_bytes(b"half of a file")
        print(tmp.name, flush=True)
        if sys.argv[2] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)
""")


def _writer(target: Path, mode: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", _WRITER, str(target), mode], stdout=subprocess.PIPE, text=True,
                               cwd=ROOT)
    name = process.stdout.readline().strip()
    assert name, "the writer did not start"
    return process, name


def test_a_killed_writers_temporary_file_is_swept_by_the_next_write_to_the_folder(tmp_path):
    folder = tmp_path / "out"
    process, name = _writer(folder / "a.png", "kill")
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL and (folder / name).exists()  # stranded, as the issue saw
    legacy = folder / ".b.tif.abcd1234.tmp"  # an earlier version's naming, for the target written next
    legacy.write_bytes(b"old")
    unrelated = folder / ".notes.abcd1234.tmp"  # someone else's: not of zoo's naming for this target
    unrelated.write_bytes(b"keep")

    with atomic_path(folder / "b.tif") as tmp:
        tmp.write_bytes(b"whole")
    assert sorted(p.name for p in folder.iterdir()) == [".notes.abcd1234.tmp", "b.tif"]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    process, name = _writer(tmp_path / "last.pt", "sleep")
    try:
        odd = tmp_path / ".x.zoo-abcdefgh.tmp"  # a FIFO with a temporary file's name: no hang, kept
        os.mkfifo(odd)
        with atomic_path(tmp_path / "log.csv") as tmp:
            tmp.write_text("step\n")
        assert (tmp_path / name).read_bytes() == b"half of a file"
        assert odd.exists()
    finally:
        process.kill()
        process.wait()


# --- a full disk ----------------------------------------------------------------------------------

_FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then writes past the limit fail with EFBIG
    import zoo
    from zoo.cli import main
    model = zoo.create_model("mwresnet", widths=(16, 16, 16), depth=1)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        zoo.save(model, sys.argv[1])
    except zoo.ZooError as exc:
        print("ZooError:", exc)
""")


def test_a_full_disk_while_saving_is_one_line_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "w.safetensors"
    target.write_bytes(b"the old weights")
    result = subprocess.run([sys.executable, "-c", _FULL_DISK, str(target)], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ZooError: cannot write {target}: ") and "too large" in result.stdout
    assert target.read_bytes() == b"the old weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


def test_write_error_is_an_oserror_for_callers_that_handle_those(tmp_path):
    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as caught:
        with atomic_path(tmp_path / "x.json"):
            fail()
    assert isinstance(caught.value, ZooError) and caught.value.errno == 28
    assert str(caught.value) == f"cannot write {tmp_path / 'x.json'}: No space left on device"


def test_storage_errors_of_other_libraries_are_one_line(tmp_path):
    class SafetensorLike(Exception):
        pass

    with pytest.raises(WriteError, match="File too large"):
        with atomic_path(tmp_path / "x.safetensors"):
            raise SafetensorLike("Error while serializing: I/O error: File too large (os error 27)")
    with pytest.raises(KeyError):  # not the storage's fault: raised as it is
        with atomic_path(tmp_path / "y.json"):
            raise KeyError("a bug")
    assert not list(tmp_path.iterdir())


def test_sweeping_is_quick_on_a_folder_written_many_times(tmp_path):
    start = time.perf_counter()
    for i in range(200):
        with atomic_path(tmp_path / f"{i}.txt") as tmp:
            tmp.write_text("x")
    assert time.perf_counter() - start < 20
