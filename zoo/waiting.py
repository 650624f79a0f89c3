"""Worker threads that sleep while they wait, so that a busy machine slows zoo in proportion.

OpenMP runtimes (PyTorch's libgomp, Intel's libiomp) and onnxruntime's own pool keep their idle
threads spinning for a while after each parallel region, to start the next one sooner. On a quiet
machine that saves microseconds; beside another busy process the spinning threads take the cores
from the ones doing the work, and a network ran 7x slower on 2 threads than on a quiet machine
(2416 ms against 332 ms measured here, mwrcanet-srgb-demo at 256x256, under two training runs;
``benchmarks/under_load.py`` measures it side by side).

zoo therefore asks for passive waiting unless the user chose otherwise: ``OMP_WAIT_POLICY=PASSIVE``
(and ``KMP_BLOCKTIME=0`` for Intel's runtime) before PyTorch starts its OpenMP runtime, and no
spinning in onnxruntime sessions. Setting either variable yourself keeps your choice.

Sleeping threads are not enough on their own: a parallel region waits for its slowest thread, and
a thread whose core another process holds waits for the scheduler's next slice (milliseconds,
for an element-wise operation of microseconds). So where the user gives no ``--threads``, zoo
takes as many threads as there are cores that other processes leave idle (:func:`threads_for_load`,
sampled from ``/proc/stat`` over a tenth of a second), at least one; niced processes count as
idle where the scheduler makes them give way (autogroup off). Measured side by side
(``benchmarks/under_load.py``), beside two busy processes on 2 Intel Xeon cores, this keeps 0.44-0.59
of the quiet throughput where two sleeping threads kept 0.33-0.44.
"""

from __future__ import annotations

import os
import sys
import time

from zoo.limits import cores

DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
ORT_SPINNING = ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning")


def prefer_passive_waiting() -> bool:
    """Set the OpenMP wait policy's defaults; False when PyTorch is imported already (its runtime
    read the environment then, and the caller's choice stands)."""
    if "torch" in sys.modules:
        return False
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    return True


def no_spinning(options: object) -> None:
    """Tell an onnxruntime ``SessionOptions`` that its pools must not spin while waiting."""
    for key in ORT_SPINNING:
        options.add_session_config_entry(key, "0")  # type: ignore[attr-defined]


def _niced_processes_yield() -> bool:
    """Whether processes of a higher nice value give their core to ours: with the kernel's autogroup
    scheduling off, a nice-15 process gets about 3% of a core beside a nice-0 one; with it on (many
    desktops), processes of other sessions share alike whatever their nice value."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as setting:
            autogroup = setting.read().strip() != "0"
    except OSError:
        autogroup = False  # a kernel built without it
    return not autogroup and os.nice(0) <= 0


def parse_stat(text: str, niced_yield: bool) -> dict[int, tuple[int, int]]:
    """``{cpu: (free, total)}`` jiffies from the text of ``/proc/stat``: free is idle and iowait, and
    the time of niced processes where they yield to ours (``niced_yield``)."""
    times = {}
    for line in text.splitlines():
        name, *fields = line.split() or [""]
        if name.startswith("cpu") and name[3:].isdigit() and len(fields) >= 5:
            user, nice, system, idle, iowait, *rest = (int(v) for v in fields[:8])
            free = idle + iowait + (nice if niced_yield else 0)
            times[int(name[3:])] = (free, user + nice + system + idle + iowait + sum(rest))
    return times


def _cpu_times() -> dict[int, tuple[int, int]]:
    """This machine's :func:`parse_stat`; empty where ``/proc/stat`` cannot be read."""
    try:
        with open("/proc/stat") as stat:
            return parse_stat(stat.read(), _niced_processes_yield())
    except (OSError, ValueError):
        return {}


def busy_cores(sample: float = 0.1) -> float | None:
    """How many of the cores this process may use were busy over the next ``sample`` seconds
    (other processes' work: call it before zoo starts its own); None where it cannot be read."""
    try:
        mine = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None
    before = _cpu_times()
    time.sleep(sample)
    after = _cpu_times()
    busy = 0.0
    for cpu in mine:
        if cpu not in before or cpu not in after:
            return None
        free, total = (a - b for a, b in zip(after[cpu], before[cpu]))
        busy += 1.0 - free / total if total > 0 else 0.0
    return busy


def threads_for_load(sample: float = 0.1) -> tuple[int, str | None]:
    """The thread count for a run that starts now: the cores other processes leave idle, at least
    one, and a note saying so when that is fewer than all (None when every core is free)."""
    available = cores()
    busy = busy_cores(sample)
    if busy is None:
        return available, None
    threads = max(1, min(available, round(available - busy)))
    if threads == available:
        return threads, None
    return threads, (f"{threads} of {available} threads: other processes keep {busy:.1f} cores busy "
                     "(--threads sets the count)")
