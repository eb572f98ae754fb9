"""Keep freed memory in the process: a CLI-only setting that makes CPU inference on photos about 1.7x as fast.

glibc hands every large freed block back to the operating system at once, so each batch of photos faults its
activations back in page by page; on these machines that kernel time was as large as the convolutions
themselves (``benchmarks/photo_speed.py``: 17.7 against 10.6 ms per photo). Raising the mmap and trim
thresholds keeps the blocks for the next batch. A library must not change its host's allocator, so only the
command-line entry points call this.
"""
from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD_MAX = 32 << 20  # bytes; glibc's ceiling on 64-bit
_KEEP = 1 << 30  # bytes of free heap kept before trimming


def keep_freed_memory() -> bool:
    """Ask glibc to keep large freed blocks; ``True`` if it took the settings, ``False`` on another C library."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    settings = ((_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX), (_M_TRIM_THRESHOLD, _KEEP), (_M_TOP_PAD, _KEEP // 4))
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)
