"""Shared set-up of the test suite: DDS traffic stays on this machine and in its own domain;
the ``one_torch_thread`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from ness_ros.domain import isolate_this_process

# Isolate this run's DDS graph: localhost only, and a domain no other participant on this host
# uses (ROS_DOMAIN_ID when set), so that two test runs on one machine do not see each other's
# nodes; the nodes the tests start inherit it. Set before rclpy is imported.
isolate_this_process()

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def one_torch_thread():
    """One torch thread during the test, the old setting back after: on a shared 2-core machine,
    two OpenMP threads that wait on each other make small tensors 20x slower. A module takes it
    with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
