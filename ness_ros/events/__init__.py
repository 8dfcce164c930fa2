"""Events in and out: the event-batch type, codecs, ring buffer and representations.

ROS-free: nothing here imports rclpy.
"""

from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.events.errors import EventError

__all__ = ["EVENT_DTYPE", "EventBatch", "EventError"]
