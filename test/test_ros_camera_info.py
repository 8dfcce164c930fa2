"""camera_info in, ~/camera_info out: the hybrid node in its own process, over DDS.

Two hybrid nodes: one is sent the camera's CameraInfo with every frame (as a driver publishes
it), the other never is. With it, every mask comes with a ~/camera_info of the mask's header and the
camera's intrinsics (the mask is at the image's resolution); a CameraInfo of another size is
counted and not used. Without it, masks arrive and no ~/camera_info is published. An
event_segmentation node does the same with the event camera's info.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from dvs_msgs.msg import EventArray
from sensor_msgs.msg import CameraInfo
from test_faults_support import H, NodeDriver, W, random_events

from helpers.tiny_models import tiny_model_file
from ness_ros.events import Header, decode_image_cdr, encode_event_array
from ness_ros.graph import NodeSpec
from ness_ros.ros.harness import NodeHarness, subscribe_outputs
from ness_ros.ros.qos import OUTPUT_QOS, SENSOR_QOS

PARAMS = {"theta": 1.0, "grid_rows": 2, "grid_cols": 3, "event_wait_s": 0.05,
          "diagnostics_period_s": 0.2}


def camera_info(width: int = W, height: int = H, fx: float = 80.0) -> CameraInfo:
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob",
                      d=[-0.2, 0.05, 0.001, -0.001, 0.0], binning_x=0, binning_y=0)
    info.k = [fx, 0.0, 47.25, 0.0, fx * 1.01, 31.5, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, 47.0, -4.0, 0.0, fx, 31.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.header.frame_id = "cam"
    return info


class InfoDriver(NodeDriver):
    """A NodeDriver that also publishes camera_info and collects ~/camera_info by stamp."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.info_pub = self.node.create_publisher(CameraInfo, self.topics["camera_info"],
                                                   SENSOR_QOS)
        self.infos: dict[int, CameraInfo] = {}
        self.node.create_subscription(
            CameraInfo, f"/{self.name}/camera_info",
            lambda m: self.infos.setdefault(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec,
                                            m), OUTPUT_QOS)

    def frame_with_info(self, info: CameraInfo | None) -> int:
        """A frame and its events, with ``info`` stamped like the frame (sent first, as a
        driver's camera_info may arrive before or after its image); returns the stamp."""
        stamp = self.stamp + 50_000_000
        if info is not None:
            info.header.stamp.sec, info.header.stamp.nanosec = divmod(stamp, 10**9)
            self.info_pub.publish(info)
        assert self.next_frame() == stamp
        return stamp


@pytest.fixture(scope="module")
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.fixture(scope="module")
def drivers(ros, tmp_path_factory):
    folder = tmp_path_factory.mktemp("camera_info")
    model = tiny_model_file(folder, base_width=8)
    made = {}
    try:
        for name in ("camera_info_in", "camera_info_none"):
            made[name] = InfoDriver(name, {"model": str(model), **PARAMS},
                                    folder / f"{name}.log")
        for driver in made.values():
            driver.ready()
            assert driver.spin_until(lambda d=driver: d.info_pub.get_subscription_count() > 0)
        yield made
    finally:
        codes = {name: (d.stop()[0], d.log()) for name, d in made.items()}
    for name, (code, log) in codes.items():
        assert code == 0, f"{name}:\n{log}"


def assert_same_intrinsics(got: CameraInfo, sent: CameraInfo) -> None:
    assert (got.width, got.height) == (sent.width, sent.height)
    assert got.distortion_model == sent.distortion_model
    for field in ("k", "p", "d", "r"):
        np.testing.assert_array_equal(np.asarray(getattr(got, field)),
                                      np.asarray(getattr(sent, field)), err_msg=field)


def test_every_mask_comes_with_a_camera_info_of_its_header_and_the_camera_s_intrinsics(drivers):
    driver = drivers["camera_info_in"]
    sent = camera_info()
    # The first info may reach the node after its frame's mask was published (best effort,
    # two subscriptions): once one ~/camera_info came, every mask has its own.
    for _ in range(100):
        driver.frame_with_info(sent)
        if driver.spin_until(lambda: bool(driver.infos), 0.3):
            break
    assert driver.infos, driver.log()
    stamps = []
    for _ in range(5):  # one at a time: a frame sent while one is segmented replaces it
        stamps.append(stamp := driver.frame_with_info(sent))
        assert driver.mask_for(stamp) == (H, W), driver.log()
        assert driver.spin_until(lambda s=stamp: s in driver.infos), f"no camera_info at {stamp}"
        info = driver.infos[stamp]
        assert info.header.frame_id == "cam"
        assert_same_intrinsics(info, sent)
    # Every published info belongs to a mask: same stamps, nothing else.
    masks = {s for s, _ in driver.masks}
    assert set(driver.infos) <= masks
    values = driver.settle()
    assert int(values["camera_info_published"]) == len(driver.infos)
    assert int(values["camera_info_received"]) >= len(stamps)


