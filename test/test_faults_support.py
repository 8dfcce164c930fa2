"""Shared by the fault and bad-input tests (no tests here): a driver that talks to a
segmentation node in its own process over DDS (through :class:`ness_ros.ros.harness.NodeHarness`),
sending frames and events with chosen stamps and waiting for the masks of exactly those stamps;
:func:`serving_node`, a module's node fixture. (Their tiny model file:
``helpers.tiny_models.tiny_model_file(folder, base_width=8)``.)"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from dvs_msgs.msg import EventArray
from event_camera_msgs.msg import EventPacket
from ness_msgs.msg import SegmentationLatency
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from helpers.tiny_models import tiny_model_file
from ness_ros.events import (
    EventBatch,
    EventPacketEncoder,
    Header,
    decode_image_cdr,
    encode_event_array,
    encode_image_cdr,
)
from ness_ros.graph import NodeSpec
from ness_ros.ros.harness import NodeHarness, discovered, subscribe_outputs
from ness_ros.ros.qos import SENSOR_QOS

W, H = 96, 64
FRAME_NS = 50_000_000
#: Replayed (not live) stamps start here; live ones at the wall clock.
REPLAY_START_NS = 1_000_000_000_000


def random_events(rng: np.random.Generator, t0: int, t1: int, n: int, width: int = W,
                  height: int = H) -> EventBatch:
    """``n`` events in [t0, t1), the last at t1 - 1 (a stream that reached t1)."""
    t = np.sort(rng.integers(t0, t1, n))
    t[-1] = t1 - 1
    return EventBatch.from_arrays(t, rng.integers(0, width, n),
                                  rng.integers(0, height, n), rng.integers(0, 2, n),
                                  width=width, height=height)


class NodeDriver:
    """One segmentation node under test and the test's own node talking to it.

    Args:
        name: node name (its topics are ``/<name>/mask`` ...); inputs are remapped to
            ``/<name>/in/image``, ``/<name>/in/events`` and ``/<name>/in/camera_info``.
        params: node parameters.
        log: the node's log file.
        event_message: ``dvs`` or ``packet`` (evt3 packets).
        live: stamps follow the wall clock (else replayed stamps from REPLAY_START_NS).
        reliable_events: publish events reliably (the node must override its QoS to match).
    """

    def __init__(self, name: str, params: dict[str, Any], log: Path, *,
                 event_message: str = "dvs", live: bool = False,
                 reliable_events: bool = False) -> None:
        self.name, self.log_path = name, log
        self.topics = {"image": f"/{name}/in/image", "events": f"/{name}/in/events",
                       "camera_info": f"/{name}/in/camera_info"}
        spec = NodeSpec("hybrid_segmentation", name, [], {"event_message": event_message,
                                                          **params}, list(self.topics.items()))
        self.harness = NodeHarness([spec], log.parent, f"{name}_driver", log_files={name: log})
        self.node = self.harness.node
        self.event_message, self.live = event_message, live
        self.rng = np.random.default_rng(0)
        self.stamp = (time.time_ns() // FRAME_NS * FRAME_NS) if live else REPLAY_START_NS
        self.masks: list[tuple[int, tuple[int, ...]]] = []
        self.latency: list[SegmentationLatency] = []
        self.diagnostics: list[tuple[int, str, dict[str, str]]] = []
        self.stopped: tuple[int, float] | None = None  # by serving_node: (exit code, s to exit)
        events_qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE) \
            if reliable_events else SENSOR_QOS
        self.image_pub = self.node.create_publisher(Image, self.topics["image"], SENSOR_QOS)
        self.events_pub = self.node.create_publisher(
            EventArray if event_message == "dvs" else EventPacket, self.topics["events"],
            events_qos)
        self.packets = EventPacketEncoder("evt3", width=W, height=H, frame_id="cam",
                                          origin_ns=self.stamp - 10**9)
        subscribe_outputs(self.node, name, mask=self._on_mask, latency=self.latency.append,
                          diagnostics=self._on_diagnostics)
        self.harness.start()
        self.proc: subprocess.Popen = self.harness.process(name)

    def _on_mask(self, data: bytes) -> None:
        pixels, _, header = decode_image_cdr(data)
        self.masks.append((header.stamp_ns, pixels.shape))

    def _on_diagnostics(self, status: Any, values: dict[str, str]) -> None:
        self.diagnostics.append((status.level[0], status.message, values))

    # -- waiting ----------------------------------------------------------------------------
    def spin_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        return self.harness.spin_until(condition, timeout)

    def values(self) -> dict[str, str]:
        return self.diagnostics[-1][2] if self.diagnostics else {}

    def count(self, key: str) -> int:
        return int(float(self.values().get(key, 0)))

    def settle(self) -> dict[str, str]:
        """The diagnostics once two more arrived (they count all that was sent before)."""
        mark = len(self.diagnostics)
        assert self.spin_until(lambda: len(self.diagnostics) >= mark + 2), self.log()
        return self.values()

    def wait_count(self, key: str, at_least: int, timeout: float = 10.0) -> bool:
        return self.spin_until(lambda: self.count(key) >= at_least, timeout)

    def ready(self, timeout: float = 60.0) -> None:
        """Wait for the node's diagnostics and for it to subscribe to our topics."""
        self.harness.wait_ready(lambda: bool(self.diagnostics) and
                                discovered([self.image_pub, self.events_pub]), timeout)

    def log(self) -> str:
        return self.harness.log(self.name)

    def stop(self) -> tuple[int, float]:
        """SIGINT the node: its exit code and how long it took to exit, s."""
        start = time.monotonic()
        code = self.harness.stop(timeout=10.0)[self.name]
        return code, time.monotonic() - start

    # -- sending ----------------------------------------------------------------------------
    def send_events(self, t0: int, t1: int, n: int = 2000, *, stamp: int | None = None,
                    width: int = W, height: int = H) -> None:
        """Events in [t0, t1) stamped ``stamp`` (default: t0 for packets, t1 for arrays)."""
        batch = random_events(self.rng, t0, t1, n, width, height)
        if self.event_message == "dvs":
            self.events_pub.publish(encode_event_array(batch, Header.from_ns(
                t1 if stamp is None else stamp, "cam")))
        else:
            self.events_pub.publish(self.packets.encode(batch, t0 if stamp is None else stamp))

    def send_frame(self, stamp: int, *, width: int = W, height: int = H,
                   encoding: str = "rgb8") -> None:
        if encoding == "32FC1":
            pixels = self.rng.random((height, width), dtype=np.float32)
        else:
            pixels = self.rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        self.image_pub.publish(encode_image_cdr(pixels, encoding, Header.from_ns(stamp, "cam")))

    def next_frame(self, *, gap_ns: int = FRAME_NS, events: bool = True, width: int = W,
                   height: int = H, encoding: str = "rgb8") -> int:
        """Events since the previous frame up to its stamp included (unless ``events`` is
        False), then a frame ``gap_ns`` after it; returns its stamp."""
        start, self.stamp = self.stamp, self.stamp + gap_ns
        if self.live:  # stay within the node's live tolerance of the clock
            self.stamp = max(self.stamp, time.time_ns())
        if events:
            self.send_events(max(start, self.stamp - FRAME_NS) + 1, self.stamp + 1,
                             width=width, height=height)
        self.send_frame(self.stamp, width=width, height=height, encoding=encoding)
        return self.stamp

    def mask_for(self, stamp: int, timeout: float = 10.0) -> tuple[int, ...] | None:
        """Shape of the mask stamped ``stamp``, waiting for it; None if none came."""
        found = lambda: [shape for s, shape in self.masks if s == stamp]  # noqa: E731
        return found()[0] if self.spin_until(lambda: bool(found()), timeout) else None

    def serve(self, frames: int = 2, **kwargs: Any) -> list[int]:
        """Send ``frames`` frames one at a time, each with its events, and check that the mask
        of each arrives with its stamp and size; returns the stamps."""
        stamps = []
        for _ in range(frames):
            stamp = self.next_frame(**kwargs)
            shape = self.mask_for(stamp)
            assert shape is not None, f"no mask for the frame at {stamp}:\n{self.log()}"
            assert shape == (kwargs.get("height", H), kwargs.get("width", W))
            stamps.append(stamp)
        return stamps

    def latency_for(self, stamp: int, timeout: float = 5.0) -> SegmentationLatency | None:
        """The ~/latency message of the mask stamped ``stamp``, waiting for it."""
        found = lambda: [m for m in self.latency  # noqa: E731
                         if m.header.stamp.sec * 10**9 + m.header.stamp.nanosec == stamp]
        return found()[0] if self.spin_until(lambda: bool(found()), timeout) else None


@contextmanager
def serving_node(name: str, params: dict[str, Any], folder: Path,
                 **kwargs: Any) -> Iterator[NodeDriver]:
    """rclpy up and the node ``name`` (the tiny model of ``folder`` unless ``params`` names one)
    ready and serving its first two frames; on leaving, the node stopped, its exit code and
    seconds to exit in the driver's ``stopped``, and rclpy down. ``kwargs`` go to
    :class:`NodeDriver`."""
    rclpy.init()
    try:
        driver = NodeDriver(name, {"model": str(tiny_model_file(folder, base_width=8)),
                                   **params}, folder / "node.log", **kwargs)
        try:
            driver.ready()
            driver.serve(2)
            yield driver
        finally:
            driver.stopped = driver.stop()
    finally:
        rclpy.shutdown()
