"""Camera data in rosbag2 files (mcap or sqlite3) and evaluating the segmenters on them.

ROS-free: live replay into a ROS graph is :func:`ness_ros.ros.bag_replay.replay_bag`, with its
options and ROS-free parts in :mod:`ness_ros.bag.replay`.
"""

from ness_ros.bag.errors import BagError
from ness_ros.bag.offline import EvalOptions, evaluate_bag
from ness_ros.bag.reader import BagInfo, BagTopics, bag_info, read_messages, resolve_topics
from ness_ros.bag.record import (
    Frame,
    RecordOptions,
    RecordSummary,
    import_aedat4,
    record_sequence,
    write_recording,
)
from ness_ros.bag.report import BagReport, write_report
from ness_ros.bag.types import EVENT_MESSAGES, EVENT_TYPES, IMAGE_TYPE, typestore
from ness_ros.bag.writer import STORAGES, BagWriter

__all__ = [
    "EVENT_MESSAGES",
    "EVENT_TYPES",
    "IMAGE_TYPE",
    "STORAGES",
    "BagError",
    "BagInfo",
    "BagReport",
    "BagTopics",
    "BagWriter",
    "EvalOptions",
    "Frame",
    "RecordOptions",
    "RecordSummary",
    "bag_info",
    "evaluate_bag",
    "import_aedat4",
    "read_messages",
    "record_sequence",
    "resolve_topics",
    "typestore",
    "write_recording",
    "write_report",
]
