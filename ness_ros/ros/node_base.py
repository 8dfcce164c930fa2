"""What both segmentation nodes share: callbacks that enqueue, a worker that segments, publishing.

Callbacks only decode and enqueue: events go into the bounded ring buffer of the core's
:class:`~ness_ros.segmentation.pipeline.FramePipeline`, frames (or trigger times) into a slot of
depth one where the newest wins and a replaced one is counted as dropped. A worker thread takes
the newest item, waits up to ``event_wait_s`` for its events and runs it through the pipeline
(stamp rules, event window, working resolution, segmenter), so a slow model drops frames instead
of building a backlog. What the node does with each kind of bad input, and the /diagnostics
counter of each, is the table in doc/nodes.md ("Bad input"): a rejected message is counted in
``rejected_<stream>_<kind>`` and logged at most every 5 s per kind; the node goes on.
Parameters: :mod:`ness_ros.ros.node_params`.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from typing import Any

import torch
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node

from ness_ros.errors import ParameterError
from ness_ros.events.cdr import Header
from ness_ros.events.errors import EventError, InputError
from ness_ros.events.stream import EventStream
from ness_ros.labels import CLASS_NAMES
from ness_ros.models.errors import ModelError
from ness_ros.models.weights import ModelCard, default_weights_path, load_model
from ness_ros.ros.camera_info import CameraInfoInput
from ness_ros.ros.diagnostics import DiagnosticsPublisher
from ness_ros.ros.event_input import EVENT_MESSAGES, EventSubscription
from ness_ros.ros.node_params import (
    COMMON_PARAMS,
    EVENTS_QOS,
    INPUT_QOS_OVERRIDES,
    working_resolution,
)
from ness_ros.ros.outputs import SegmentationOutputs
from ness_ros.ros.params import ParamSpec, declare, on_change
from ness_ros.ros.spin import check_executor, spin
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.intrinsics import ImageMapping
from ness_ros.segmentation.monitor import HealthThresholds, LatestSlot, NodeStats
from ness_ros.segmentation.pipeline import LOOP_TOLERANCE_S, FramePipeline, Segmenter
from ness_ros.segmentation.result import SegmentationResult
from ness_ros.segmentation.working_resolution import SensorRescaler


class SegmentationNode(Node):
    """Base of the hybrid and event-only nodes; subclasses make the segmenter
    (:meth:`make_segmenter`) and subscribe their trigger (:meth:`subscribe_inputs`)."""

    node_name = ""
    default_model = ""      # name of the packaged weights
    extra_params: list[ParamSpec] = []
    runs_a_model = True     # ness_ros.ros.startup tunes malloc first

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.node_name, **kwargs)
        self.params = declare(self, COMMON_PARAMS + self.extra_params)
        if self.params["event_message"] not in EVENT_MESSAGES:
            raise ParameterError("event_message", f"must be one of {', '.join(EVENT_MESSAGES)}, "
                                                  f"got {self.params['event_message']!r}")
        check_executor(self.params["executor"])
        self.check_params(self.params)  # every parameter before the slow part (the model)
        working = working_resolution(self.params)
        self.device = self._choose_device(self.params["device"])
        if self.params["torch_threads"]:
            import cv2  # the motion estimate of warped reuse: as many threads as the model

            torch.set_num_threads(self.params["torch_threads"])
            cv2.setNumThreads(self.params["torch_threads"])
        self.model, self.card = self._load_model()
        self.segmenter = self.make_segmenter(InputEncoder.from_card(self.card))
        self.segmenter.warm_up(*self.card.input_size)
        # auto: an empty stream until the type is known (_on_event_message replaces it then).
        self.pipeline = FramePipeline(
            self.segmenter, SensorRescaler(working, self.card.input_size),
            self._event_stream("dvs" if self.params["event_message"] == "auto"
                               else self.params["event_message"]),
            live_tolerance_s=self.params["live_stamp_tolerance_s"],
            loop_tolerance_s=LOOP_TOLERANCE_S, notify=self._notify)
        self.slot, self.stats = LatestSlot(), NodeStats()
        self._logged: dict[str, float] = {}  # kind -> monotonic time of its last warning
        self._last_event_arrival = -math.inf
        self.thresholds = self._thresholds(self.params)
        on_change(self, self._on_params)

        self.outputs = SegmentationOutputs(self, list(self.card.class_names or CLASS_NAMES),
                                           self.card.palette)
        self.diagnostics = DiagnosticsPublisher(self)
        self.camera_info = CameraInfoInput(self, lambda: self.pipeline.image_size, self.reject,
                                           INPUT_QOS_OVERRIDES)
        self.event_input = EventSubscription(
            self, self.params["event_message"], self._on_events, self._on_event_message,
            EVENTS_QOS, INPUT_QOS_OVERRIDES)
        self.subscribe_inputs()
        self.create_timer(self.params["diagnostics_period_s"], self._publish_diagnostics)
        self._running = True
        self.worker = threading.Thread(target=self._work, name=f"{self.node_name}_worker",
                                       daemon=True)
        self.worker.start()

    # -- what subclasses add ----------------------------------------------------------------
    def make_segmenter(self, encoder: InputEncoder) -> Segmenter:
        raise NotImplementedError

    def subscribe_inputs(self) -> None:
        """Subscribe what triggers a mask (frames, or a timer)."""
        raise NotImplementedError

    def check_params(self, values: dict[str, Any]) -> None:
        """Check the subclass's start-up parameters; raise ParameterError."""

    def apply_params(self, merged: dict[str, Any], changes: dict[str, Any]) -> str | None:
        """Validate and apply the subclass's run-time parameters; return a refusal reason."""
        return None

    def extra_diagnostics(self) -> dict[str, object]:
        return {}

    # -- parameters and model ---------------------------------------------------------------
    def _choose_device(self, device: str) -> str:
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                self.get_logger().warning(f"device {device!r} requested but CUDA is not "
                                          "available: running on cpu")
                return "cpu"
        elif device != "cpu":
            raise ParameterError("device", f"must be cpu or cuda[:N], got {device!r}")
        return device

    def _load_model(self) -> tuple[torch.nn.Module, ModelCard]:
        path = self.params["model"] or str(default_weights_path(self.default_model))
        try:
            model, card = load_model(path, device=self.device)
        except ModelError as exc:
            if self.params["model"]:
                raise ParameterError("model", str(exc)) from exc
            raise  # the packaged weights: not a parameter's fault
        self.get_logger().info(f"model {path} ({card.architecture}) on {self.device}")
        return model, card

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

    # -- callbacks --------------------------------------------------------------------------
    def _event_stream(self, message: str) -> EventStream:
        return EventStream(message, max_events=self.params["event_buffer_max_events"],
                           max_seconds=self.params["event_buffer_seconds"],
                           max_skew_s=self.params["max_event_skew_s"],
                           loop_tolerance_s=LOOP_TOLERANCE_S,
                           live_tolerance_s=self.params["live_stamp_tolerance_s"])

    def _on_event_message(self, message: str) -> None:
        """The events topic's type is known (auto: found in the graph): a stream for it."""
        if message != getattr(self.pipeline.events, "message_type", None):
            self.pipeline.replace_events(self._event_stream(message))

    def _on_events(self, data: bytes) -> None:
        self._last_event_arrival = time.monotonic()
        try:
            result = self.pipeline.push_events(data, self.now_ns())
        except InputError as exc:
            self.reject(f"events_{exc.kind}", exc)
            return
        except EventError as exc:  # not expected: push classifies its errors
            self.reject("events_malformed", exc)
            return
        self.stats.event_rate.add(time.monotonic(), result.events)

    def admit(self, payload: Any, header: Header, arrival_ns: int,
              size: tuple[int, int] | None = None) -> None:
        """Hand a frame (``size``: its width, height) or a trigger (None) to the worker once
        its stamp passes the pipeline's rules; the newest waiting item wins."""
        try:
            self.pipeline.admit(header.stamp_ns, now_ns=self.now_ns(), size=size)
        except InputError as exc:
            self.reject(f"image_{exc.kind}", exc)
            return
        self.stats.input_rate.add(time.monotonic())
        self.slot.put((payload, header, arrival_ns))

    def reject(self, kind: str, exc: Exception | str) -> None:
        """Count a rejected input as ``rejected_<kind>`` and log it at a limited rate (per
        kind); the node goes on."""
        self.stats.rejected[kind] += 1
        self._warn(kind, f"rejected {kind.replace('_', ' ')} ({self.stats.rejected[kind]} so "
                         f"far): {exc}")

    def _warn(self, kind: str, message: str) -> None:
        now = time.monotonic()
        if now - self._logged.get(kind, -math.inf) >= 5.0:  # rclpy throttles per call site
            self._logged[kind] = now
            self.get_logger().warning(message)

    def _notify(self, kind: str, message: str) -> None:
        if kind == "resolution":
            self.get_logger().info(message)
        else:
            self._warn(kind, message)

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    # -- worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        while self._running:
            item = self.slot.take(timeout=0.1)
            if item is None:
                continue
            payload, header, arrival_ns = item
            # Waits before segmenting, as stages on /diagnostics: for the worker (queue) and
            # for events to reach the frame's stamp (events_wait).
            waits = {"queue": (time.monotonic_ns() - arrival_ns) / 1e6,
                     "events_wait": self._wait_for_events(header.stamp_ns)}
            try:
                result = self.pipeline.segment(header.stamp_ns, payload)
            except InputError as exc:
                self.reject(f"image_{exc.kind}", exc)
                continue
            except Exception as exc:  # a failed frame must not end the worker
                self.reject("processing", exc)
                continue
            if result is not None and self._running:
                self._publish(result, header, arrival_ns, waits)

    def _wait_for_events(self, stamp_ns: int) -> float:
        """Wait up to event_wait_s for the events to reach ``stamp_ns`` (a frame served without
        them is counted in ``frames_without_events``); returns the ms waited."""
        start = time.monotonic()
        deadline = start + self.params["event_wait_s"]
        while self._running and not self.pipeline.events_complete(stamp_ns):
            if time.monotonic() >= deadline:
                self.stats.frames_without_events += 1
                break
            time.sleep(0.001)
        return (time.monotonic() - start) * 1e3

    def _publish(self, result: SegmentationResult, header: Header, arrival_ns: int,
                 waits: dict[str, float]) -> None:
        rescaler = self.pipeline.rescalers.current
        mapping = rescaler.output_mapping if rescaler is not None else ImageMapping(
            (result.mask.shape[1], result.mask.shape[0]))
        info = self.camera_info.for_mask(mapping, header)
        try:
            msg = self.outputs.publish(result, header, arrival_ns,
                                       self.params["live_stamp_tolerance_s"], waits, info)
        except rclpy_implementation.RCLError:
            if self._running:
                raise
            return  # the node was destroyed while this frame was segmented (shutdown)
        self.stats.record(time.monotonic(), msg.processing_ms, msg.end_to_end_ms,
                          {**waits, **result.stage_ms, "publish": msg.publish_ms},
                          result.recomputed_fraction)

    # -- diagnostics ------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        level, message, values = self.stats.report(
            now, self.slot.dropped, self.thresholds, event_age_s=now - self._last_event_arrival,
            events_timeout_s=self.params["events_timeout_s"])
        values.update(self.pipeline.diagnostics())
        values.update({"event_message": self.event_input.message,
                       "camera_info_received": self.camera_info.received,
                       "camera_info_published": self.camera_info.published})
        values.update(self.extra_diagnostics())
        self.diagnostics.publish(level, message, values)

    # -- life-cycle (ness_ros.ros.startup) --------------------------------------------------
    def shutdown(self) -> None:
        self._running = False
        self.slot.close()
        self.worker.join(timeout=1.0)  # a frame in inference may outlast this: daemon thread

    def run(self) -> None:
        # The ~200 k objects of torch, rclpy and the model live as long as the process; a full
        # collection scanning them holds the GIL for 40-130 ms, a latency spike mid-frame.
        gc.collect()
        gc.freeze()
        spin(self, self.params["executor"])

    def close(self) -> None:
        self.shutdown()
        self.destroy_node()
