"""segmentation_evaluator: compares published masks with ground-truth labels by stamp.

Subscribes ``mask`` and ``labels`` (sensor_msgs/Image mono8), ``latency``
(ness_msgs/SegmentationLatency), ``label_info`` (vision_msgs/LabelInfo, latched: the segmenter's
class set, so that a model of DSEC's 11 classes is scored on 11; until it comes, the six of
ness_ros.labels) and, for overlays, ``image``. Reports MIoU, pixel accuracy,
latency and the fraction of regions recomputed on ``/diagnostics`` and in its log (until the first
mask matches a label, it says so once: a source may take a minute to prepare); on shutdown it
writes ``report.json`` and ``overlays.png`` to ``report_dir`` when that is set, and logs where.

``labels`` is subscribed only once a segmenter publishes both ``mask`` and ``latency`` (or after
``wait_for_segmenter_s``): a source that waits for its subscribers, as the synthetic camera does,
then starts when the whole chain is discovered, and no early mask or latency message is lost to
a half-discovered graph.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ness_msgs.msg import SegmentationLatency
from rclpy.node import Node
from sensor_msgs.msg import Image
from vision_msgs.msg import LabelInfo

from ness_ros.events.errors import EventError
from ness_ros.events.image_codec import decode_image_cdr
from ness_ros.events.stream import decode_frame
from ness_ros.ros.diagnostics import DiagnosticsPublisher
from ness_ros.ros.params import ParamSpec, declare
from ness_ros.ros.qos import LATCHED_QOS, OUTPUT_QOS, SENSOR_QOS
from ness_ros.ros.spin import (
    EXECUTOR_PARAM,
    check_executor,
    spin,
)
from ness_ros.ros.startup import run
from ness_ros.segmentation.monitor import OK, WARN
from ness_ros.segmentation.online_eval import OnlineEvaluator
from ness_ros.segmentation.overlay import overlay_row, write_strip

PARAMS = [
    EXECUTOR_PARAM,
    ParamSpec("report_dir", "", "folder for report.json and overlays.png at shutdown (relative: "
              "under the working directory; empty: none)"),
    ParamSpec("overlay_every", 40, "keep every n-th evaluated frame for the overlay strip",
              1, 100_000),
    ParamSpec("overlay_count", 6, "frames in the overlay strip", 0, 100),
    ParamSpec("summary_period_s", 2.0, "period of /diagnostics and the log line, s", 0.1, 60.0),
    ParamSpec("wait_for_segmenter_s", 60.0, "subscribe labels once mask and latency have a "
              "publisher, or after this long, s", 0.0, 3600.0),
]


#: The node's waits and stages that ness_msgs/SegmentationLatency carries (field STAGE_ms).
STAGES = ("queue", "events_wait", "represent", "motion", "gate", "inference", "paste",
          "publish")


class SegmentationEvaluatorNode(Node):
    node_name = "segmentation_evaluator"
    runs_a_model = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.node_name, **kwargs)
        self.params = declare(self, PARAMS)
        check_executor(self.params["executor"])
        self.evaluator = OnlineEvaluator()
        self.frames: dict[int, Any] = {}
        self.overlays: list[Any] = []
        self.rejected = 0
        self._said_waiting = False
        self.diagnostics = DiagnosticsPublisher(self)
        self.mask_sub = self.create_subscription(Image, "mask", self._on_mask, OUTPUT_QOS,
                                                 raw=True)
        self.latency_sub = self.create_subscription(SegmentationLatency, "latency",
                                                    self._on_latency, OUTPUT_QOS)
        self.create_subscription(Image, "image", self._on_image, SENSOR_QOS, raw=True)
        self.create_subscription(LabelInfo, "label_info", self._on_label_info, LATCHED_QOS)
        self.class_names: list[str] = []
        self.labels_sub = None
        self._started = time.monotonic()
        self._segmenter_timer = self.create_timer(0.05, self._subscribe_labels_when_heard)
        self.create_timer(self.params["summary_period_s"], self._report)

    def _subscribe_labels_when_heard(self) -> None:
        heard = (self.mask_sub.get_publisher_count() > 0
                 and self.latency_sub.get_publisher_count() > 0)
        waited = time.monotonic() - self._started
        if not heard and waited < self.params["wait_for_segmenter_s"]:
            return
        self._segmenter_timer.cancel()
        if not heard:
            self.get_logger().warning(
                f"no segmenter publishes on {self.mask_sub.topic_name} and "
                f"{self.latency_sub.topic_name} after {waited:.0f} s; subscribing labels anyway")
        self.labels_sub = self.create_subscription(Image, "labels", self._on_label, SENSOR_QOS,
                                                   raw=True)

    def _on_label_info(self, msg: LabelInfo) -> None:
        """The segmenter's class set: the confusion matrix takes its size (before the first
        evaluated frame; a change later is logged and ignored)."""
        names = [c.class_name for c in sorted(msg.class_map, key=lambda c: c.class_id)]
        if not names or names == self.class_names:
            return
        if self.evaluator.frames and len(names) != self.evaluator.num_classes:
            self.get_logger().warning(f"the segmenter's classes changed to {len(names)} after "
                                      f"{self.evaluator.frames} frames were scored on "
                                      f"{self.evaluator.num_classes}: kept")
            return
        self.class_names = names
        self.evaluator.use_classes(len(names))
        self.get_logger().info(f"scoring {len(names)} classes: {', '.join(names)}")

    def _decode(self, data: bytes):
        try:
            pixels, encoding, header = decode_image_cdr(data)
        except EventError as exc:
            self.rejected += 1
            self.get_logger().warning(f"rejected image: {exc}", throttle_duration_sec=5.0)
            return None, None
        return pixels, header

    def _on_mask(self, data: bytes) -> None:
        mask, header = self._decode(data)
        if mask is None:
            return
        pair = self.evaluator.add_mask(header.stamp_ns, mask, time.monotonic())
        self._keep_overlay(header.stamp_ns, pair)

    def _on_label(self, data: bytes) -> None:
        label, header = self._decode(data)
        if label is None:
            return
        pair = self.evaluator.add_label(header.stamp_ns, label)
        self._keep_overlay(header.stamp_ns, pair)

    def _on_image(self, data: bytes) -> None:
        if len(self.overlays) >= self.params["overlay_count"]:
            return
        try:
            rgb, header, _ = decode_frame(data)
        except EventError:
            return  # the segmentation node counts bad frames
        self.frames[header.stamp_ns] = rgb
        self._trim(self.frames)

    def _keep_overlay(self, stamp: int, pair) -> None:
        """Keep the first evaluated frame and every ``overlay_every``-th after it."""
        every, count = self.params["overlay_every"], self.params["overlay_count"]
        if pair is None or len(self.overlays) >= count or stamp not in self.frames:
            return
        if (self.evaluator.frames - 1) % every == 0:
            self.overlays.append(overlay_row(self.frames[stamp], *pair))

    @staticmethod
    def _trim(store: dict, keep: int = 100) -> None:
        while len(store) > keep:
            store.pop(next(iter(store)))

    def _on_latency(self, msg: SegmentationLatency) -> None:
        self.evaluator.add_latency(msg.processing_ms, msg.end_to_end_ms, msg.regions_recomputed,
                                   msg.regions_total, msg.keyframe,
                                   {stage: getattr(msg, f"{stage}_ms") for stage in STAGES})

    def _report(self) -> None:
        s = self.evaluator.summary()
        level = OK if s.frames_evaluated else WARN
        message = (f"MIoU {s.miou:.3f} over {s.frames_evaluated} frames" if s.frames_evaluated
                   else "no mask matched a label yet")
        self.diagnostics.publish(level, message, {
            "miou": s.miou, "pixel_accuracy": s.pixel_accuracy,
            "frames_evaluated": s.frames_evaluated, "masks_received": s.masks_received,
            "frames_per_s": s.frames_per_s,
            "processing_latency_p50_ms": s.processing_latency_ms["p50"],
            "processing_latency_p95_ms": s.processing_latency_ms["p95"],
            "end_to_end_latency_p95_ms": s.end_to_end_latency_ms["p95"],
            "recomputed_fraction_mean": s.recomputed_fraction_mean,
            "rejected": self.rejected})
        if s.frames_evaluated or not self._said_waiting:
            self._said_waiting = True
            self.get_logger().info(message)

    def run(self) -> None:
        spin(self, self.params["executor"])

    def close(self) -> None:
        self.destroy_node()  # first: its log line would go to /rosout of a dead context
        self.write_report()

    def write_report(self) -> None:
        folder = self.params["report_dir"]
        if not folder:
            return
        out = Path(folder).resolve()
        out.mkdir(parents=True, exist_ok=True)
        summary = asdict(self.evaluator.summary())
        summary["rejected"] = self.rejected
        summary["class_names"] = self.class_names
        (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
        written = ["report.json"]
        if self.overlays:
            write_strip(self.overlays, out / "overlays.png")
            written.append("overlays.png")
        self.get_logger().info(f"wrote {' and '.join(written)} to {out} "
                               f"({summary['frames_evaluated']} frames evaluated)")


def main(args: list[str] | None = None) -> None:
    """Exit code 0 on SIGINT/SIGTERM however many come; the report is written first."""
    run(SegmentationEvaluatorNode, args)


if __name__ == "__main__":
    main()
