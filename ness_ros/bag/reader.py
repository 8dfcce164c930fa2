"""Reading rosbag2 folders (mcap or sqlite3) directly with rosbags: no DDS, no ROS install.

Messages come out as the raw CDR bytes in receive-time order, to be decoded by the project's
codecs or published as they are. :func:`resolve_topics` finds the camera topics the evaluation
needs and tells EventArray from EventPacket by the topic's type. ROS-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.rosbag2 import Reader
from rosbags.rosbag2.errors import ReaderError

from ness_ros.bag.errors import BagError
from ness_ros.bag.types import EVENT_MESSAGES, IMAGE_TYPE
from ness_ros.graph import DEFAULT_TOPICS


@dataclass
class BagInfo:
    """What is in a bag: topics ``{name: (type, message count)}``, receive-time span (int ns)."""

    path: Path
    storage: str
    topics: dict[str, tuple[str, int]]
    start_ns: int
    end_ns: int
    message_count: int

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9


@dataclass
class BagTopics:
    """The camera topics of a bag (None where absent) and the event message kind.

    Attributes:
        image, events, labels: topic names.
        event_message: ``dvs`` or ``packet`` (the nodes' ``event_message`` parameter), or None.
        counts: message count per topic found.
    """

    image: str | None
    events: str | None
    labels: str | None
    event_message: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def names(self) -> list[str]:
        """The topics found, in image, events, labels order."""
        return [t for t in (self.image, self.events, self.labels) if t is not None]


def _open(path: str | Path) -> Reader:
    path = Path(path)
    if not (path / "metadata.yaml").is_file():
        raise BagError(f"{path} is not a rosbag2 folder (no metadata.yaml)")
    try:
        reader = Reader(path)
        reader.open()
    except (ReaderError, OSError) as exc:
        raise BagError(f"{path}: cannot read the bag: {exc}") from exc
    return reader


def bag_info(path: str | Path) -> BagInfo:
    """Topics, counts and span of the bag at ``path`` (a rosbag2 folder)."""
    reader = _open(path)
    try:
        topics = {name: (info.msgtype or "", info.msgcount)
                  for name, info in reader.topics.items()}
        folder = Path(path)
        storage = ("mcap" if any(folder.glob("*.mcap")) else
                   "sqlite3" if any(folder.glob("*.db3")) else "unknown")
        return BagInfo(Path(path), storage, topics, reader.start_time, reader.end_time,
                       reader.message_count)
    finally:
        reader.close()


def resolve_topics(info: BagInfo, *, image: str = DEFAULT_TOPICS["image"],
                   events: str = DEFAULT_TOPICS["events"],
                   labels: str = DEFAULT_TOPICS["labels"]) -> BagTopics:
    """The camera topics of ``info``.

    Image and label topics are taken when present with type sensor_msgs/msg/Image. When
    ``events`` is absent and the bag has exactly one EventArray or EventPacket topic, that one
    is used (bags from drivers name it ``/event_camera/events`` and the like).

    Raises:
        BagError: a named topic has a type this evaluation cannot use.
    """
    def typed(name: str, allowed: Iterable[str]) -> str | None:
        if name not in info.topics:
            return None
        msgtype = info.topics[name][0]
        if msgtype not in allowed:
            raise BagError(f"{info.path}: topic {name} has type {msgtype}, expected "
                           f"{' or '.join(allowed)}")
        return name

    found_events = typed(events, EVENT_MESSAGES)
    if found_events is None:
        candidates = [n for n, (t, _) in info.topics.items() if t in EVENT_MESSAGES]
        found_events = candidates[0] if len(candidates) == 1 else None
    result = BagTopics(typed(image, [IMAGE_TYPE]), found_events, typed(labels, [IMAGE_TYPE]))
    if found_events is not None:
        result.event_message = EVENT_MESSAGES[info.topics[found_events][0]]
    result.counts = {name: info.topics[name][1] for name in result.names()}
    return result


def read_messages(path: str | Path, topics: Iterable[str]) -> Iterator[tuple[str, int, bytes]]:
    """``(topic, receive time ns, CDR bytes)`` of ``topics``, in receive-time order (messages
    with equal times in the order they were written)."""
    wanted = set(topics)
    reader = _open(path)
    try:
        connections = [c for c in reader.connections if c.topic in wanted]
        if not connections:
            return
        for connection, time_ns, data in reader.messages(connections=connections):
            yield connection.topic, time_ns, data
    finally:
        reader.close()
