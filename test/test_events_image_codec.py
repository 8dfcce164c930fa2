"""sensor_msgs/Image codec against rclpy, step padding, byte order and colour conversions."""

from __future__ import annotations

import numpy as np
import pytest
import rclpy.serialization as rclpy_serialization
from builtin_interfaces.msg import Time
from hypothesis import given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import Image
from test_events_dvs_codec import assert_equal_but_padding, padding_positions

from ness_ros.events import (
    IMAGE_ENCODINGS,
    EventError,
    Header,
    decode_image_cdr,
    encode_image_cdr,
    to_mono8,
    to_rgb8,
)

LAYOUT = {"rgb8": ("u1", 3), "bgr8": ("u1", 3), "8UC3": ("u1", 3), "rgba8": ("u1", 4),
          "bgra8": ("u1", 4), "mono8": ("u1", 1), "8UC1": ("u1", 1), "mono16": ("u2", 1),
          "16UC1": ("u2", 1), "32FC1": ("f4", 1)}


def image_fields(frame_id: str, encoding: str, nbytes: int) -> list[tuple[int, int]]:
    return [(4, 4), (4, 4), (4, 4), (1, len(frame_id.encode()) + 1), (4, 4), (4, 4), (4, 4),
            (1, len(encoding) + 1), (1, 1), (4, 4), (4, 4), (1, nbytes)]


def random_pixels(rng, encoding, height, width):
    kind, channels = LAYOUT[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    if kind == "f4":
        return rng.random(shape, dtype=np.float32)
    return rng.integers(0, np.iinfo(kind).max + 1, shape).astype(kind)


def make_image(frame_id, encoding, pixels, *, step=None, bigendian=False):
    kind, channels = LAYOUT[encoding]
    height, width = pixels.shape[:2]
    itemsize = np.dtype(kind).itemsize
    row = width * channels * itemsize
    step = step or row
    stored = pixels.astype(np.dtype(kind).newbyteorder(">" if bigendian else "<"))
    raw = np.zeros((height, step), np.uint8)
    raw[:, :row] = stored.reshape(-1).view(np.uint8).reshape(height, row)
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=int(bigendian),
                step=step)
    msg.header.frame_id = frame_id
    msg.header.stamp = Time(sec=12, nanosec=34)
    msg.data = raw.tobytes()
    return msg


assert set(LAYOUT) == set(IMAGE_ENCODINGS)


@settings(max_examples=60, deadline=None)
@given(encoding=st.sampled_from(sorted(LAYOUT)), height=st.integers(0, 7),
       width=st.integers(0, 9), frame_id=st.text("abcdefgh", max_size=9),
       seed=st.integers(0, 2**32 - 1))
def test_matches_rclpy_both_ways(encoding, height, width, frame_id, seed):
    pixels = random_pixels(np.random.default_rng(seed), encoding, height, width)
    msg = make_image(frame_id, encoding, pixels)
    theirs = rclpy_serialization.serialize_message(msg)
    decoded, enc, header = decode_image_cdr(theirs)
    assert enc == encoding and header == Header(12, 34, frame_id)
    assert decoded.dtype == np.dtype(LAYOUT[encoding][0]) and decoded.shape == pixels.shape
    assert np.array_equal(decoded, pixels)
    ours = encode_image_cdr(pixels, encoding, header)
    fields = image_fields(frame_id, encoding, pixels.nbytes)
    assert_equal_but_padding(ours, theirs, padding_positions(fields))
    assert rclpy_serialization.deserialize_message(ours, Image) == msg


@pytest.mark.parametrize("encoding", sorted(LAYOUT))
@pytest.mark.parametrize("bigendian", [False, True])
def test_step_padding_and_byte_order(encoding, bigendian):
    pixels = random_pixels(np.random.default_rng(3), encoding, 4, 5)
    row = pixels[0].nbytes
    msg = make_image("f", encoding, pixels, step=row + 7, bigendian=bigendian)
    decoded, _, _ = decode_image_cdr(rclpy_serialization.serialize_message(msg))
    assert np.array_equal(decoded, pixels)
    assert decoded.dtype.isnative


