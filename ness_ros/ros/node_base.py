"""What both segmentation nodes share: parameters, event input, the worker, diagnostics.

Callbacks only decode and enqueue: events go into a bounded ring buffer, frames (or trigger
times) into a slot of depth one where the newest wins and a replaced one is counted as dropped.
A worker thread segments the newest item with the events up to its stamp, so a slow model drops
frames instead of building a backlog. Time is the message stamps'; a stamp that goes backwards
by more than 0.5 s (a bag loop) resets the state with a warning. Inputs subscribe best effort
(sensor-data QoS; events 100 messages deep, see :data:`EVENTS_QOS`), overridable with the
``qos_overrides.<topic>.subscription.{reliability,depth,history}`` parameters.

Bad input: what the node does with it, and the /diagnostics counter that counts it. A rejected
message is dropped whole and counted in ``rejected_<kind>`` (and in ``rejected_image``,
``rejected_events`` and ``rejected_total``), with a warning logged at most every 5 s per kind;
the masks of the valid input around it are published as usual.

=================================  ===============================  ==============================
input                              the node                         counter
=================================  ===============================  ==============================
Image encoding not supported       rejects the frame                rejected_image_encoding
Image step < row, data != step*h   rejects the frame                rejected_image_size
Image of zero width or height      rejects the frame                rejected_image_empty
NaN pixels in a 32FC1 image        rejects the frame                rejected_image_nan
Image bytes truncated, malformed   rejects the frame                rejected_image_malformed
Image size != event sensor size    rejects the frame                rejected_image_sensor_mismatch
Image size change, events with it  resets the event buffer, warns;  image_size_changes,
                                   the next mask is a keyframe      event_time_resets
Frame stamp equal to the last one  rejects the frame                rejected_image_duplicate_stamp
Frame stamp < 0.5 s before last    rejects it (out of order)        rejected_image_out_of_order
Frame stamp further back (loop)    resets the state, warns;         frame_time_resets
                                   the next mask is a keyframe
Stamp further than live_stamp_     rejects the message; 10 in a     rejected_image_stamp,
tolerance_s from the clock in      row: accepted (a replay)         rejected_events_stamp
a live stream
Event bytes malformed, polarity    rejects the message              rejected_events_malformed
> 1, sensor size 0
Events > max_event_skew_s from     rejects the message              rejected_events_skew
the header stamp (either way)
Events outside the sensor          drops them, keeps the rest       events_out_of_bounds
Events before buffered ones by     drops them, keeps the rest       events_late
< 0.5 s (a repeated message)
Event time back > 0.5 s (loop)     resets the event buffer, warns   event_time_resets
Empty EventArray, EventPacket      accepts it, buffers nothing      events_empty_messages
Huge message (5 M events)          accepts it; the buffer keeps     events_dropped_overflow
                                   the newest event_buffer_max_     (events_dropped_buffer:
                                   events                           both bounds)
EventPacket encoding unknown       rejects the message              rejected_events_encoding
or big-endian
EventPacket payload refused (odd   rejects the message, keeps       rejected_events_payload
evt3 byte count, libcaer t < 0,    the decoder's state
libcaer_cmp undefined word code)
evt3 external trigger words (0xA)  counts them, decodes on          trigger_events
evt3 payload cut at a word         accepts the events before it     (none)
EventPacket seq numbers skipped    decodes on                       events_lost_packets
No event publisher yet             event_message auto: waits, logs  event_message (auto)
                                   it; subscribes when one appears
CameraInfo size != the images'     does not use it (the latest one  rejected_camera_info_size
                                   that matched goes on)
No camera_info publisher           publishes no ~/camera_info       camera_info_received
No event message, frames arrive    segments with the events it      frames_without_events,
                                   has; WARN after events_          event_input_age_s
                                   timeout_s
roi does not fit in the sensor     skips the frame, warns           rejected_image_roi
Exception while segmenting         skips the frame                  rejected_processing
=================================  ===============================  ==============================
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections import Counter
from typing import Any

import torch
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile
from rclpy.qos_overriding_options import QoSOverridingOptions

from ness_ros.errors import ParameterError
from ness_ros.events.batch import EventBatch
from ness_ros.events.cdr import Header
from ness_ros.events.errors import EventError
from ness_ros.labels import CLASS_NAMES
from ness_ros.models.errors import ModelError
from ness_ros.models.weights import default_weights_path, load_model
from ness_ros.ros.camera_info import CameraInfoInput
from ness_ros.ros.diagnostics import DiagnosticsPublisher
from ness_ros.ros.event_input import EVENT_MESSAGES, EventSubscription
from ness_ros.ros.outputs import SegmentationOutputs
from ness_ros.ros.params import ParamSpec, declare, on_change
from ness_ros.ros.qos import SENSOR_QOS
from ness_ros.ros.spin import EXECUTOR_PARAM, check_executor, spin
from ness_ros.segmentation.errors import InputError
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.inputs_stream import EventStream, StampGuard
from ness_ros.segmentation.intrinsics import ImageMapping
from ness_ros.segmentation.monitor import (
    HealthThresholds,
    LatestSlot,
    Percentiles,
    RateMeter,
    health,
)
from ness_ros.segmentation.result import SegmentationResult
from ness_ros.segmentation.working_resolution import (
    Rescaler,
    SensorRescaler,
    WorkingResolution,
)

#: A frame stamp this far before the previous one is a bag loop (state reset); less, out of order.
LOOP_TOLERANCE_NS = 500_000_000

COMMON_PARAMS = [
    ParamSpec("model", "", "model file (.safetensors with its .json card beside it); empty: "
              "the packaged default weights of this node"),
    ParamSpec("device", "cpu", "torch device: cpu or cuda (cuda falls back to cpu, logged)"),
    ParamSpec("torch_threads", 1, "intra-op threads of the model on the CPU (0: torch's default, "
              "one per core); 1 leaves the other cores to event intake and the rest of the graph",
              0, 256),
    EXECUTOR_PARAM,
    ParamSpec("event_message", "auto", "event message type: auto (the type of the events "
              "topic's publishers, found in the graph), dvs (dvs_msgs/EventArray) or packet "
              "(event_camera_msgs/EventPacket)"),
    ParamSpec("working_size", "auto", "resolution the model runs at: auto (the sensor, or its "
              "roi, scaled to fit the model's training size, aspect kept, never up), sensor, or "
              "WIDTHxHEIGHT; events are binned and frames area-averaged to it"),
    ParamSpec("roi_x_offset", 0, "region of interest: left column, sensor pixels", 0, 100_000),
    ParamSpec("roi_y_offset", 0, "region of interest: top row, sensor pixels", 0, 100_000),
    ParamSpec("roi_width", 0, "region of interest: width, sensor pixels (0: the whole sensor)",
              0, 100_000),
    ParamSpec("roi_height", 0, "region of interest: height, sensor pixels (0: the whole "
              "sensor)", 0, 100_000),
    ParamSpec("mask_resolution", "sensor", "resolution of ~/mask: sensor (nearest labels of "
              "the working mask; outside the roi unlabelled, 255) or working (with a "
              "~/camera_info to match)"),
    ParamSpec("event_buffer_max_events", 5_000_000, "most events buffered", 1000, 100_000_000),
    ParamSpec("event_buffer_seconds", 2.0, "longest span of events buffered, s", 0.1, 60.0),
    ParamSpec("event_wait_s", 0.02, "how long the worker waits for events to reach a frame's "
              "stamp before segmenting with what it has, s", 0.0, 1.0),
    ParamSpec("max_event_skew_s", 5.0, "events further than this from their message's stamp "
              "are rejected, s", 0.001, 3600.0),
    ParamSpec("live_stamp_tolerance_s", 5.0, "input stamps within this of the node's clock are "
              "live: end-to-end latency is reported, and a stamp further off in a live stream "
              "is rejected, s", 0.0, 3600.0),
    ParamSpec("events_timeout_s", 1.0, "diagnostics WARN when frames arrive but no event message "
              "came for this long (0: never), s", 0.0, 3600.0, dynamic=True),
    ParamSpec("diagnostics_period_s", 1.0, "period of /diagnostics, s", 0.1, 60.0),
    ParamSpec("latency_warn_ms", 100.0, "WARN when p95 processing latency exceeds this, ms",
              0.0, 1e6, dynamic=True),
    ParamSpec("latency_error_ms", 500.0, "ERROR when p95 processing latency exceeds this, ms",
              0.0, 1e6, dynamic=True),
    ParamSpec("drop_warn_fraction", 0.2, "WARN when this fraction of inputs is dropped",
              0.0, 1.0, dynamic=True),
    ParamSpec("drop_error_fraction", 0.8, "ERROR when this fraction of inputs is dropped",
              0.0, 1.0, dynamic=True),
]

#: Input subscriptions: sensor-data QoS, overridable by ``qos_overrides.<topic>...`` parameters.
INPUT_QOS_OVERRIDES = QoSOverridingOptions.with_default_policies()
#: Events: the sensor-data QoS but 100 messages deep. Drivers send up to about 1,000 messages/s
#: and every one counts (frames: the newest wins); 5 deep, a 5 ms pause of the callbacks (the
#: worker holding the GIL) loses events. Memory: at most depth x message size.
EVENTS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                        reliability=SENSOR_QOS.reliability, durability=SENSOR_QOS.durability)


def working_max_pixels_param(default: int, why: str) -> ParamSpec:
    """The ``working_max_pixels`` parameter, whose default depends on the node's model."""
    return ParamSpec("working_max_pixels", default, "with working_size auto: at most this many "
                     f"working pixels, aspect kept (0: no cap); {why}", 0, 100_000_000)


