"""glibc malloc settings for processes that run a model on every frame.

A SegSNN pass allocates and frees tensors of 1-3 MB (a full-resolution spike plane, the padded
event tensor, the upsampled logits). glibc serves every block above ``M_MMAP_THRESHOLD`` with its
own ``mmap`` and gives it back on free, so the next pass takes a page fault for each of its 4 kB
pages on first touch: 400-1000 faults per pass, and the page-zeroing that comes with them,
measured on a 346 x 260 frame. glibc raises the threshold by itself after such frees, but frees
of blocks at the heap's top above ``M_TRIM_THRESHOLD`` return memory to the system all the same.
Fixing both thresholds keeps those blocks in the heap: about 15 faults per pass. Over four
alternating runs of 60 full-frame passes on one thread, the pass's p90 went from 29.6-38.5 ms
to 26.3-31.2 ms and its median from 26.5-30.0 to 21.9-27.8 ms. The cost is that up to
:data:`TRIM_THRESHOLD` of freed memory stays mapped.

Plain ctypes, no ROS: the nodes and the ``ness`` command line (evaluation, benchmarks) call
:func:`tune_malloc` before their threads start, so offline figures are measured the way the
nodes run.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

#: Blocks up to this size come from the heap and are reused, not mapped per allocation.
MMAP_THRESHOLD = 32 << 20
#: Free memory at the heap's top is returned to the system only beyond this.
TRIM_THRESHOLD = 128 << 20
#: malloc arenas. With an arena per DDS and Python thread, the RSS of a node under 10 M events/s
#: crept up by up to about 60 MB over 40-100 s before levelling off (fragmentation, not a leak);
#: capped at 2 it was flat after the first 10 s in most runs (``ness bench load``).
ARENAS = 2

#: The environment variables that override each setting (glibc reads them at start-up; a value
#: set there is left alone).
_SETTINGS = (
    ("MALLOC_ARENA_MAX", _M_ARENA_MAX, ARENAS),
    ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
    ("MALLOC_TRIM_THRESHOLD_", _M_TRIM_THRESHOLD, TRIM_THRESHOLD),
)


def tune_malloc() -> dict[str, bool]:
    """Apply :data:`ARENAS`, :data:`MMAP_THRESHOLD` and :data:`TRIM_THRESHOLD` with glibc's
    ``mallopt``, each unless its environment variable is set. Call before threads start.

    Returns:
        For each environment variable's setting, whether it was applied here (all False where
        the C library is not glibc).
    """
    applied = {name: False for name, _, _ in _SETTINGS}
    if not sys.platform.startswith("linux"):
        return applied
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return applied
    for name, parameter, value in _SETTINGS:
        if not os.environ.get(name):
            applied[name] = bool(mallopt(parameter, value))
    return applied
