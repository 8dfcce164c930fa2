"""rclpy's own (de)serialization of the messages the event layer codes itself: the reference
that ``ness bench events`` (:mod:`ness_ros.bench.events`) measures :mod:`ness_ros.events`
against. Each function returns (decode, encode), callables to time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from dvs_msgs.msg import EventArray
from numpy.typing import NDArray
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image


def event_array_codec(data: bytes) -> tuple[Callable[[], object], Callable[[], object]]:
    """rclpy on the ``dvs_msgs/EventArray`` CDR ``data``: deserialize it; serialize the message
    it holds."""
    msg = deserialize_message(data, EventArray)
    return (lambda: deserialize_message(data, EventArray)), (lambda: serialize_message(msg))


def image_codec(data: bytes, pixels: NDArray[np.uint8]
                ) -> tuple[Callable[[], None], Callable[[], None]]:
    """rclpy on the rgb8 ``sensor_msgs/Image`` CDR ``data`` of ``pixels`` (H, W, 3): deserialize
    it to an (H, W, 3) array; build an Image of ``pixels`` (the header of ``data``) and
    serialize it."""
    msg = deserialize_message(data, Image)
    height, width = pixels.shape[:2]

    def decode() -> None:
        decoded = deserialize_message(data, Image)
        np.frombuffer(decoded.data, np.uint8).reshape(height, width, 3).copy()

    def encode() -> None:
        out = Image(height=height, width=width, encoding="rgb8", step=width * 3)
        out.header = msg.header
        out.data = pixels.tobytes()
        serialize_message(out)

    return decode, encode
