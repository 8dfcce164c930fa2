"""tune_malloc keeps per-frame tensors in the heap: allocating a pass's 3 MB blocks again after
freeing them costs no page faults, where glibc's defaults give the memory back and fault it in
afresh each time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = """
import json, resource, sys
from ness_ros.malloc_tuning import tune_malloc
applied = tune_malloc() if sys.argv[1] == "tuned" else {}
import numpy as np
block = 3 << 20  # a full-resolution spike plane of a SegSNN pass, as float32
def one_pass():  # a pass holds several such blocks at once, then frees them all
    held = [np.ones(block, np.uint8) for _ in range(3)]
    del held
for _ in range(3):
    one_pass()  # the heap grows, and glibc settles its dynamic threshold
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    one_pass()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"faults_per_cycle": faults / 20, "applied": applied}))
"""


def _probe(mode: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], env=env, check=True,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
def test_tuned_malloc_reuses_large_blocks_without_page_faults():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    default = _probe("default", env)
    tuned = _probe("tuned", env)
    pages = 3 * (3 << 20) // 4096
    # The control shows the probe can tell: with glibc's defaults the blocks are mapped afresh.
    assert default["faults_per_cycle"] > pages / 2, default
    assert tuned["faults_per_cycle"] < pages / 20, tuned
    assert all(tuned["applied"].values()), tuned


def test_environment_settings_are_left_alone():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["MALLOC_TRIM_THRESHOLD_"] = str(1 << 20)
    applied = _probe("tuned", env)["applied"]
    assert applied["MALLOC_TRIM_THRESHOLD_"] is False
    assert applied["MALLOC_MMAP_THRESHOLD_"] is True
