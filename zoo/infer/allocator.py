"""Keep glibc malloc from returning large tensors to the OS after every use.

glibc serves each allocation above its mmap threshold (at most 32 MiB) with a fresh mmap and
unmaps it on free, so every large activation (100 MiB per layer for a 1024x1024 input to the
wavelet networks) is page-faulted in anew. Measured here, that made the full-size mwrcanet 33%
slower per megapixel at 1024x1024 than at 256x256, and 9% slower even at 256x256. Serving
everything from the heap, and keeping freed memory for reuse, removes it: the same effect as
running under jemalloc or tcmalloc, which PyTorch's CPU performance guides recommend.

This is process-wide and done once, by the first CPU runner. The cost: memory freed by the
process stays mapped (resident only once it is used again). Set ``ZOO_MALLOC_TUNING=0`` to
leave malloc alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's <malloc.h>
_M_MMAP_MAX = -4


@functools.cache
def keep_freed_memory() -> bool:
    """Apply the tuning once (glibc only); True when it is in effect."""
    if os.environ.get("ZOO_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    # mallopt returns 1 on success. No mmap for any size; never trim the heap top.
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
