"""Both segmentation nodes at real sensor resolutions, each in its own process, over DDS, with
the packaged weights and the default working size (``auto``: the model's 346 x 260, aspect
kept; the event-only node under its pixel cap): masks of the size asked for (the sensor's or the
working one), stamped like their inputs, each with a ``~/camera_info`` whose intrinsics put a
known 3-D point in the mask pixel that holds the sensor pixel the camera's own intrinsics put it
in; /diagnostics says which resolution runs.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from dvs_msgs.msg import EventArray
from sensor_msgs.msg import CameraInfo, Image

from ness_ros.events import EventBatch, Header, decode_image_cdr, encode_event_array
from ness_ros.events.image_codec import encode_image_cdr
from ness_ros.graph import NodeSpec
from ness_ros.ros.harness import NodeHarness, discovered, subscribe_outputs
from ness_ros.ros.qos import OUTPUT_QOS, SENSOR_QOS

#: (node executable, sensor (width, height), mask_resolution, the mask's (width, height), the
#: working size: SegSNN's 346 x 260 fitted, EvSegSNN's under its 57,600-pixel cap).
CASES = {
    "hybrid_vga": ("hybrid_segmentation", (640, 480), "sensor", (640, 480), (346, 260)),
    "hybrid_hd": ("hybrid_segmentation", (1280, 720), "working", (346, 195), (346, 195)),
    "events_hd": ("event_segmentation", (1280, 720), "sensor", (1280, 720), (320, 180)),
    "events_vga": ("event_segmentation", (640, 480), "working", (277, 208), (277, 208)),
}
#: The sensor pixel a known 3-D point projects to with the camera's intrinsics.
PIXEL = (401, 233)


def sensor_info(width: int, height: int) -> CameraInfo:
    fx, fy, cx, cy = 0.8 * width, 0.8 * width, width / 2 - 0.3, height / 2 + 0.2
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob",
                      d=[0.0] * 5, r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.header.frame_id = "cam"
    return info


def project(p: np.ndarray, point: np.ndarray) -> tuple[float, float]:
    u, v, w = np.asarray(p).reshape(3, 4) @ np.append(point, 1.0)
    return u / w, v / w


class Driver:
    def __init__(self, name: str, folder) -> None:
        executable, self.sensor, mask_resolution, self.mask_size, self.working = CASES[name]
        self.name, self.log_path = name, folder / f"{name}.log"
        self.topics = {"image": f"/{name}/in/image", "events": f"/{name}/in/events",
                       "camera_info": f"/{name}/in/camera_info"}
        params = {"event_message": "dvs", "mask_resolution": mask_resolution,
                  "event_wait_s": 0.05, "diagnostics_period_s": 0.3}
        if executable == "event_segmentation":
            params["trigger"] = "frame"  # masks at the stamps of our frames
        self.harness = NodeHarness([NodeSpec(executable, name, [], params,
                                             list(self.topics.items()))], folder,
                                   f"{name}_driver")
        self.node = self.harness.node
        self.image_pub = self.node.create_publisher(Image, self.topics["image"], SENSOR_QOS)
        self.events_pub = self.node.create_publisher(EventArray, self.topics["events"],
                                                     SENSOR_QOS)
        self.info_pub = self.node.create_publisher(CameraInfo, self.topics["camera_info"],
                                                   SENSOR_QOS)
        self.masks: dict[int, np.ndarray] = {}
        self.infos: dict[int, CameraInfo] = {}
        self.values: dict[str, str] = {}
        subscribe_outputs(self.node, name, mask=self._on_mask,
                          diagnostics=lambda _, values: self.values.update(values))
        self.node.create_subscription(
            CameraInfo, f"/{name}/camera_info",
            lambda m: self.infos.setdefault(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec,
                                            m), OUTPUT_QOS)
        self.harness.start()
        self.rng = np.random.default_rng(0)
        width, height = self.sensor
        self.frame = self.rng.integers(0, 256, (height, width, 3)).astype(np.uint8)
        self.info = sensor_info(width, height)

    def _on_mask(self, data: bytes) -> None:
        pixels, _, header = decode_image_cdr(data)
        self.masks[header.stamp_ns] = pixels

    def spin_until(self, condition, timeout: float) -> bool:
        return self.harness.spin_until(condition, timeout)

    def ready(self) -> bool:
        return discovered([self.image_pub, self.events_pub, self.info_pub])

    def send(self) -> int:
        """Camera info, 50 ms of events up to now, and a frame stamped now: live, as a
        camera sends them; returns the stamp."""
        stamp = time.time_ns()
        header = Header.from_ns(stamp, "cam")
        self.info.header.stamp.sec, self.info.header.stamp.nanosec = divmod(stamp, 10**9)
        self.info_pub.publish(self.info)
        n, (width, height) = 20_000, self.sensor
        t = np.sort(self.rng.integers(stamp - 50_000_000, stamp, n))
        events = EventBatch.from_arrays(t, self.rng.integers(0, width, n),
                                        self.rng.integers(0, height, n),
                                        self.rng.integers(0, 2, n), width=width, height=height)
        self.events_pub.publish(encode_event_array(events, header))
        self.image_pub.publish(encode_image_cdr(self.frame, "rgb8", header))
        return stamp

    def stop(self) -> tuple[int, str]:
        code = self.harness.stop(timeout=10.0)[self.name]
        return code, self.log_path.read_text()


@pytest.fixture(scope="module")
def drivers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("working_resolution")
    rclpy.init()
    made = {name: Driver(name, folder) for name in CASES}
    try:
        for driver in made.values():
            assert driver.spin_until(driver.ready, 120.0), driver.log_path.read_text()
        yield made
    finally:
        codes = {name: driver.stop() for name, driver in made.items()}
        rclpy.shutdown()
    for name, (code, log) in codes.items():
        assert code == 0, f"{name}:\n{log}"


@pytest.mark.parametrize("name", list(CASES))
def test_masks_of_the_asked_size_stamped_like_their_inputs_with_their_camera_info(drivers, name):
    driver = drivers[name]
    width, height = driver.mask_size
    # Best effort, several subscriptions: once a mask and its camera_info came, the next ones
    # are awaited one at a time (a frame sent while one is segmented replaces it).
    stamps: list[int] = []
    deadline = time.monotonic() + 90.0
    while len(stamps) < 3 and time.monotonic() < deadline:
        stamp = driver.send()
        if driver.spin_until(lambda s=stamp: s in driver.masks and s in driver.infos, 1.5):
            stamps.append(stamp)
    assert len(stamps) == 3, driver.log_path.read_text()[-3000:]
    for stamp in stamps:
        assert driver.masks[stamp].shape == (height, width)
        info = driver.infos[stamp]
        assert (info.width, info.height) == (width, height) and info.header.frame_id == "cam"
    # A point the camera sees at the centre of sensor pixel PIXEL, 7 m away.
    k = np.asarray(driver.info.k).reshape(3, 3)
    z = 7.0
    point = np.array([(PIXEL[0] - k[0, 2]) * z / k[0, 0], (PIXEL[1] - k[1, 2]) * z / k[1, 1], z])
    u, v = project(driver.info.p, point)
    assert (round(u), round(v)) == PIXEL
    # Where the mask's own camera info puts it, and which mask pixel holds that sensor pixel:
    # the working pixel whose footprint holds the sensor pixel's centre (no roi here).
    u2, v2 = project(info.p, point)
    sensor_w, sensor_h = driver.sensor
    expected = (int((PIXEL[0] + 0.5) * width // sensor_w),
                int((PIXEL[1] + 0.5) * height // sensor_h))
    assert (int(np.floor(u2 + 0.5)), int(np.floor(v2 + 0.5))) == expected
    # Diagnostics come every 0.3 s: one after the masks knows the sensor.
    assert driver.spin_until(lambda: "model at" in driver.values.get("resolution", ""), 10.0)
    described = driver.values["resolution"]
    assert f"sensor {sensor_w} x {sensor_h}" in described
    assert f"model at {driver.working[0]} x {driver.working[1]}" in described
    mask_at = CASES[name][2]
    assert f"mask at the {mask_at} resolution" in described
