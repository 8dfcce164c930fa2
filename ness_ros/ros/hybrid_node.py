"""hybrid_segmentation: RGB or mono frames plus events, recomputing only changed regions.

Subscribes ``image`` (sensor_msgs/Image), ``events`` (dvs_msgs/EventArray, or
event_camera_msgs/EventPacket with ``event_message: packet``) and, optionally, ``camera_info``;
publishes ``~/mask``, ``~/mask_color``, ``~/camera_info`` (with camera_info in),
``~/label_info``, ``~/latency`` and ``/diagnostics``. The algorithm is
:class:`ness_ros.segmentation.hybrid.HybridSegmenter`.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

from sensor_msgs.msg import Image

from ness_ros.errors import ParameterError
from ness_ros.events.errors import InputError
from ness_ros.events.stream import decode_frame
from ness_ros.ros.node_base import SegmentationNode
from ness_ros.ros.node_params import INPUT_QOS_OVERRIDES, working_max_pixels_param
from ness_ros.ros.params import ParamSpec
from ness_ros.ros.qos import SENSOR_QOS
from ness_ros.ros.startup import run
from ness_ros.segmentation.guided import DEFAULT_GUIDED
from ness_ros.segmentation.hybrid import GatingConfig, HybridSegmenter
from ness_ros.segmentation.inputs import InputEncoder

#: Gating parameters: node parameter name -> GatingConfig field (all changeable at run time;
#: defaults: :class:`~ness_ros.segmentation.gating_config.GatingConfig`'s own).
GATING_PARAMS = {"reuse": "reuse", "theta": "theta", "residual_theta": "residual_theta",
                 "residual_level": "residual_level", "flow_preset": "flow_preset",
                 "accumulate_change": "accumulate", "grid_rows": "rows", "grid_cols": "cols",
                 "margin": "margin", "max_window_fraction": "max_window_fraction",
                 "keyframe_interval": "keyframe_interval",
                 "keyframe_max_age_s": "keyframe_max_age_s",
                 "max_changed_fraction": "max_changed_fraction"}
G = GatingConfig()


class HybridSegmentationNode(SegmentationNode):
    node_name = "hybrid_segmentation"
    default_model = "segsnn"
    extra_params = [
        working_max_pixels_param(0, "SegSNN runs its 346 x 260 training size in about 25 ms"),
        ParamSpec("reuse", G.reuse, "how kept labels are reused: warped (they follow the motion "
                  "between frames, dense optical flow; a region is segmented again when what "
                  "the motion does not explain adds up to residual_theta) or static (they stay "
                  "in place; a region is segmented again when its events pass theta, the "
                  "published rule)", dynamic=True),
        ParamSpec("theta", G.theta, "static reuse: change threshold, a region is segmented "
                  "again when its mean event count per pixel (see accumulate_change) is at or "
                  "above this (events/pixel); 0 recomputes all regions, a huge value keeps the "
                  "keyframe", 0.0, 1e9, dynamic=True),
        ParamSpec("residual_theta", G.residual_theta, "warped reuse: a region is segmented "
                  "again when the share of its pixels the motion does not explain, summed over "
                  "the frames since its labels were computed, is at or above this (inf: no gate, "
                  "labels carried from keyframe to keyframe without the residual)", 0.0, math.inf,
                  dynamic=True),
        ParamSpec("residual_level", G.residual_level, "warped reuse: grey levels of "
                  "difference between the frame and the previous one moved by the motion above "
                  "which a pixel is unexplained", 0, 255, dynamic=True),
        ParamSpec("flow_preset", G.flow_preset, "warped reuse: DIS optical flow preset: fine "
                  "(ultrafast with small patches), or OpenCV's ultrafast, fast, medium",
                  dynamic=True),
        ParamSpec("max_window_fraction", G.max_window_fraction, "warped reuse: changed "
                  "regions run as windows (one per cluster, margin included) while these cost "
                  "at most this fraction of a full pass, as a full pass otherwise", 0.0, 1.0,
                  dynamic=True),
        ParamSpec("accumulate_change", G.accumulate, "count a region's change since its labels "
                  "were computed (true), or only since the previous processed frame (false, the "
                  "published rule: slow steady change never reaches theta)", dynamic=True),
        ParamSpec("grid_rows", G.rows, "rows of the region grid", 1, 64, dynamic=True),
        ParamSpec("grid_cols", G.cols, "columns of the region grid", 1, 64, dynamic=True),
        ParamSpec("margin", G.margin, "context margin around each recomputed region or window, "
                  "pixels", 0, 256, dynamic=True),
        ParamSpec("keyframe_interval", G.keyframe_interval, "a full pass every this many frames "
                  "(0: never by count)", 0, 100_000, dynamic=True),
        ParamSpec("keyframe_max_age_s", G.keyframe_max_age_s, "a full pass when the keyframe is "
                  "older than this (0: never by age), s", 0.0, 3600.0, dynamic=True),
        ParamSpec("max_changed_fraction", G.max_changed_fraction, "a full pass when more than "
                  "this fraction of regions changed", 0.0, 1.0, dynamic=True),
        ParamSpec("guided_upsampling", False, "upsample the model's class scores guided by the "
                  "frame's edges, 1-3 ms per frame more (false: the model's bilinear logits)"),
    ]

    def make_segmenter(self, encoder: InputEncoder) -> HybridSegmenter:
        return HybridSegmenter(self.model, encoder, self._gating(self.params), device=self.device,
                               guided=DEFAULT_GUIDED if self.params["guided_upsampling"] else None)

    def subscribe_inputs(self) -> None:
        self.create_subscription(Image, "image", self._on_image, SENSOR_QOS, raw=True,
                                 qos_overriding_options=INPUT_QOS_OVERRIDES)

    @staticmethod
    def _gating(values: dict[str, Any]) -> GatingConfig:
        return GatingConfig(**{field: values[name] for name, field in GATING_PARAMS.items()})

    def check_params(self, values: dict[str, Any]) -> None:
        """Raise ParameterError naming the first gating parameter that does not validate."""
        try:
            self._gating(values).validate()
        except ValueError as exc:
            for name, field in GATING_PARAMS.items():  # which one: each alone on the defaults
                try:
                    replace(GatingConfig(), **{field: values[name]}).validate()
                except ValueError:
                    raise ParameterError(name, str(exc)) from exc
            raise ParameterError(", ".join(GATING_PARAMS), str(exc)) from exc

    def apply_params(self, merged: dict[str, Any], changes: dict[str, Any]) -> str | None:
        if not any(name in GATING_PARAMS for name in changes):
            return None
        gating = self._gating(merged)
        try:
            gating.validate()
        except ValueError as exc:
            return str(exc)
        self.segmenter.configure(replace(gating))
        threshold = (f"residual_theta={gating.residual_theta}" if gating.reuse == "warped"
                     else f"theta={gating.theta}")
        self.get_logger().info(f"gating now reuse={gating.reuse} {threshold} grid="
                               f"{gating.rows}x{gating.cols} margin={gating.margin}")
        return None

    def _on_image(self, data: bytes) -> None:
        arrival = time.monotonic_ns()
        try:
            rgb, header, _ = decode_frame(data)
        except InputError as exc:
            self.reject(f"image_{exc.kind}", exc)
            return
        self.admit(rgb, header, arrival, (rgb.shape[1], rgb.shape[0]))

    def extra_diagnostics(self) -> dict[str, object]:
        g = self.segmenter.gating
        return {"reuse": g.reuse, "theta": g.theta, "residual_theta": g.residual_theta,
                "grid": f"{g.rows}x{g.cols}",
                "keyframe_max_age_s": g.keyframe_max_age_s if g.keyframe_max_age_s else math.inf}


def main(args: list[str] | None = None) -> None:
    run(HybridSegmentationNode, args)


if __name__ == "__main__":
    main()
