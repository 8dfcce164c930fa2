"""Live replay evaluation, its ROS-free part: options, the node to start, pacing and accounting.

A bag's messages go into the ROS graph, a segmentation node runs in its own process, its masks
and timings come back; :func:`ness_ros.ros.bag_replay.replay_bag` does it with rclpy and the
functions here. Messages are published at ``rate`` times their recorded pace as the raw CDR
bytes read from the bag (``publisher.publish(bytes)``: nothing is rebuilt message by message).
The node (``hybrid_segmentation`` or ``event_segmentation``, the installed executable) is
started with :class:`~ness_ros.graph_runner.GraphProcesses`; publishing starts once it
subscribes to the inputs and publishes ``~/mask``. Latency is the time from publishing an input
to receiving its mask (see :mod:`ness_ros.bag.live_stats`); masks are matched with the bag's
labels by stamp. The event-only node segments at the frames' stamps, at the labels' in a bag
without frames (:func:`trigger_topic`), else every ``period_s``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from ness_ros.bag.errors import BagError
from ness_ros.bag.live_stats import PublishLog, ReplayTally
from ness_ros.bag.reader import BagTopics, read_messages
from ness_ros.events.cdr import CdrReader
from ness_ros.events.errors import EventError
from ness_ros.events.image_codec import decode_image_cdr, to_mono8
from ness_ros.events.stream import EventStream, decode_frame
from ness_ros.graph import NodeSpec
from ness_ros.graph_runner import GraphProcesses
from ness_ros.labels import CLASS_NAMES

if TYPE_CHECKING:
    from ness_ros.models.weights import ModelCard

NODES = {"hybrid": "hybrid_segmentation", "events": "event_segmentation"}


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay.

    Attributes:
        mode: ``hybrid`` or ``events``.
        rate: playback rate, 1.0 = the recorded pace (faster allowed).
        model: model file for the node (empty: its packaged default).
        device: the node's torch device.
        node_params: further node parameters (gating, event_wait_s, ...), passed as ``-p``.
        node_env: environment variables of the node process (e.g. ``OMP_NUM_THREADS``).
        period_s: event-only node without frames in the bag: its segmentation period, s.
        startup_timeout_s: longest wait for the node to come up, s.
        drain_s: after the last input, stop when no mask came for this long, s.
        overlay_count: rows of the overlay strip.
        log_dir: folder of the node's log.
        progress: show a progress bar.
    """

    mode: str = "hybrid"
    rate: float = 1.0
    model: str = ""
    device: str = "cpu"
    node_params: dict[str, Any] = field(default_factory=dict)
    node_env: dict[str, str] = field(default_factory=dict)
    period_s: float = 0.05
    startup_timeout_s: float = 120.0
    drain_s: float = 2.0
    overlay_count: int = 4
    log_dir: Path = Path("runs/bag_replay/logs")
    progress: bool = True


def trigger_topic(topics: BagTopics, mode: str) -> str | None:
    """The bag topic whose stamps the node segments at: the frames; in events mode without
    frames, the labels (as ``ness bag eval`` does, so that every label gets its mask: a real
    dataset's bag has labels but no event-camera frames); None: the event node's period."""
    if topics.image:
        return topics.image
    return topics.labels if mode == "events" else None


def node_spec(topics: BagTopics, options: ReplayOptions) -> NodeSpec:
    """The segmentation node for this bag: parameters and input remappings."""
    name = NODES[options.mode]
    params: dict[str, Any] = {"device": options.device, "diagnostics_period_s": 0.5,
                              "event_message": topics.event_message or "dvs"}
    if options.model:
        params["model"] = str(Path(options.model).resolve())
    trigger = trigger_topic(topics, options.mode)
    if options.mode == "events":
        params["trigger"] = "frame" if trigger else "period"
        params["period_s"] = float(options.period_s)
    params.update(options.node_params)
    remap = [("events", topics.events or "/camera/events")]
    if trigger:  # the event node reads only the stamps of what comes on ``image``
        remap.append(("image", trigger))
    return NodeSpec(name, name, [], params, remap)


def check_replay(path: str | Path, topics: BagTopics, options: ReplayOptions) -> None:
    """Refuse options and bags that cannot be replayed.

    Raises:
        BagError: bad options, or a topic the mode needs is missing.
    """
    if options.mode not in NODES:
        raise BagError(f"mode must be one of {', '.join(NODES)}, got {options.mode!r}")
    if not options.rate > 0:
        raise BagError(f"rate must be positive, got {options.rate}")
    if topics.events is None or (options.mode == "hybrid" and topics.image is None):
        raise BagError(f"{path}: {options.mode} mode needs "
                       f"{'frames and events' if options.mode == 'hybrid' else 'events'}; "
                       f"the bag has {', '.join(topics.names()) or 'neither'}")