def test_a_camera_info_of_another_size_is_counted_and_the_last_good_one_used(drivers):
    driver = drivers["camera_info_in"]
    good, wrong = camera_info(), camera_info(W * 2, H * 2, fx=160.0)
    for _ in range(30):
        stamp = driver.frame_with_info(good)
        if driver.spin_until(lambda s=stamp: s in driver.infos, 1.0):
            break
    assert driver.infos, "no camera_info before the test"
    before = driver.count("rejected_camera_info_size")
    stamps = []
    for _ in range(3):
        stamps.append(stamp := driver.frame_with_info(wrong))
        assert driver.mask_for(stamp) == (H, W), driver.log()
    assert driver.wait_count("rejected_camera_info_size", before + 3), driver.values()
    values = driver.settle()
    assert int(values["rejected_total"]) >= int(values["rejected_camera_info_size"])
    for stamp in stamps:
        assert driver.spin_until(lambda s=stamp: s in driver.infos), f"no camera_info at {stamp}"
        assert_same_intrinsics(driver.infos[stamp], good)
    assert "rejected camera info size" in driver.log()


def test_without_camera_info_masks_arrive_and_no_camera_info_is_published(drivers):
    driver = drivers["camera_info_none"]
    stamps = driver.serve(5)
    values = driver.settle()
    assert int(values["frames_published"]) >= len(stamps)
    assert driver.infos == {}
    assert int(values["camera_info_received"]) == 0
    assert int(values["camera_info_published"]) == 0
    assert int(values.get("rejected_total", 0)) == 0


def test_event_node_counts_an_info_before_its_first_events_and_follows_a_good_one(ros,
                                                                                   tmp_path):
    """event_segmentation (trigger: period) whose camera_info came before any event: the info
    is checked at the first mask (4 x the sensor: counted, not used, masks go on); the good one
    sent next comes with every mask."""
    name = "camera_info_events"
    topics = {"events": f"/{name}/in/events", "camera_info": f"/{name}/in/camera_info"}
    spec = NodeSpec("event_segmentation", name, [], {
        "model": str(tiny_model_file(tmp_path, "evsegsnn", width=W, height=H)),
        "event_message": "dvs", "trigger": "period", "period_s": 0.1, "event_wait_s": 0.0,
        "diagnostics_period_s": 0.2}, list(topics.items()))
    harness = NodeHarness([spec], tmp_path, f"{name}_test")
    log = harness.graph.log_path(name)
    node = harness.node
    masks: list[int] = []
    infos: dict[int, CameraInfo] = {}
    values: dict[str, str] = {}
    try:
        events_pub = node.create_publisher(EventArray, topics["events"], SENSOR_QOS)
        info_pub = node.create_publisher(CameraInfo, topics["camera_info"], SENSOR_QOS)
        subscribe_outputs(node, name, mask=lambda d: masks.append(decode_image_cdr(d)[2].stamp_ns),
                          diagnostics=lambda _, got: values.update(got))
        node.create_subscription(CameraInfo, f"/{name}/camera_info", lambda m: infos.setdefault(
            m.header.stamp.sec * 10**9 + m.header.stamp.nanosec, m), OUTPUT_QOS)
        harness.start()
        rng = np.random.default_rng(3)

        def until(condition, *, info: CameraInfo | None = None, events: bool = True) -> bool:
            """Send ``info`` and 20 ms of live events at a time until ``condition`` holds."""
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline:
                if info is not None:
                    info_pub.publish(info)
                if events:
                    now = time.time_ns()
                    batch = random_events(rng, now - 20_000_000, now, 500)
                    events_pub.publish(encode_event_array(batch, Header.from_ns(now, "cam")))
                if harness.spin_until(condition, 0.02):
                    return True
            return False

        wrong, good = camera_info(W * 4, H * 4), camera_info()
        # No events yet: the sensor size is unknown, the info is kept until the first mask.
        assert until(lambda: values.get("camera_info_received", "0") != "0", info=wrong,
                     events=False), log.read_text()[-3000:]
        assert until(lambda: len(masks) >= 3), log.read_text()[-3000:]
        assert until(lambda: int(values.get("rejected_camera_info_size", 0)) >= 1), values
        assert infos == {}
        assert until(lambda: len(infos) >= 3, info=good), log.read_text()[-3000:]
        for stamp, info in infos.items():
            assert stamp in masks and info.header.frame_id == "cam"
            assert_same_intrinsics(info, good)
    finally:
        code = harness.stop(timeout=10.0)[name]
    assert code == 0, log.read_text()[-3000:]
