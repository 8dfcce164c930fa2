"""segmentation_evaluator subscribes labels only once a segmenter publishes masks and latency, so
a source that waits for its subscribers starts when the whole chain is discovered."""

from __future__ import annotations

import time
from contextlib import contextmanager

import rclpy
from ness_msgs.msg import SegmentationLatency
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from vision_msgs.msg import LabelInfo, VisionClass

from ness_ros.labels import DSEC11_CLASS_NAMES
from ness_ros.ros.evaluator_node import SegmentationEvaluatorNode
from ness_ros.ros.qos import LATCHED_QOS, OUTPUT_QOS


def spin_until(executor, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not condition():
        executor.spin_once(timeout_sec=0.05)
    return condition()


@contextmanager
def evaluator_graph(namespace: str, with_segmenter: bool = True, **evaluator_options):
    """An evaluator node (and a bare node standing for its segmenter) in ``namespace``, spun by
    one executor; everything is destroyed afterwards."""
    rclpy.init()
    executor = SingleThreadedExecutor()
    evaluator = SegmentationEvaluatorNode(namespace=namespace, **evaluator_options)
    segmenter = rclpy.create_node("fake_segmenter", namespace=namespace) if with_segmenter \
        else None
    for node in (evaluator, segmenter):
        if node is not None:
            executor.add_node(node)
    try:
        yield executor, evaluator, segmenter
    finally:
        executor.shutdown()
        evaluator.destroy_node()
        if segmenter is not None:
            segmenter.destroy_node()
        rclpy.shutdown()


def test_labels_are_subscribed_once_mask_and_latency_have_publishers():
    with evaluator_graph("/evaluator_wait") as (executor, evaluator, segmenter):
        spin_until(executor, lambda: False, 1.0)
        assert evaluator.labels_sub is None  # nobody publishes masks yet
        segmenter.create_publisher(Image, "mask", OUTPUT_QOS)
        spin_until(executor, lambda: False, 1.0)
        assert evaluator.labels_sub is None  # masks alone are not enough: latency too
        segmenter.create_publisher(SegmentationLatency, "latency", OUTPUT_QOS)
        assert spin_until(executor, lambda: evaluator.labels_sub is not None, 30.0)
        assert evaluator.labels_sub.topic_name == "/evaluator_wait/labels"


def test_without_a_segmenter_labels_are_subscribed_after_the_wait_with_a_warning():
    with evaluator_graph("/evaluator_alone", with_segmenter=False, parameter_overrides=[
            Parameter("wait_for_segmenter_s", value=0.3)]) as (executor, evaluator, _):
        assert spin_until(executor, lambda: evaluator.labels_sub is not None, 10.0)
        assert evaluator.count_publishers("/evaluator_alone/mask") == 0


def test_the_evaluator_scores_the_class_set_of_the_segmenters_label_info():
    """A segmenter of DSEC's 11 classes publishes an 11-class LabelInfo (latched): the
    evaluator's confusion matrix takes that size before the first frame is scored."""
    with evaluator_graph("/evaluator_classes") as (executor, evaluator, segmenter):
        assert evaluator.evaluator.num_classes == 6  # ness_ros.labels until told otherwise
        info = LabelInfo()
        info.class_map = [VisionClass(class_id=i, class_name=n)
                          for i, n in enumerate(DSEC11_CLASS_NAMES)]
        segmenter.create_publisher(LabelInfo, "label_info", LATCHED_QOS).publish(info)
        assert spin_until(executor, lambda: evaluator.evaluator.num_classes == 11, 30.0)
        assert evaluator.class_names == list(DSEC11_CLASS_NAMES)
        assert evaluator.evaluator.confusion.shape == (11, 11)
