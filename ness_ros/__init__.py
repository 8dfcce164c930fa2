"""ness_ros: neuromorphic semantic segmentation for ROS 2.

The computing core (events, models, segmentation, data) never imports rclpy; the ROS
adapters live in :mod:`ness_ros.ros`.
"""

import os

__version__ = "0.1.0"

# OpenMP threads that spin while waiting steal the CPU from the other processes of a ROS graph
# (camera, nodes, evaluator) on a small machine: with the default policy two torch threads ran a
# model 7x slower on a busy 2-core machine than with PASSIVE. It must be set before torch is
# imported; every ness_ros entry point imports this package first. A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
