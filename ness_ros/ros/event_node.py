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
from ness_ros.ros.node_base import SegmentationNode
from ness_ros.ros.node_params import INPUT_QOS_OVERRIDES, working_max_pixels_param
from ness_ros.ros.params import ParamSpec
from ness_ros.ros.qos import SENSOR_QOS
from ness_ros.ros.startup import run
from ness_ros.segmentation.event_only import EventSegmenter
from ness_ros.segmentation.inputs import InputEncoder
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

    _frame_id = ""                       # of the newest event message: the masks' frame
    _last_trigger_ns: int | None = None   # stamp of the last period trigger

    def make_segmenter(self, encoder: InputEncoder) -> EventSegmenter:
        return EventSegmenter(self.model, encoder, device=self.device)

    def subscribe_inputs(self) -> None:
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
        self.admit(None, header, arrival)

    def _on_period(self) -> None:
        """A window ending right after the newest event, when there is a newer one than the
        last window's (after a loop of the input, an older one)."""
        newest = self.pipeline.events.newest_ns
        if newest is None or newest + 1 == self._last_trigger_ns:
            return
        self._last_trigger_ns = newest + 1
        self.admit(None, Header.from_ns(newest + 1, self._frame_id), time.monotonic_ns())

    def extra_diagnostics(self) -> dict[str, object]:
        # Without frames there is no photometric residual to gate on and no keyframe to carry:
        # every mask is a full pass of the event-only model.
        return {"reuse": "none (every mask a full pass)"}


def main(args: list[str] | None = None) -> None:
    run(EventSegmentationNode, args)


if __name__ == "__main__":
    main()
