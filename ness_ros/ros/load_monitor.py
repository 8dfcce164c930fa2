"""``ness bench load``'s measuring side in ROS: the node started under a
:class:`~ness_ros.ros.harness.NodeHarness`, its ~/latency, /diagnostics and label_info
subscribed, its memory and CPU sampled between spins (:class:`Monitor`); what it collects and how
it is summarised are :mod:`ness_ros.bench.load`'s (ROS-free)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from vision_msgs.msg import LabelInfo

from ness_ros.bench.load import NODE_NAME, LoadSamples
from ness_ros.graph import NodeSpec
from ness_ros.ros.harness import NodeHarness, subscribe_outputs
from ness_ros.ros.qos import LATCHED_QOS


def harness(spec: NodeSpec, log_dir: Path) -> NodeHarness:
    """The node of ``spec`` (not started yet) and this process's monitor node, in a ROS
    context of their own."""
    return NodeHarness([spec], log_dir, f"{NODE_NAME}_monitor", own_context=True)


class Monitor(LoadSamples):
    """Collects the node's ~/latency and /diagnostics and samples its memory (the node of
    ``harness``, started)."""

    def __init__(self, harness: NodeHarness) -> None:
        super().__init__(harness.process(NODE_NAME).pid)
        self.harness = harness
        subscribe_outputs(harness.node, NODE_NAME, latency=self._on_latency,
                          diagnostics=self._on_diagnostics)
        harness.node.create_subscription(LabelInfo, f"/{NODE_NAME}/label_info",
                                         lambda _: setattr(self, "ready", True), LATCHED_QOS)

    def _on_latency(self, msg: Any) -> None:
        self.latency.append((time.monotonic(), msg.processing_ms, msg.end_to_end_ms,
                             msg.keyframe))

    def _on_diagnostics(self, status: Any, values: dict[str, str]) -> None:
        self.diagnostics.append((time.monotonic(), values, status.message))

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            self.sample(now)
            if now >= end:
                return
            self.harness.spin_once(min(0.05, end - now))
