"""Publishing a segmentation result: mask, colour mask, camera info, latency, and the latched
LabelInfo."""

from __future__ import annotations

import math
import time

import numpy as np
from builtin_interfaces.msg import Time
from ness_msgs.msg import SegmentationLatency
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import LabelInfo, VisionClass

from ness_ros.events.cdr import Header
from ness_ros.events.image_codec import encode_image_cdr
from ness_ros.labels import colourize
from ness_ros.ros.qos import LATCHED_QOS, OUTPUT_QOS
from ness_ros.segmentation.result import SegmentationResult


class SegmentationOutputs:
    """The output topics of a segmentation node (relative names: ``~/mask`` and so on)."""

    def __init__(self, node: Node, class_names: list[str], palette: list[list[int]]) -> None:
        """``class_names`` and ``palette`` (one RGB row per class) are the model card's."""
        self.node = node
        self.palette = np.asarray(palette, dtype=np.uint8)
        self.mask = node.create_publisher(Image, "~/mask", OUTPUT_QOS)
        self.mask_color = node.create_publisher(Image, "~/mask_color", OUTPUT_QOS)
        self.camera_info = node.create_publisher(CameraInfo, "~/camera_info", OUTPUT_QOS)
        self.latency = node.create_publisher(SegmentationLatency, "~/latency", OUTPUT_QOS)
        self.label_info = node.create_publisher(LabelInfo, "~/label_info", LATCHED_QOS)
        info = LabelInfo()
        info.header.stamp = node.get_clock().now().to_msg()
        info.class_map = [VisionClass(class_id=i, class_name=n) for i, n in enumerate(class_names)]
        info.threshold = 0.0
        self.label_info.publish(info)

    def publish(self, result: SegmentationResult, header: Header, arrival_ns: int,
                live_tolerance_s: float, waits_ms: dict[str, float] | None = None,
                camera_info: CameraInfo | None = None) -> SegmentationLatency:
        """Publish mask and colour mask (serialized here, by the project's codec) stamped with
        the input's header, ``camera_info`` (the mask's, same header) when there is one, then
        the latency message. The colour mask is rendered only while
        ``~/mask_color`` has a subscriber. ``arrival_ns`` is the monotonic time
        (time.monotonic_ns) at which the input arrived; ``waits_ms`` the worker's waits before
        segmenting (``queue``, ``events_wait``). Returns the latency message."""
        start = time.monotonic_ns()
        self.mask.publish(encode_image_cdr(result.mask, "mono8", header))
        if self.mask_color.get_subscription_count():  # rendered only for someone (lazy)
            colour = colourize(result.mask, self.palette)
            self.mask_color.publish(encode_image_cdr(colour, "rgb8", header))
        if camera_info is not None:
            self.camera_info.publish(camera_info)
        done = time.monotonic_ns()
        now_ns = self.node.get_clock().now().nanoseconds
        end_to_end_ms = (now_ns - header.stamp_ns) / 1e6
        msg = SegmentationLatency()
        msg.header.stamp = Time(sec=header.stamp_sec, nanosec=header.stamp_nanosec)
        msg.header.frame_id = header.frame_id
        msg.processing_ms = (done - arrival_ns) / 1e6
        # End-to-end latency only means something when stamps are live (not a replayed past).
        live = abs(end_to_end_ms) <= live_tolerance_s * 1e3
        msg.end_to_end_ms = end_to_end_ms if live else math.nan
        waits = waits_ms or {}
        msg.queue_ms = waits.get("queue", 0.0)
        msg.events_wait_ms = waits.get("events_wait", 0.0)
        msg.represent_ms = result.stage_ms.get("represent", 0.0)
        msg.motion_ms = result.stage_ms.get("motion", 0.0)
        msg.gate_ms = result.stage_ms.get("gate", 0.0)
        msg.inference_ms = result.stage_ms.get("inference", 0.0)
        msg.paste_ms = result.stage_ms.get("paste", 0.0)
        msg.publish_ms = (done - start) / 1e6
        msg.regions_recomputed = result.regions_recomputed
        msg.regions_total = result.regions_total
        msg.keyframe = result.keyframe
        self.latency.publish(msg)
        return msg
