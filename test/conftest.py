"""Shared set-up of the test suite: DDS traffic stays on this machine and in its own domain."""

from __future__ import annotations

import os
from pathlib import Path

# Isolate this run's DDS graph: localhost only, and a domain derived from the process id so that
# two test runs on one machine do not see each other's nodes. Set before rclpy is imported.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(10 + os.getpid() % 90))

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