class SegmentationNode(Node):
    """Base of the hybrid and event-only nodes; subclasses make ``segmenter`` and implement
    :meth:`process`."""

    segmenter: Any  # HybridSegmenter or EventSegmenter, with an ``encoder``

    node_name = ""
    default_model = ""      # name of the packaged weights
    extra_params: list[ParamSpec] = []
    runs_a_model = True     # ness_ros.ros.startup tunes malloc first

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.params = declare(self, COMMON_PARAMS + self.extra_params)
        if self.params["event_message"] not in EVENT_MESSAGES:
            raise ParameterError("event_message", f"must be one of {', '.join(EVENT_MESSAGES)}, "
                                                  f"got {self.params['event_message']!r}")
        check_executor(self.params["executor"])
        self.check_params(self.params)  # every parameter before the slow part (the model)
        self.device = self._choose_device(self.params["device"])
        if self.params["torch_threads"]:
            import cv2  # the motion estimate of warped reuse: as many threads as the model

            torch.set_num_threads(self.params["torch_threads"])
            cv2.setNumThreads(self.params["torch_threads"])
        working = self._working_resolution(self.params)
        path = self.params["model"] or str(default_weights_path(self.default_model))
        try:
            self.model, self.card = load_model(path, device=self.device)
        except ModelError as exc:
            if self.params["model"]:
                raise ParameterError("model", str(exc)) from exc
            raise  # the packaged weights: not a parameter's fault
        self.get_logger().info(f"model {path} ({self.card.architecture}) on {self.device}")
        self.rescalers = SensorRescaler(working, self.card.input_size)  # worker thread

        self.lock = threading.Lock()
        live_ns = int(self.params["live_stamp_tolerance_s"] * 1e9)
        # auto: an empty stream until the type is known (_event_stream replaces it then).
        self.events = self._event_stream("dvs" if self.params["event_message"] == "auto"
                                         else self.params["event_message"])
        self.frame_guard = StampGuard(live_ns)
        self._last_frame_stamp: int | None = None
        self._last_event_arrival = -math.inf
        self._events_through_ns = 0  # events are complete up to this time (see _on_events)
        self.slot = LatestSlot()
        self.rejected: Counter[str] = Counter()
        self._logged: dict[str, float] = {}     # kind -> monotonic time of its last warning
        self.counts: Counter[str] = Counter()   # handled (not rejected) input situations
        self.processing_ms, self.end_to_end_ms = Percentiles(), Percentiles()
        self.stage_ms: dict[str, Percentiles] = {}
        self.wait_ms: dict[str, float] = {}  # the current item's waits (worker thread only)
        self.input_rate, self.output_rate, self.event_rate = RateMeter(), RateMeter(), RateMeter()
        self.published = 0
        self.recomputed_fraction = Percentiles()
        self.thresholds = self._thresholds(self.params)
        on_change(self, self._on_params)

        self.outputs = SegmentationOutputs(self, list(self.card.class_names or CLASS_NAMES))
        self.diagnostics = DiagnosticsPublisher(self)
        self.camera_info = CameraInfoInput(self, self.image_size, self.reject,
                                           INPUT_QOS_OVERRIDES)
        self.event_input = EventSubscription(
            self, self.params["event_message"], self._on_events, self._on_event_message,
            EVENTS_QOS, INPUT_QOS_OVERRIDES)
        self.create_timer(self.params["diagnostics_period_s"], self._publish_diagnostics)
        self._running = True
        self.worker = threading.Thread(target=self._work, name=f"{name}_worker", daemon=True)
        self.worker.start()

    # -- parameters -------------------------------------------------------------------------
    def _choose_device(self, device: str) -> str:
        if device.startswith("cuda"):
            import torch
            if not torch.cuda.is_available():
                self.get_logger().warning(f"device {device!r} requested but CUDA is not "
                                          "available: running on cpu")
                return "cpu"
        elif device != "cpu":
            raise ParameterError("device", f"must be cpu or cuda[:N], got {device!r}")
        return device

    @staticmethod
    def _working_resolution(values: dict[str, Any]) -> WorkingResolution:
        try:
            return WorkingResolution.from_params(
                values["working_size"], values["roi_x_offset"], values["roi_y_offset"],
                values["roi_width"], values["roi_height"], values["mask_resolution"],
                values["working_max_pixels"])
        except ValueError as exc:
            text = str(exc)
            name = next((n for n in ("mask_resolution", "working_max_pixels", "working_size")
                         if text.startswith(n)),
                        "roi_width" if text.startswith("roi") else "working_size")
            raise ParameterError(name, text) from exc

    def check_params(self, values: dict[str, Any]) -> None:
        """Subclasses check their own start-up parameters; raise ParameterError."""

    @staticmethod
    def _thresholds(values: dict[str, Any]) -> HealthThresholds:
        return HealthThresholds(values["latency_warn_ms"], values["latency_error_ms"],
                                values["drop_warn_fraction"], values["drop_error_fraction"])

    def _on_params(self, changes: dict[str, Any]) -> str | None:
        merged = {**self.params, **changes}
        if merged["latency_warn_ms"] > merged["latency_error_ms"]:
            return "latency_warn_ms must not exceed latency_error_ms"
        if merged["drop_warn_fraction"] > merged["drop_error_fraction"]:
            return "drop_warn_fraction must not exceed drop_error_fraction"
        reason = self.apply_params(merged, changes)
        if reason is None:
            self.params = merged
            self.thresholds = self._thresholds(merged)
        return reason

    def apply_params(self, merged: dict[str, Any], changes: dict[str, Any]) -> str | None:
        """Subclasses validate and apply their run-time parameters; return a refusal reason."""
        return None

    # -- inputs -----------------------------------------------------------------------------
    def _event_stream(self, message: str) -> EventStream:
        return EventStream(message, max_events=self.params["event_buffer_max_events"],
                           max_seconds=self.params["event_buffer_seconds"],
                           max_skew_s=self.params["max_event_skew_s"],
                           loop_tolerance_s=LOOP_TOLERANCE_NS / 1e9,
                           live_tolerance_s=self.params["live_stamp_tolerance_s"])

    def _on_event_message(self, message: str) -> None:
        """The events topic's type is known (auto: found in the graph): a stream for it."""
        if message != self.events.message_type:
            with self.lock:
                self.events = self._event_stream(message)

    def reject(self, kind: str, exc: Exception | str) -> None:
        """Count a rejected input as ``rejected_<kind>`` and log it at a limited rate (per
        kind); the node goes on."""
        self.rejected[kind] += 1
        now = time.monotonic()
        if now - self._logged.get(kind, -math.inf) >= 5.0:  # rclpy throttles per call site
            self._logged[kind] = now
            self.get_logger().warning(f"rejected {kind.replace('_', ' ')} "
                                      f"({self.rejected[kind]} so far): {exc}")

    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of the images the masks are made from, None while unknown: the
        event sensor's here (the hybrid node's frames have the same size)."""
        return self.events.sensor_size

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _on_events(self, data: bytes) -> None:
        self._last_event_arrival = time.monotonic()
        try:
            with self.lock:
                result = self.events.push(data, self.now_ns())
        except InputError as exc:
            self.reject(f"events_{exc.kind}", exc)
            return
        except EventError as exc:  # not expected: push classifies its errors
            self.reject("events_malformed", exc)
            return
        self.event_rate.add(time.monotonic(), result.events)
        # Events are complete up to the later of the message stamp and its newest event: a
        # driver stamps a message when its window closes, which may be after its last event.
        newest = self.events.newest_ns or 0
        before = 0 if result.reset else self._events_through_ns
        self._events_through_ns = max(before, result.header.stamp_ns, newest)
        if result.reset:
            self.get_logger().warning(f"{result.reset}: event buffer reset",
                                      throttle_duration_sec=5.0)

    def admit_frame(self, header: Header, size: tuple[int, int] | None = None) -> bool:
        """Checks of a frame's stamp (and of its (width, height) against the event sensor) in
        the callback; counts and logs a rejection and returns False."""
        stamp, last = header.stamp_ns, self._last_frame_stamp
        try:
            self.frame_guard.check(stamp, self.now_ns())
        except InputError as exc:
            self.reject(f"image_{exc.kind}", exc)
            return False
        if stamp == last:
            self.reject("image_duplicate_stamp", f"stamp {stamp} ns repeats the previous frame's")
            return False
        if last is not None and last - LOOP_TOLERANCE_NS <= stamp < last:
            self.reject("image_out_of_order", f"stamp {stamp} ns is {(last - stamp) / 1e6:.1f} "
                                              "ms before the previous frame's")
            return False
        if size is not None:
            with self.lock:
                sensor = self.events.sensor_size
            if sensor is not None and sensor != size:
                self.reject("image_sensor_mismatch", f"image {size[0]} x {size[1]} differs from "
                                                     f"the event sensor {sensor[0]} x {sensor[1]}")
                return False
        self._last_frame_stamp = stamp
        return True

    def enqueue(self, item: tuple[Any, Header, int]) -> None:
        """Hand (payload, header, arrival monotonic ns) to the worker; the newest wins."""
        self.input_rate.add(time.monotonic())
        self.slot.put(item)

    def events_until(self, t0_ns: int, stamp_ns: int) -> EventBatch | None:
        """Events in [t0, stamp), waiting up to event_wait_s for them to reach the stamp (a
        frame served without them is counted in ``frames_without_events``); None before the
        first event message."""
        start = time.monotonic()
        deadline = start + self.params["event_wait_s"]
        while self._running:
            with self.lock:
                complete = self.events.newest_ns is not None and \
                    self._events_through_ns >= stamp_ns
                now = time.monotonic()
                if complete or now >= deadline:
                    self.counts["frames_without_events"] += not complete
                    self.wait_ms["events_wait"] = (now - start) * 1e3
                    return self.events.query(t0_ns, stamp_ns)
            time.sleep(0.001)
        return None

    # -- worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        while self._running:
            item = self.slot.take(timeout=0.1)
            if item is None:
                continue
            payload, header, arrival_ns = item
            # Waits before segmenting, as stages on /diagnostics: for the worker (queue) and
            # for events to reach the frame's stamp (events_wait, set by events_until).
            self.wait_ms = {"queue": (time.monotonic_ns() - arrival_ns) / 1e6}
            try:
                result = self.process(payload, header)
            except InputError as exc:
                self.reject(f"image_{exc.kind}", exc)
                continue
            except Exception as exc:  # a failed frame must not end the worker
                self.reject("processing", exc)
                continue
            if result is None or not self._running:
                continue
            info = self.camera_info.for_mask(self.output_mapping(result), header)
            try:
                msg = self.outputs.publish(result, header, arrival_ns,
                                           self.params["live_stamp_tolerance_s"], self.wait_ms,
                                           info)
            except rclpy_implementation.RCLError:
                if self._running:
                    raise
                return  # the node was destroyed while this frame was segmented (shutdown)
            self.published += 1
            self.output_rate.add(time.monotonic())
            self.processing_ms.add(msg.processing_ms)
            if msg.end_to_end_ms == msg.end_to_end_ms:  # not NaN
                self.end_to_end_ms.add(msg.end_to_end_ms)
            for stage, ms in (*self.wait_ms.items(), *result.stage_ms.items(),
                              ("publish", msg.publish_ms)):
                self.stage_ms.setdefault(stage, Percentiles()).add(ms)
            self.recomputed_fraction.add(result.recomputed_fraction)

    def process(self, payload: Any, header: Header) -> SegmentationResult | None:
        raise NotImplementedError

    def rescaler(self, sensor_size: tuple[int, int]) -> Rescaler:
        """The working resolution applied to a sensor of ``sensor_size`` (width, height), made
        again when the size changes (logged). Worker thread.

        Raises:
            InputError: the roi does not fit in the sensor (kind ``roi``: counted per frame).
        """
        try:
            rescaler, made = self.rescalers.for_sensor(sensor_size)
        except ValueError as exc:
            raise InputError("roi", str(exc)) from exc
        if made:
            self.segmenter.encoder = rescaler.encoder(InputEncoder.from_card(self.card))
            self.get_logger().info(rescaler.describe())
        return rescaler

    def to_output(self, result: SegmentationResult, rescaler: Rescaler) -> SegmentationResult:
        """The working-resolution ``result`` with its mask at the published resolution."""
        if rescaler.mask_at == "sensor" and not rescaler.is_identity:
            start = time.perf_counter()
            result.mask = rescaler.mask(result.mask)
            result.stage_ms["paste"] = (result.stage_ms.get("paste", 0.0)
                                        + (time.perf_counter() - start) * 1e3)
        return result

    def output_mapping(self, result: SegmentationResult) -> ImageMapping:
        """How the mask was made from the input image (for its ~/camera_info)."""
        if self.rescalers.current is not None:
            return self.rescalers.current.output_mapping
        height, width = result.mask.shape[:2]
        return ImageMapping((width, height))

    # -- diagnostics ------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        processing, e2e = self.processing_ms.summary(), self.end_to_end_ms.summary()
        inputs, outputs = self.input_rate.rate(now), self.output_rate.rate(now)
        taken = self.published + self.slot.dropped
        drop_fraction = self.slot.dropped / taken if taken else 0.0
        p95 = processing["p95"] if processing["count"] else 0.0
        event_age = now - self._last_event_arrival
        level, message = health(p95, drop_fraction, outputs, inputs, self.thresholds,
                                event_age_s=event_age,
                                events_timeout_s=self.params["events_timeout_s"])
        counts = self.events.counts
        values: dict[str, object] = {
            "processing_latency_p50_ms": processing["p50"],
            "processing_latency_p95_ms": processing["p95"],
            "processing_latency_max_ms": processing["max"],
            "end_to_end_latency_p50_ms": e2e["p50"], "end_to_end_latency_p95_ms": e2e["p95"],
            "end_to_end_latency_max_ms": e2e["max"],
            "input_rate_hz": inputs, "output_rate_hz": outputs,
            "events_per_s": self.event_rate.rate(now),
            "recomputed_fraction_p50": self.recomputed_fraction.summary()["p50"],
            "frames_published": self.published, "frames_dropped": self.slot.dropped,
            "frames_without_events": self.counts["frames_without_events"],
            "frame_time_resets": self.counts["frame_time_resets"],
            "event_input_age_s": event_age,
            "event_messages": counts["messages"], "events_received": counts["events"],
            "events_empty_messages": counts["empty_messages"],
            "events_dropped_buffer": self.events.dropped_events,
            "events_dropped_overflow": counts["overflow"],
            "events_out_of_bounds": counts["out_of_bounds"],
            "events_lost_packets": self.events.lost_packets,
            "events_late": counts["late"],
            "event_time_resets": counts["resets"],
            "event_message": self.event_input.message,
            "trigger_events": self.events.trigger_events,
            "camera_info_received": self.camera_info.received,
            "camera_info_published": self.camera_info.published,
            "resolution": self.rescalers.describe(),
        }
        for stage, stats in self.stage_ms.items():
            values[f"stage_{stage}_p50_ms"] = stats.summary()["p50"]
        rejected = dict(self.rejected)
        values["rejected_total"] = sum(rejected.values())
        for stream in ("image", "events"):
            values[f"rejected_{stream}"] = sum(n for kind, n in rejected.items()
                                               if kind.startswith(f"{stream}_"))
        for kind, count in sorted(rejected.items()):
            values[f"rejected_{kind}"] = count
        values.update(self.extra_diagnostics())
        self.diagnostics.publish(level, message, values)

    def extra_diagnostics(self) -> dict[str, object]:
        return {}

    def shutdown(self) -> None:
        self._running = False
        self.slot.close()
        self.worker.join(timeout=1.0)  # a frame in inference may outlast this: daemon thread

    # -- life-cycle (ness_ros.ros.startup) --------------------------------------------------
    def run(self) -> None:
        # The ~200 k objects of torch, rclpy and the model live as long as the process; a full
        # collection scanning them holds the GIL for 40-130 ms, a latency spike mid-frame.
        gc.collect()
        gc.freeze()
        spin(self, self.params["executor"])

    def close(self) -> None:
        self.shutdown()
        self.destroy_node()