def replay_card(options: ReplayOptions) -> ModelCard | None:
    """The card of the model the node will load (None if it cannot be read: the node then
    says why at start-up)."""
    from ness_ros.models.errors import ModelError
    from ness_ros.models.weights import default_weights_path, load_card

    path = options.model or default_weights_path("segsnn" if options.mode == "hybrid"
                                                 else "evsegsnn")
    try:
        return load_card(path)
    except (ModelError, OSError):
        return None


def event_window_ns(card: ModelCard | None) -> int:
    """The model's event window (for pictures of event-only masks); 50 ms if unknown."""
    return int(card.event_window_ms * 1e6) if card is not None else 50_000_000


def class_names(card: ModelCard | None) -> list[str]:
    """The classes the node's masks label: its model's (the six of ness_ros.labels if
    unknown)."""
    return list(card.class_names) if card is not None and card.class_names else \
        list(CLASS_NAMES)


def publish_messages(path, topics: BagTopics, pubs: dict, options: ReplayOptions,
                     log: PublishLog, tally: ReplayTally, stream: EventStream,
                     stream_lock: threading.Lock, graph: GraphProcesses) -> dict[str, Any]:
    """Publish every message of ``topics`` at the recorded pace with ``pubs[topic].publish``
    (the raw CDR bytes); returns what went out."""
    sent = {"frames": 0, "event_messages": 0, "events": 0, "labels": 0, "rejected": 0,
            "bag_first_ns": None, "bag_last_ns": None, "wall_first_s": None, "wall_last_s": None}
    total = sum(topics.counts.values())
    trigger = trigger_topic(topics, options.mode)
    with tqdm(total=total, desc=f"replay x{options.rate:g}", unit="msg",
              disable=not options.progress, leave=False) as bar:
        for topic, bag_ns, data in read_messages(path, topics.names()):
            if sent["wall_first_s"] is None:
                sent["wall_first_s"], sent["bag_first_ns"] = time.monotonic(), bag_ns
            delay = (sent["wall_first_s"] + (bag_ns - sent["bag_first_ns"]) / 1e9 / options.rate
                     - time.monotonic())
            if delay > 0:
                time.sleep(delay)
            if graph.failed():
                break
            now = time.monotonic()
            pubs[topic].publish(data if isinstance(data, bytes) else bytes(data))
            sent["bag_last_ns"], sent["wall_last_s"] = bag_ns, now
            bar.update()
            try:
                _account(topic, data, now, topics, trigger, sent, log, tally, stream,
                         stream_lock)
            except EventError:
                sent["rejected"] += 1
    return sent


def _account(topic, data, now, topics, trigger, sent, log, tally, stream,  # noqa: ANN001
             stream_lock) -> None:
    """Note what one published message was (after it went out, so timing is not delayed)."""
    if topic == topics.image:
        stamp = CdrReader(data, "Image").header().stamp_ns
        log.frame(stamp, now)
        if tally.wants_frames():
            tally.keep_frame(stamp, decode_frame(data)[0])
        sent["frames"] += 1
    elif topic == topics.events:
        sent["event_messages"] += 1
        with stream_lock:
            sent["events"] += stream.push(data).events
            newest = stream.newest_ns
        if newest is not None:
            log.events(newest, now)
    else:
        pixels, encoding, header = decode_image_cdr(data)
        tally.add_label(header.stamp_ns, to_mono8(pixels, encoding))
        sent["labels"] += 1
        if topic == trigger:  # the labels trigger the masks
            log.frame(header.stamp_ns, now)
            sent["frames"] += 1


def drain(tally: ReplayTally, graph: GraphProcesses, name: str, expected: int | None,
          quiet_s: float) -> None:
    """Wait for the last masks (until all expected came or none for ``quiet_s``), then for a
    diagnostics message newer than the last mask."""
    start = time.monotonic()
    while time.monotonic() - start < 10 * quiet_s + 5 and not graph.failed():
        if expected is not None and tally.masks >= expected:
            break
        last = tally.last_mask_s or start
        if time.monotonic() - max(last, start) > quiet_s:
            break
        time.sleep(0.05)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and not graph.failed():
        if tally.diagnostics_s is not None and tally.diagnostics_s > (tally.last_mask_s or 0):
            return
        time.sleep(0.05)
