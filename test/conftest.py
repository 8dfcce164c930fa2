"""Shared set-up of the test suite: DDS traffic stays on this machine and in its own domain."""

from __future__ import annotations

from pathlib import Path

from ness_ros.domain import isolate_this_process

# Isolate this run's DDS graph: localhost only, and a domain no other participant on this host
# uses (ROS_DOMAIN_ID when set), so that two test runs on one machine do not see each other's
# nodes; the nodes the tests start inherit it. Set before rclpy is imported.
isolate_this_process()

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
