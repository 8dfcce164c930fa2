"""The parameters both segmentation nodes declare, and how they become core objects.

The table is the node's reference (``ros2 param describe``; doc/nodes.md lists it too). The
defaults of the event buffer are :class:`~ness_ros.events.stream.EventStream`'s,
those of the working resolution :class:`~ness_ros.segmentation.working_resolution.
WorkingResolution`'s; test/test_defaults_one_source.py checks them against each other and
config/segmentation.yaml against the table.
"""

from __future__ import annotations

from typing import Any

from rclpy.qos import HistoryPolicy, QoSProfile
from rclpy.qos_overriding_options import QoSOverridingOptions

from ness_ros.errors import ParameterError
from ness_ros.ros.params import ParamSpec
from ness_ros.ros.qos import SENSOR_QOS
from ness_ros.ros.spin import EXECUTOR_PARAM
from ness_ros.segmentation.working_resolution import WorkingResolution

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


def working_resolution(values: dict[str, Any]) -> WorkingResolution:
    """The working resolution of the node's parameters.

    Raises:
        ParameterError: naming the parameter that does not validate.
    """
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
