"""Writing already-serialized messages (CDR bytes from the project's codecs) into a rosbag2.

The rosbags writer produces a standard rosbag2 folder: the storage file (``.mcap`` or ``.db3``)
and ``metadata.yaml`` (version 9), with each topic's message definition and RIHS01 type hash, so
``ros2 bag info`` and ``ros2 bag play`` of a ROS install read it. Topics are offered with the
sensor-data QoS (best effort, keep last 5), as camera drivers publish. ``custom_data`` always
holds one key (``ness_ros``): rosbags writes an empty map as ``null``, which a map-typed reader
may refuse. ROS-free.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

from ness_ros.bag.errors import BagError
from ness_ros.bag.types import typestore

#: Storage names as ``ros2 bag`` spells them.
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}

_UNSET = QosTime(0, 0)
SENSOR_QOS = Qos(QosHistory.KEEP_LAST, 5, QosReliability.BEST_EFFORT, QosDurability.VOLATILE,
                 _UNSET, _UNSET, QosLiveliness.AUTOMATIC, _UNSET, False)


class BagWriter:
    """A rosbag2 being written (a context manager; an exception aborts the bag).

    Args:
        path: the bag folder to create (must not exist).
        storage: ``mcap`` or ``sqlite3``.
    """

    def __init__(self, path: str | Path, *, storage: str = "mcap") -> None:
        if storage not in STORAGES:
            raise BagError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        self.storage = storage
        try:
            self._writer = Writer(self.path, version=9, storage_plugin=STORAGES[storage])
        except WriterError as exc:
            raise BagError(str(exc)) from exc
        self._writer.set_custom_data("ness_ros", "written by ness bag")  # not null: see below
        self._connections: dict[str, object] = {}
        self.counts: Counter[str] = Counter()
        self.bytes = 0

    def __enter__(self) -> BagWriter:
        try:
            self._writer.open()
        except WriterError as exc:
            raise BagError(str(exc)) from exc
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self._writer.close()
        else:
            self._writer.abort()

    def set_custom_data(self, key: str, value: str) -> None:
        """A ``custom_data`` entry of metadata.yaml (e.g. where the data came from)."""
        self._writer.set_custom_data(key, value)

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare ``topic`` with ROS 2 type ``msgtype`` (e.g. ``sensor_msgs/msg/Image``)."""
        if topic in self._connections:
            raise BagError(f"topic {topic} is declared twice")
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=typestore(), offered_qos_profiles=[SENSOR_QOS])

    def write(self, topic: str, time_ns: int, data: bytes) -> None:
        """Append one serialized message received at ``time_ns`` (int ns since the epoch)."""
        try:
            connection = self._connections[topic]
        except KeyError:
            raise BagError(f"topic {topic} was not declared with add_topic") from None
        self._writer.write(connection, int(time_ns), data)
        self.counts[topic] += 1
        self.bytes += len(data)
