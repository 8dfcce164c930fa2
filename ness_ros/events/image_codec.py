"""``sensor_msgs/Image`` CDR bytes <-> NumPy arrays, and conversions to RGB / mono uint8.

Supported encodings, with the array each decodes to (H = height, W = width):

==========================  ======================  =========
encoding                    array shape             dtype
==========================  ======================  =========
rgb8, bgr8, 8UC3            (H, W, 3)               uint8
rgba8, bgra8                (H, W, 4)               uint8
mono8, 8UC1                 (H, W)                  uint8
mono16, 16UC1               (H, W)                  uint16
32FC1                       (H, W)                  float32
==========================  ======================  =========

Rows are ``step`` bytes apart (padding after each row is skipped) and the data must hold exactly
``step * height`` bytes. Multi-byte pixels honour ``is_bigendian``. Decoding returns a read-only
view into the message bytes when no byte swap is needed (copy it to write). Encoding writes
unpadded little-endian rows and equals ``rclpy.serialization.serialize_message`` except in
alignment padding (zero here, uninitialised in rclpy). Anything else raises :class:`EventError`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.cdr import BytesLike, CdrReader, CdrWriter, Header, check_uint
from ness_ros.events.errors import EventError

#: encoding -> (little-endian dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype("u1"), 3), "bgr8": (np.dtype("u1"), 3), "8UC3": (np.dtype("u1"), 3),
    "rgba8": (np.dtype("u1"), 4), "bgra8": (np.dtype("u1"), 4),
    "mono8": (np.dtype("u1"), 1), "8UC1": (np.dtype("u1"), 1),
    "mono16": (np.dtype("<u2"), 1), "16UC1": (np.dtype("<u2"), 1),
    "32FC1": (np.dtype("<f4"), 1),
}


def _layout(encoding: str) -> tuple[np.dtype, int]:
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise EventError(f"unsupported image encoding {encoding!r}; supported: "
                         f"{', '.join(ENCODINGS)}") from None


def decode_image_cdr(data: BytesLike | NDArray[np.uint8]) -> tuple[NDArray, str, Header]:
    """Decode a ``sensor_msgs/Image``: (pixels, encoding, header); see the module table."""
    reader = CdrReader(data, "Image")
    header = reader.header()
    height = reader.u32("height")
    width = reader.u32("width")
    encoding = reader.string("encoding")
    is_bigendian = reader.boolean("is_bigendian")
    step = reader.u32("step")
    count = reader.sequence("data", 1)
    start = reader.pos
    reader.finish(start + count, "data")
    dtype, channels = _layout(encoding)
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise EventError(f"Image: step {step} is smaller than width {width} x {channels} "
                         f"channel(s) x {dtype.itemsize} byte(s) = {row_bytes}")
    if count != step * height:
        raise EventError(f"Image: data has {count} bytes, expected step {step} x height "
                         f"{height} = {step * height}")
    stored = dtype.newbyteorder(">") if is_bigendian else dtype
    pixels = np.ndarray((height, width, channels), dtype=stored, buffer=reader.data,
                        offset=start, strides=(step, channels * dtype.itemsize, dtype.itemsize))
    if stored.byteorder == ">" and dtype.itemsize > 1:
        pixels = pixels.astype(dtype.newbyteorder("="))
    return (pixels[:, :, 0] if channels == 1 else pixels), encoding, header


def encode_image_cdr(pixels: NDArray, encoding: str, header: Header | None = None) -> bytes:
    """Serialize ``pixels`` (shape and dtype per the module table) as a ``sensor_msgs/Image``."""
    dtype, channels = _layout(encoding)
    shape = pixels.shape
    if channels == 1 and pixels.ndim == 3 and shape[2] == 1:
        shape = shape[:2]
    expected = "(H, W)" if channels == 1 else f"(H, W, {channels})"
    if len(shape) != (2 if channels == 1 else 3) or (channels > 1 and shape[2] != channels):
        raise EventError(f"{encoding} image must have shape {expected}, got {pixels.shape}")
    if pixels.dtype.kind != dtype.kind or pixels.dtype.itemsize != dtype.itemsize:
        raise EventError(f"{encoding} image must have dtype {dtype.name}, got {pixels.dtype}")
    height, width = shape[:2]
    writer = CdrWriter()
    writer.header(header or Header())
    writer.u32(check_uint(height, 32, "height"))
    writer.u32(check_uint(width, 32, "width"))
    writer.string(encoding)
    writer.u8(0)
    writer.u32(width * channels * dtype.itemsize)
    body = np.ascontiguousarray(pixels, dtype=dtype)
    writer.u32(check_uint(body.nbytes, 32, "data length"))
    # ndarray declares __buffer__ in numpy's stubs only for Python >= 3.12
    return bytes(writer.buf) + memoryview(body.reshape(-1).view(np.uint8))  # type: ignore[arg-type]


def to_rgb8(pixels: NDArray, encoding: str) -> NDArray[np.uint8]:
    """Any supported image as RGB, shape (H, W, 3) uint8 (a new contiguous array).

    16-bit images keep their high byte; 32FC1 is taken as [0, 1] (clipped, NaN -> 0). 8UC3 is
    passed through unchanged (generic 3-channel data, as cv_bridge does).
    """
    _layout(encoding)
    if encoding in ("rgb8", "8UC3"):
        return np.array(pixels, dtype=np.uint8, order="C")
    if encoding == "bgr8":
        return np.array(pixels[..., ::-1], dtype=np.uint8, order="C")
    if encoding == "rgba8":
        return np.array(pixels[..., :3], dtype=np.uint8, order="C")
    if encoding == "bgra8":
        return np.array(pixels[..., 2::-1], dtype=np.uint8, order="C")
    mono = to_mono8(pixels, encoding)
    return np.repeat(mono[:, :, None], 3, axis=2)


def to_mono8(pixels: NDArray, encoding: str) -> NDArray[np.uint8]:
    """Any supported image as grey levels, shape (H, W) uint8 (a new contiguous array).

    Colour uses ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B, rounded); 16-bit images keep
    their high byte; 32FC1 is taken as [0, 1] (clipped, NaN -> 0).
    """
    _layout(encoding)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if encoding in ("mono8", "8UC1"):
        return np.array(pixels, dtype=np.uint8)
    if encoding in ("mono16", "16UC1"):
        return (pixels >> 8).astype(np.uint8)
    if encoding == "32FC1":
        scaled = np.nan_to_num(np.clip(pixels, 0.0, 1.0), nan=0.0) * 255.0
        return np.rint(scaled).astype(np.uint8)
    red, blue = (2, 0) if encoding.startswith("bgr") else (0, 2)
    luma = (pixels[..., red].astype(np.uint32) * 299 + pixels[..., 1].astype(np.uint32) * 587
            + pixels[..., blue].astype(np.uint32) * 114 + 500) // 1000
    return luma.astype(np.uint8)
