"""What both segmentation nodes share: parameters, event input, the worker, diagnostics.

Callbacks only decode and enqueue: events go into a bounded ring buffer, frames (or trigger
times) into a slot of depth one where the newest wins and a replaced one is counted as dropped.
A worker thread segments the newest item with the events up to its stamp, so a slow model drops
frames instead of building a backlog. Time is the message stamps'; a stamp that goes backwards
resets the state with a warning.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import rclpy
from dvs_msgs.msg import EventArray
from event_camera_msgs.msg import EventPacket
from rclpy.node import Node

from ness_ros.events.cdr import Header
from ness_ros.events.errors import EventError
from ness_ros.labels import CLASS_NAMES
from ness_ros.models.errors import ModelError
from ness_ros.models.weights import default_weights_path, load_model
from ness_ros.ros.diagnostics import DiagnosticsPublisher
from ness_ros.ros.outputs import SegmentationOutputs
from ness_ros.ros.params import ParamSpec, declare, on_change
from ness_ros.ros.qos import SENSOR_QOS
from ness_ros.segmentation.inputs_stream import EVENT_ENCODINGS, EventStream
from ness_ros.segmentation.monitor import (
    HealthThresholds,
    LatestSlot,
    Percentiles,
    RateMeter,
    health,
)
from ness_ros.segmentation.result import SegmentationResult

COMMON_PARAMS = [
    ParamSpec("model", "", "model file (.safetensors with its .json card beside it); empty: "
              "the packaged default weights of this node"),
    ParamSpec("device", "cpu", "torch device: cpu or cuda (cuda falls back to cpu, logged)"),
    ParamSpec("event_message", "dvs", "event message type: dvs (dvs_msgs/EventArray) or packet "
              "(event_camera_msgs/EventPacket)"),
    ParamSpec("event_buffer_max_events", 5_000_000, "most events buffered", 1000, 100_000_000),
    ParamSpec("event_buffer_seconds", 2.0, "longest span of events buffered, s", 0.1, 60.0),
    ParamSpec("event_wait_s", 0.02, "how long the worker waits for events to reach a frame's "
              "stamp before segmenting with what it has, s", 0.0, 1.0),
    ParamSpec("max_event_skew_s", 5.0, "events further than this from their message's stamp "
              "are rejected, s", 0.001, 3600.0),
    ParamSpec("live_stamp_tolerance_s", 5.0, "end-to-end latency is reported only when input "
              "stamps are within this of the node's clock, s", 0.0, 3600.0),
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


class SegmentationNode(Node):
    """Base of the hybrid and event-only nodes; subclasses implement :meth:`process`."""

    default_model = ""      # name of the packaged weights
    extra_params: list[ParamSpec] = []

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.params = declare(self, COMMON_PARAMS + self.extra_params)
        if self.params["event_message"] not in EVENT_ENCODINGS:
            raise ModelError(f"parameter event_message must be one of {EVENT_ENCODINGS}, got "
                             f"{self.params['event_message']!r}")
        self.device = self._choose_device(self.params["device"])
        path = self.params["model"] or str(default_weights_path(self.default_model))
        self.model, self.card = load_model(path, device=self.device)
        self.get_logger().info(f"model {path} ({self.card.architecture}) on {self.device}")

        self.lock = threading.Lock()
        self.events = EventStream(self.params["event_message"],
                                  max_events=self.params["event_buffer_max_events"],
                                  max_seconds=self.params["event_buffer_seconds"],
                                  max_skew_s=self.params["max_event_skew_s"])
        self.slot = LatestSlot()
        self.rejected: Counter[str] = Counter()
        self.processing_ms, self.end_to_end_ms = Percentiles(), Percentiles()
        self.stage_ms: dict[str, Percentiles] = {}
        self.input_rate, self.output_rate, self.event_rate = RateMeter(), RateMeter(), RateMeter()
        self.published = 0
        self.recomputed_fraction = Percentiles()
        self.thresholds = self._thresholds(self.params)
        on_change(self, self._on_params)

        self.outputs = SegmentationOutputs(self, list(self.card.class_names or CLASS_NAMES))
        self.diagnostics = DiagnosticsPublisher(self)
        event_type = EventArray if self.params["event_message"] == "dvs" else EventPacket
        self.create_subscription(event_type, "events", self._on_events, SENSOR_QOS, raw=True)
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
            raise ModelError(f"parameter device must be cpu or cuda[:N], got {device!r}")
        return device

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
    def reject(self, kind: str, exc: Exception) -> None:
        """Count a rejected input and log it at a limited rate; the node goes on."""
        self.rejected[kind] += 1
        self.get_logger().warning(f"rejected {kind}: {exc}", throttle_duration_sec=5.0)

    def _on_events(self, data: bytes) -> None:
        try:
            with self.lock:
                result = self.events.push(data)
        except EventError as exc:
            self.reject("events", exc)
            return
        self.event_rate.add(time.monotonic(), result.events)
        if result.out_of_bounds:
            self.rejected["events_out_of_bounds"] += result.out_of_bounds
        if result.reset:
            self.get_logger().warning("event time went backwards (bag loop or driver restart): "
                                      "event buffer reset", throttle_duration_sec=5.0)

    def enqueue(self, item: tuple[Any, Header, int]) -> None:
        """Hand (payload, header, arrival monotonic ns) to the worker; the newest wins."""
        self.input_rate.add(time.monotonic())
        self.slot.put(item)

    def events_until(self, t0_ns: int, stamp_ns: int):
        """Events in [t0, stamp), waiting up to event_wait_s for them to reach the stamp."""
        deadline = time.monotonic() + self.params["event_wait_s"]
        while self._running:
            with self.lock:
                newest = self.events.newest_ns
                if (newest is not None and newest >= stamp_ns) or time.monotonic() >= deadline:
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
            try:
                result = self.process(payload, header)
            except Exception as exc:  # a failed frame must not end the worker
                self.reject("processing", exc)
                continue
            if result is None or not self._running:
                continue
            msg = self.outputs.publish(result, header, arrival_ns,
                                       self.params["live_stamp_tolerance_s"])
            self.published += 1
            self.output_rate.add(time.monotonic())
            self.processing_ms.add(msg.processing_ms)
            if msg.end_to_end_ms == msg.end_to_end_ms:  # not NaN
                self.end_to_end_ms.add(msg.end_to_end_ms)
            for stage, ms in (*result.stage_ms.items(), ("publish", msg.publish_ms)):
                self.stage_ms.setdefault(stage, Percentiles()).add(ms)
            self.recomputed_fraction.add(result.recomputed_fraction)

    def process(self, payload: Any, header: Header) -> SegmentationResult | None:
        raise NotImplementedError

    # -- diagnostics ------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        processing, e2e = self.processing_ms.summary(), self.end_to_end_ms.summary()
        inputs, outputs = self.input_rate.rate(now), self.output_rate.rate(now)
        taken = self.published + self.slot.dropped
        drop_fraction = self.slot.dropped / taken if taken else 0.0
        p95 = processing["p95"] if processing["count"] else 0.0
        level, message = health(p95, drop_fraction, outputs, inputs, self.thresholds)
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
            "events_dropped_buffer": self.events.dropped_events,
            "events_lost_packets": self.events.lost_packets,
            "events_late": self.events.counts["late"],
            "event_time_resets": self.events.counts["resets"],
        }
        for stage, stats in self.stage_ms.items():
            values[f"stage_{stage}_p50_ms"] = stats.summary()["p50"]
        values["rejected_total"] = sum(self.rejected.values())
        for kind, count in sorted(self.rejected.items()):
            values[f"rejected_{kind}"] = count
        values.update(self.extra_diagnostics())
        self.diagnostics.publish(level, message, values)

    def extra_diagnostics(self) -> dict[str, object]:
        return {}

    def shutdown(self) -> None:
        self._running = False
        self.slot.close()
        self.worker.join(timeout=2.0)


def run_node(node_class: type[SegmentationNode], args: list[str] | None = None) -> int:
    """Main of a segmentation node: one clear line and exit code 1 on a start-up failure,
    clean exit on SIGINT/SIGTERM."""
    rclpy.init(args=args)
    node = None
    try:
        node = node_class()
        rclpy.spin(node)
    except (ModelError, ValueError) as exc:  # bad model file or parameter (EventError too)
        print(f"[FATAL] [{node_class.node_name}]: cannot start: {exc}", flush=True)
        return 1
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.shutdown()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
