"""event_segmentation: events only (EvSegSNN) over a sliding window.

Subscribes ``events`` (and ``image`` when ``trigger: frame``, whose stamps alone are used) and,
optionally, ``camera_info`` (the event camera's); publishes ``~/mask``, ``~/mask_color``,
``~/camera_info`` (with camera_info in), ``~/label_info``, ``~/latency`` and ``/diagnostics``.
With ``trigger: period`` a mask is computed every ``period_s`` for the window ending at the
newest event. The algorithm is :class:`ness_ros.segmentation.event_only.EventSegmenter`.
"""

from __future__ import annotations

import time
from typing import Any

from sensor_msgs.msg import Image

from ness_ros.errors import ParameterError
from ness_ros.events.cdr import CdrReader, Header
from ness_ros.events.errors import EventError
from ness_ros.ros.node_base import (
    INPUT_QOS_OVERRIDES,
    SegmentationNode,
    working_max_pixels_param,
)
from ness_ros.ros.params import ParamSpec
from ness_ros.ros.qos import SENSOR_QOS
from ness_ros.ros.startup import run
from ness_ros.segmentation.event_only import EventSegmenter
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.result import SegmentationResult
from ness_ros.segmentation.working_resolution import EVENT_ONLY_MAX_PIXELS

TRIGGERS = ("period", "frame")


class EventSegmentationNode(SegmentationNode):
    node_name = "event_segmentation"
    default_model = "evsegsnn"
    extra_params = [
        working_max_pixels_param(EVENT_ONLY_MAX_PIXELS, "EvSegSNN costs about twice SegSNN "
                                 "a pixel: capped, 277 x 208 at 4:3 and 320 x 180 at 16:9, it "
                                 "keeps 20 Hz on one core"),
        ParamSpec("trigger", "period", "when to segment: period (every period_s, window ending "
                  "at the newest event) or frame (at the stamp of each message on `image`)"),
        ParamSpec("period_s", 0.05, "segmentation period when trigger is period, s",
                  0.001, 10.0),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.node_name, **kwargs)
        self.segmenter = EventSegmenter(self.model, InputEncoder.from_card(self.card),
                                        device=self.device)
        self.window_ns = self.segmenter.encoder.event_window_ns
        self.segmenter.warm_up(*self.card.input_size)
        self._last_stamp: int | None = None
        self._frame_id = ""
        if self.params["trigger"] == "frame":
            self.create_subscription(Image, "image", self._on_frame, SENSOR_QOS, raw=True,
                                     qos_overriding_options=INPUT_QOS_OVERRIDES)
        else:
            self.create_timer(self.params["period_s"], self._on_period)

    def check_params(self, values: dict[str, Any]) -> None:
        if values["trigger"] not in TRIGGERS:
            raise ParameterError("trigger", f"must be one of {', '.join(TRIGGERS)}, got "
                                            f"{values['trigger']!r}")

    def _on_events(self, data: bytes) -> None:
        super()._on_events(data)
        try:
            self._frame_id = CdrReader(data, "events").header().frame_id or self._frame_id
        except EventError:
            pass  # already counted by the base class

    def _on_frame(self, data: bytes) -> None:
        arrival = time.monotonic_ns()
        try:
            header = CdrReader(data, "Image").header()
        except EventError as exc:
            self.reject("image_malformed", exc)
            return
        if self.admit_frame(header):
            self.enqueue((None, header, arrival))

    def _on_period(self) -> None:
        with self.lock:
            newest = self.events.newest_ns
        if newest is None or (self._last_stamp is not None and newest <= self._last_stamp):
            return
        self.enqueue((None, Header.from_ns(newest + 1, self._frame_id), time.monotonic_ns()))

    def process(self, payload: Any, header: Header) -> SegmentationResult | None:
        stamp = header.stamp_ns
        if self._last_stamp is not None and stamp < self._last_stamp:
            self.get_logger().warning("window stamp went backwards (bag loop?): state reset")
            self.counts["frame_time_resets"] += 1
            self.segmenter.reset()
        self._last_stamp = stamp
        events = self.events_until(stamp - self.window_ns, stamp)
        if events is None:
            return None
        start = time.perf_counter()
        rescaler = self.rescaler((events.width, events.height))
        binned = rescaler.events(events)
        binning_ms = (time.perf_counter() - start) * 1e3
        result = self.segmenter.segment(binned, stamp)
        result.stage_ms["represent"] += binning_ms  # binning is part of the input's making
        return self.to_output(result, rescaler)

    def extra_diagnostics(self) -> dict[str, object]:
        # Without frames there is no photometric residual to gate on and no keyframe to carry:
        # every mask is a full pass of the event-only model.
        return {"reuse": "none (every mask a full pass)"}


def main(args: list[str] | None = None) -> None:
    run(EventSegmentationNode, args)


if __name__ == "__main__":
    main()
