"""Events in and out: the event-batch type, codecs, ring buffer and representations.

ROS-free: nothing here imports rclpy. Codecs work on serialized CDR bytes (what rclpy hands a
``raw=True`` subscription and accepts in ``publish``).
"""

from ness_ros.events.aedat_import import AedatRecording, read_aedat4
from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.events.cdr import Header
from ness_ros.events.dvs_codec import EventArrayInfo, decode_event_array, encode_event_array
from ness_ros.events.errors import EventError, InputError
from ness_ros.events.evt3 import Evt3Decoder, Evt3Encoder
from ness_ros.events.image_codec import ENCODINGS as IMAGE_ENCODINGS
from ness_ros.events.image_codec import decode_image_cdr, encode_image_cdr, to_mono8, to_rgb8
from ness_ros.events.libcaer_cmp import LibcaerCmpDecoder
from ness_ros.events.packet_codec import DECODERS as PACKET_DECODERS
from ness_ros.events.packet_codec import (
    EventPacketDecoder,
    EventPacketEncoder,
    LibcaerDecoder,
    MonoDecoder,
    PacketDecoder,
    PacketInfo,
    encode_event_packet,
    encode_libcaer,
    encode_mono,
    make_decoder,
    parse_event_packet,
)
from ness_ros.events.representations import (
    event_counts,
    region_bounds,
    region_counts,
    spike_tensor,
)
from ness_ros.events.ring_buffer import EventRingBuffer
from ness_ros.events.stream import EventStream, PushResult, StampGuard, decode_frame

__all__ = [
    "EventStream",
    "InputError",
    "PushResult",
    "StampGuard",
    "decode_frame",
    "EVENT_DTYPE",
    "IMAGE_ENCODINGS",
    "PACKET_DECODERS",
    "AedatRecording",
    "EventArrayInfo",
    "EventBatch",
    "EventError",
    "EventPacketDecoder",
    "EventPacketEncoder",
    "EventRingBuffer",
    "Evt3Decoder",
    "Evt3Encoder",
    "Header",
    "LibcaerCmpDecoder",
    "LibcaerDecoder",
    "MonoDecoder",
    "PacketDecoder",
    "PacketInfo",
    "decode_event_array",
    "decode_image_cdr",
    "encode_event_array",
    "encode_event_packet",
    "encode_image_cdr",
    "encode_libcaer",
    "encode_mono",
    "event_counts",
    "make_decoder",
    "parse_event_packet",
    "read_aedat4",
    "region_bounds",
    "region_counts",
    "spike_tensor",
    "to_mono8",
    "to_rgb8",
]
