"""The optional ``camera_info`` input and the ``~/camera_info`` that goes with every mask.

As image_pipeline's nodes do, a segmentation node takes the camera's ``sensor_msgs/CameraInfo``
on ``camera_info`` (sensor-data QoS, like the image) and publishes, with every mask, the
intrinsics of the image the mask lives in on ``~/camera_info``, with the mask's header. Without
camera info the node runs as before and publishes no ``~/camera_info``. CameraInfo is small and
comes at frame rate: rclpy's message class is fine here (the image and events stay raw CDR).

An info whose width and height differ from the images' is counted in
``rejected_camera_info_size`` and not used; every mask carries the latest info that matched.
"""

from __future__ import annotations

from collections.abc import Callable

from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo

from ness_ros.events.cdr import Header
from ness_ros.ros.qos import SENSOR_QOS
from ness_ros.segmentation.intrinsics import ImageMapping, map_intrinsics

#: Called with (kind, reason) for a rejected info: the node counts and logs it.
Reject = Callable[[str, str], None]


class CameraInfoInput:
    """Subscribes ``camera_info`` and hands the worker the info for each mask.

    Args:
        node: the segmentation node.
        image_size: returns the (width, height) of the node's images (None while unknown);
            called in the subscription callback to refuse a mismatched info at once.
        reject: counts and logs a rejected info (``camera_info_size``).
        qos_overrides: the node's input QoS overriding options.
    """

    def __init__(self, node: Node, image_size: Callable[[], tuple[int, int] | None],
                 reject: Reject, qos_overrides: QoSOverridingOptions) -> None:
        self.node = node
        self.image_size = image_size
        self.reject = reject
        self.received = 0
        self.published = 0
        self._latest: CameraInfo | None = None   # newest not refused on arrival
        self._valid: CameraInfo | None = None    # newest that matched a mask's input
        self._counted: CameraInfo | None = None  # refused at a mask already (count it once)
        node.create_subscription(CameraInfo, "camera_info", self._on_info, SENSOR_QOS,
                                 qos_overriding_options=qos_overrides)

    def _on_info(self, msg: CameraInfo) -> None:
        self.received += 1
        size = self.image_size()
        if size is not None and (msg.width, msg.height) != size:
            self.reject("camera_info_size", _mismatch(msg, size))
            return
        self._latest = msg  # one reference assignment: the worker reads it without a lock

    def for_mask(self, mapping: ImageMapping, header: Header) -> CameraInfo | None:
        """The ``~/camera_info`` of a mask made from an input image by ``mapping``, with the
        mask's ``header``; None while no info matched the input's size. Worker thread."""
        latest = self._latest
        if latest is not None and latest is not self._valid:
            # An info that came before the first frame, or before the image size changed.
            if (latest.width, latest.height) == mapping.input_size:
                if self._valid is None:
                    self.node.get_logger().info(
                        f"camera_info {latest.width} x {latest.height} received: publishing "
                        "~/camera_info with every mask")
                self._valid = latest
            elif latest is not self._counted:
                self._counted = latest
                self.reject("camera_info_size", _mismatch(latest, mapping.input_size))
        info = self._valid
        if info is None or (info.width, info.height) != mapping.input_size:
            return None
        self.published += 1
        return camera_info_for(info, mapping, header)


def camera_info_for(info: CameraInfo, mapping: ImageMapping, header: Header) -> CameraInfo:
    """A new CameraInfo: ``info`` mapped to the output image of ``mapping`` (see
    :func:`~ness_ros.segmentation.intrinsics.map_intrinsics`), stamped with ``header``."""
    out = CameraInfo(distortion_model=info.distortion_model, d=info.d, r=info.r,
                     binning_x=info.binning_x, binning_y=info.binning_y, roi=info.roi)
    out.header.stamp = Time(sec=header.stamp_sec, nanosec=header.stamp_nanosec)
    out.header.frame_id = header.frame_id
    if mapping.is_identity:
        out.width, out.height, out.k, out.p = info.width, info.height, info.k, info.p
    else:
        assert mapping.size is not None  # set by ImageMapping
        k, p = map_intrinsics(info.k, info.p, mapping)
        out.width, out.height = mapping.size
        out.k, out.p = k.reshape(-1), p.reshape(-1)
    return out


def _mismatch(info: CameraInfo, size: tuple[int, int]) -> str:
    return (f"camera_info is {info.width} x {info.height}, the images are {size[0]} x "
            f"{size[1]}: not used")