@pytest.mark.parametrize(("encoding", "height", "width", "step", "nbytes", "match"), [
    ("yuv422", 2, 2, 4, 8, "unsupported image encoding 'yuv422'; supported: rgb8"),
    ("rgb8", 2, 2, 6, 11, r"data has 11 bytes, expected step 6 x height 2 = 12"),
    ("rgb8", 2, 2, 6, 13, r"data has 13 bytes"),
    ("mono16", 2, 3, 5, 10, "step 5 is smaller than width 3"),
])
def test_bad_images(encoding, height, width, step, nbytes, match):
    msg = Image(height=height, width=width, encoding=encoding, step=step)
    msg.data = bytes(nbytes)
    with pytest.raises(EventError, match=match):
        decode_image_cdr(rclpy_serialization.serialize_message(msg))


def test_truncated_and_bad_bool():
    msg = make_image("cam", "mono8", np.zeros((2, 2), np.uint8))
    data = rclpy_serialization.serialize_message(msg)
    with pytest.raises(EventError, match="truncated at field 'data'"):
        decode_image_cdr(data[:-1])
    flag = 4 + 12 + 4 + 4 + 4 + 4 + 6  # header("cam"), height, width, encoding "mono8"
    assert data[flag] == 0
    with pytest.raises(EventError, match="'is_bigendian' is a bool but holds 7"):
        decode_image_cdr(data[:flag] + b"\x07" + data[flag + 1:])


def test_encode_validation():
    with pytest.raises(EventError, match=r"rgb8 image must have shape \(H, W, 3\)"):
        encode_image_cdr(np.zeros((2, 2), np.uint8), "rgb8")
    with pytest.raises(EventError, match="mono16 image must have dtype uint16"):
        encode_image_cdr(np.zeros((2, 2), np.uint8), "mono16")
    with pytest.raises(EventError, match="unsupported image encoding 'jpeg'"):
        encode_image_cdr(np.zeros((2, 2), np.uint8), "jpeg")
    ours = encode_image_cdr(np.zeros((2, 3, 1), np.uint8), "mono8")
    assert decode_image_cdr(ours)[0].shape == (2, 3)


def test_rgb_conversions():
    rgb = np.random.default_rng(4).integers(0, 256, (3, 4, 3)).astype(np.uint8)
    rgba = np.concatenate([rgb, np.full((3, 4, 1), 9, np.uint8)], axis=2)
    assert np.array_equal(to_rgb8(rgb, "rgb8"), rgb)
    assert np.array_equal(to_rgb8(rgb[..., ::-1], "bgr8"), rgb)
    assert np.array_equal(to_rgb8(rgba, "rgba8"), rgb)
    assert np.array_equal(to_rgb8(rgba[..., [2, 1, 0, 3]], "bgra8"), rgb)
    assert np.array_equal(to_rgb8(rgb, "8UC3"), rgb)
    mono = to_mono8(rgb, "rgb8")
    r, g, b = (rgb[..., i].astype(float) for i in range(3))
    assert np.abs(mono - (0.299 * r + 0.587 * g + 0.114 * b)).max() <= 0.5 + 1e-9
    assert np.array_equal(to_mono8(rgb[..., ::-1], "bgr8"), mono)
    assert np.array_equal(to_rgb8(mono, "mono8"), np.repeat(mono[..., None], 3, 2))


def test_mono_conversions():
    m16 = np.array([[0, 255, 256, 65535]], np.uint16)
    assert to_mono8(m16, "mono16").tolist() == [[0, 0, 1, 255]]
    assert to_mono8(m16, "16UC1").tolist() == [[0, 0, 1, 255]]
    f = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0, np.nan]], np.float32)
    assert to_mono8(f, "32FC1").tolist() == [[0, 0, 128, 255, 255, 0]]
    assert to_rgb8(f, "32FC1").shape == (1, 6, 3)
    assert to_mono8(np.array([[7]], np.uint8), "8UC1").tolist() == [[7]]


def test_conversions_return_new_writable_arrays():
    data = encode_image_cdr(np.arange(24, dtype=np.uint8).reshape(2, 4, 3), "rgb8")
    view, encoding, _ = decode_image_cdr(data)
    assert not view.flags.writeable  # a view into the message bytes
    rgb = to_rgb8(view, encoding)
    assert rgb.flags.writeable and not np.shares_memory(rgb, view)
    assert np.array_equal(rgb, view)
