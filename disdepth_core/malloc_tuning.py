"""Keep freed memory in the process so per-frame buffers are reused, not page-faulted in anew.

By default glibc serves large blocks (above a threshold that adapts up to 32 MB) with fresh
``mmap`` calls and returns freed heap tops to the kernel once they exceed twice that threshold.
A depth node allocates the same multi-megabyte arrays every frame (the upsampled depth image,
message buffers, PyTorch's intermediate activations), so each frame pays for thousands of page
faults, each zeroing a fresh 4 KB page. Real-time ROS 2 guidance is to stop that: fix the mmap
threshold at its maximum and never trim, so freed blocks go back to malloc's free lists and the
next frame gets the same, already mapped, memory.

Measured with the demo model on the 2-core CPU (``benchmarks/bench_malloc.py``): 3,467 minor page
faults per forward pass untuned, 0.1 tuned; the forward pass 8-18 % faster depending on the run
(a noisy virtual machine), and the node's time outside inference 5.6 -> 4.3 ms p50 in one
three-process run (docs/ros.md). The cost: the process keeps its peak heap instead of returning
it (the node's resident memory ~3 % higher).

Only glibc has these knobs (``mallopt``); elsewhere (musl, macOS, Windows) this is a no-op that
says so. ``DISDEPTH_MALLOC_TUNING=off`` turns it off. Torch-free, numpy-free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

SWITCH_VAR = "DISDEPTH_MALLOC_TUNING"
M_TRIM_THRESHOLD = -1  # glibc <malloc.h> parameter numbers
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit (HEAP_MAX_SIZE / 2): larger values are refused
TRIM_NEVER = 2**31 - 1  # mallopt takes an int; ~2 GB of free heap top before glibc would return any

_applied: str | None = None


def retain_freed_memory() -> str:
    """Apply the tuning once per process (later calls repeat the first answer); returns a one-line description."""
    global _applied
    if _applied is not None:
        return _applied
    if os.environ.get(SWITCH_VAR, "").strip().lower() in ("0", "off", "false", "no"):
        _applied = f"malloc tuning off ({SWITCH_VAR}={os.environ[SWITCH_VAR]})"
        return _applied
    libc_name, _version = platform.libc_ver()
    if libc_name != "glibc":
        _applied = f"malloc tuning not available here ({libc_name or platform.system()}: needs glibc's mallopt)"
        return _applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError) as err:
        _applied = f"malloc tuning not available here ({err})"
        return _applied
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success, 0 on error
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_NEVER) == 1
    _applied = ("malloc tuning on: blocks up to 32 MB reuse freed memory, heap never trimmed "
                f"(per-frame buffers stay mapped; {SWITCH_VAR}=off to disable)") if ok else "malloc tuning refused by glibc"
    return _applied
