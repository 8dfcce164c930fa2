"""ness_ros: neuromorphic semantic segmentation for ROS 2.

The computing core (events, models, segmentation, data) never imports rclpy; the ROS
adapters live in :mod:`ness_ros.ros`.
"""

__version__ = "0.1.0"
