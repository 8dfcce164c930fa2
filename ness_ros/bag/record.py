"""Recording camera data into rosbag2: synthetic sequences and AEDAT4 files.

Messages are serialized by the project's codecs (:mod:`ness_ros.events`) and written as the raw
CDR bytes. Events are cut into messages of about ``event_period_s``, never across a frame: each
event message holds the events in (previous boundary, boundary], where the boundaries are every
``event_period_s`` and every frame stamp. A frame (and its label) follows the events up to its
stamp. Stamps and bag receive times are the data's own times, so the bag replays the recording.

Header stamps: ``dvs_msgs/EventArray`` carries its last boundary (as the rpg_dvs_ros driver
stamps the last event); ``event_camera_msgs/EventPacket`` carries its first event's time (the
arrival of the first event, as its .msg documents) and sensor time since ``origin_ns`` in evt3.
Receive time = header stamp. ROS-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from ness_ros.bag.errors import BagError
from ness_ros.bag.types import EVENT_TYPES, IMAGE_TYPE
from ness_ros.bag.writer import BagWriter
from ness_ros.events.batch import EventBatch
from ness_ros.events.cdr import Header
from ness_ros.events.dvs_codec import encode_event_array
from ness_ros.events.errors import EventError
from ness_ros.events.image_codec import encode_image_cdr
from ness_ros.events.packet_codec import EventPacketEncoder
from ness_ros.graph import DEFAULT_TOPICS


@dataclass(frozen=True)
class RecordOptions:
    """How to write a bag.

    Attributes:
        storage: ``mcap`` or ``sqlite3``.
        event_message: ``dvs`` (dvs_msgs/EventArray) or ``packet`` (EventPacket).
        packet_encoding: EventPacket payload encoding (``evt3``, ``libcaer`` or ``mono``).
        event_period_s: span of one event message, seconds.
        frame_id: frame_id of every header.
        topics: topic names, keys ``image``, ``events``, ``labels``.
        progress: show a progress bar.
    """

    storage: str = "mcap"
    event_message: str = "dvs"
    packet_encoding: str = "evt3"
    event_period_s: float = 0.01
    frame_id: str = "camera"
    topics: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TOPICS))
    progress: bool = True

    def check(self) -> None:
        """Raise :class:`BagError` naming the option that cannot be written; both writers
        (recordings and imports) call it before they open the bag."""
        if self.event_period_s <= 0:
            raise BagError(f"event_period_s must be positive, got {self.event_period_s}")
        if self.event_message not in EVENT_TYPES:
            raise BagError(f"event_message must be one of {', '.join(EVENT_TYPES)}, "
                           f"got {self.event_message!r}")


@dataclass
class RecordSummary:
    """What a recording wrote: message counts per topic, frames, events, span (s), bytes."""

    path: Path
    storage: str
    messages: dict[str, int]
    frames: int
    events: int
    duration_s: float
    bytes: int


@dataclass(frozen=True)
class Frame:
    """One frame to record: stamp (int ns), pixels and their encoding, optional label (H, W)."""

    stamp_ns: int
    pixels: NDArray
    encoding: str
    label: NDArray[np.uint8] | None = None



def write_events(bag: BagWriter, topic: str, chunk: EventBatch, bound_ns: int,
                 packets: EventPacketEncoder | None, frame_id: str) -> None:
    """Write one message of ``chunk``'s events: an EventPacket stamped with its first event
    (what the drivers do), or an EventArray stamped with the end of its period."""
    if packets is not None:
        stamp = int(chunk.t[0])
        data = packets.encode(chunk, stamp)
    else:
        stamp = bound_ns
        data = encode_event_array(chunk, Header.from_ns(stamp, frame_id))
    bag.write(topic, stamp, data)


def packet_encoder(options: RecordOptions, width: int, height: int,
                   start_ns: int) -> EventPacketEncoder | None:
    """The EventPacket encoder of a recording's events (None when they go out as EventArray),
    its sensor time starting at ``start_ns``.

    Raises:
        BagError: an encoding the encoder does not write.
    """
    if options.event_message != "packet":
        return None
    try:
        return EventPacketEncoder(options.packet_encoding, width=width, height=height,
                                  frame_id=options.frame_id, origin_ns=max(start_ns, 0))
    except EventError as exc:
        raise BagError(str(exc)) from exc

def record_sequence(sequence, path: str | Path, options: RecordOptions) -> RecordSummary:
    """Write a :class:`~ness_ros.data.sequence.SyntheticSequence`: rgb8 frames, events and the
    ground-truth labels (mono8, same stamp as their frame). Events start after time 0."""
    frames = [Frame(int(s), f, "rgb8", lab) for s, f, lab in
              zip(sequence.stamps_ns, sequence.frames, sequence.labels, strict=True)]
    return write_recording(path, sequence.events, frames, options, start_ns=0)


def import_aedat4(source: str | Path, path: str | Path, options: RecordOptions) -> RecordSummary:
    """Write an AEDAT4 recording (events and mono8 frames, no labels) as a rosbag2."""
    from ness_ros.events.aedat_import import read_aedat4

    recording = read_aedat4(source)
    frames = [Frame(stamp, pixels, "mono8") for stamp, pixels in recording.frames]
    return write_recording(path, recording.events, frames, options)


def write_recording(path: str | Path, events: EventBatch, frames: Sequence[Frame],
                    options: RecordOptions, *, start_ns: int | None = None) -> RecordSummary:
    """Write ``events`` (sorted by time, t in ns) and ``frames`` (sorted by stamp) as a bag.

    ``start_ns``: events after it are written (default: from the first event or frame on).
    """
    if not events.is_time_sorted():
        raise BagError("events must be sorted by time")
    stamps = np.array([f.stamp_ns for f in frames], dtype=np.int64)
    if np.any(np.diff(stamps) <= 0):
        raise BagError("frame stamps must increase")
    options.check()
    t = events.t
    firsts = [int(t[0]) - 1] if len(t) else []
    firsts += [int(stamps[0]) - 1] if len(stamps) else []
    if not firsts:
        raise BagError("nothing to record: no events and no frames")
    start = min(firsts) if start_ns is None else int(start_ns)
    lasts = [start] + ([int(t[-1])] if len(t) else []) + ([int(stamps[-1])] if len(stamps) else [])
    period = int(round(options.event_period_s * 1e9))
    bounds = np.union1d(np.arange(start + period, max(lasts) + period, period), stamps)
    bounds = bounds[bounds > start]
    topics = options.topics
    has_labels = any(f.label is not None for f in frames)
    packets = packet_encoder(options, events.width, events.height, start)
    with BagWriter(path, storage=options.storage) as bag:
        if frames:
            bag.add_topic(topics["image"], IMAGE_TYPE)
        bag.add_topic(topics["events"], EVENT_TYPES[options.event_message])
        if has_labels:
            bag.add_topic(topics["labels"], IMAGE_TYPE)
        cuts = np.searchsorted(t, bounds, side="right")
        lo = int(np.searchsorted(t, start, side="right"))
        frame_at = {int(s): f for s, f in zip(stamps, frames, strict=True)}
        for bound, hi in tqdm(zip(bounds.tolist(), cuts.tolist(), strict=True), total=len(bounds),
                              desc=f"recording {Path(path).name}", unit="msg",
                              disable=not options.progress, leave=False):
            if hi > lo:
                chunk = EventBatch(events.events[lo:hi], events.width, events.height)
                write_events(bag, topics["events"], chunk, bound, packets, options.frame_id)
                lo = hi
            frame = frame_at.get(bound)
            if frame is not None:
                header = Header.from_ns(bound, options.frame_id)
                bag.write(topics["image"], bound, encode_image_cdr(frame.pixels, frame.encoding,
                                                                   header))
                if frame.label is not None:
                    bag.write(topics["labels"], bound, encode_image_cdr(frame.label, "mono8",
                                                                        header))
    return RecordSummary(Path(path), options.storage, dict(bag.counts), len(frames),
                         len(events) - int(np.searchsorted(t, start, side="right")),
                         (int(bounds[-1]) - start) / 1e9 if len(bounds) else 0.0, bag.bytes)
