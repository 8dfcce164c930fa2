"""``ness bench events``: the event layer's codecs against rclpy's own (de)serialization.

Measured side by side in one run, medians of several repeats:

- ``dvs_msgs/EventArray`` with 100,000 events: decode and encode, ours vs rclpy's
  ``deserialize_message`` / ``serialize_message``;
- evt3 on the shared real bag: the numba decoder packet by packet (payloads already parsed, and
  from the CDR bytes of each message) and on the whole stream at once;
- ``sensor_msgs/Image`` 640 x 480 rgb8: CDR -> RGB array and RGB array -> CDR, ours vs rclpy.

rclpy's side is :mod:`ness_ros.ros.reference_codecs`, imported when the benchmark runs; neither
this module nor :mod:`ness_ros.events` imports rclpy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ness_ros.report_tables import add_json_option, format_table, write_json

DEFAULT_BAG = Path(__file__).resolve().parents[3] / "shared" / "data" / "evt3_event_camera_py"
ARRAY_EVENTS = 100_000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("events", help="event and image codecs vs rclpy")
    parser.add_argument("--bag", type=Path, default=DEFAULT_BAG,
                        help="rosbag2 folder with evt3 EventPackets (default: the shared one)")
    parser.add_argument("--repeats", type=int, default=9,
                        help="repeats of each of our measurements (rclpy: 3)")
    add_json_option(parser)
    parser.set_defaults(func=run)


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(measure: str, unit: str, ours: float, rclpy: float | None = None,
        target: str = "", met: bool | None = None) -> dict[str, Any]:
    return {"measure": measure, "unit": unit, "ours": ours,
            "rclpy": "" if rclpy is None else rclpy,
            "ratio": "" if rclpy is None else ours / rclpy, "target": target,
            "met": "" if met is None else ("yes" if met else "NO")}


def event_array_rows(repeats: int) -> list[dict[str, Any]]:
    import numpy as np

    from ness_ros.events import EventBatch, Header, decode_event_array, encode_event_array
    from ness_ros.ros.reference_codecs import event_array_codec

    rng = np.random.default_rng(0)
    n = ARRAY_EVENTS
    batch = EventBatch.from_arrays(1_700_000_000 * 10**9 + np.sort(rng.integers(0, 10**9, n)),
                                   rng.integers(0, 640, n), rng.integers(0, 480, n),
                                   rng.integers(0, 2, n), width=640, height=480)
    header = Header(1_700_000_000, 0, "event_camera_optical_frame")
    data = encode_event_array(batch, header)
    rclpy_decode, rclpy_encode = event_array_codec(data)
    ours_dec = n / median_seconds(lambda: decode_event_array(data), repeats) / 1e6
    ros_dec = n / median_seconds(rclpy_decode, 3) / 1e6
    ours_enc = n / median_seconds(lambda: encode_event_array(batch, header), repeats) / 1e6
    ros_enc = n / median_seconds(rclpy_encode, 3) / 1e6
    return [row("EventArray decode, 100k events", "M events/s", ours_dec, ros_dec,
                ">= 30 M/s and >= 100x", ours_dec >= 30 and ours_dec >= 100 * ros_dec),
            row("EventArray encode, 100k events", "M events/s", ours_enc, ros_enc, ">= 30x",
                ours_enc >= 30 * ros_enc)]


def read_bag(folder: Path) -> list[bytes]:
    from rosbags.rosbag2 import Reader

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy)  # the shared copy is read-only; SQLite may write beside it
        with Reader(copy) as reader:
            return [bytes(raw) for _, _, raw in reader.messages()]


def evt3_rows(bag: Path, repeats: int) -> list[dict[str, Any]]:
    from ness_ros.events import EventPacketDecoder, Evt3Decoder, parse_event_packet

    if not bag.is_dir():
        return [row(f"evt3 decode (bag {bag} missing)", "M events/s", float("nan"))]
    messages = read_bag(bag)
    payloads = [parse_event_packet(m)[1] for m in messages]
    whole = b"".join(bytes(p) for p in payloads)
    count = len(Evt3Decoder(640, 480).decode(whole))

    def by_payload() -> None:
        decoder = Evt3Decoder(640, 480)
        for payload in payloads:
            decoder.decode(payload)

    def by_message() -> None:
        decoder = EventPacketDecoder()
        for message in messages:
            decoder.decode(message)

    per_packet = count / median_seconds(by_payload, repeats) / 1e6
    per_message = count / median_seconds(by_message, repeats) / 1e6
    at_once = count / median_seconds(lambda: Evt3Decoder(640, 480).decode(whole), repeats) / 1e6
    label = f"{len(messages)} packets, {count:,} events"
    return [row(f"evt3 decode, packet by packet ({label})", "M events/s", per_packet,
                target=">= 50 M/s", met=per_packet >= 50),
            row("evt3 decode, packet by packet from CDR (EventPacketDecoder)", "M events/s",
                per_message),
            row("evt3 decode, whole stream at once", "M events/s", at_once)]


def image_rows(repeats: int) -> list[dict[str, Any]]:
    import numpy as np

    from ness_ros.events import Header, decode_image_cdr, encode_image_cdr, to_rgb8
    from ness_ros.ros.reference_codecs import image_codec

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (480, 640, 3)).astype(np.uint8)
    header = Header(1, 2, "camera")
    data = encode_image_cdr(pixels, "rgb8", header)
    rclpy_decode, rclpy_encode = image_codec(data, pixels)
    megabytes = pixels.nbytes / 1e6

    def ours_decode() -> None:
        array, encoding, _ = decode_image_cdr(data)
        to_rgb8(array, encoding)

    rows = []
    for name, ours, ros in [("decode (CDR -> RGB array)", ours_decode, rclpy_decode),
                            ("encode (RGB array -> CDR)",
                             lambda: encode_image_cdr(pixels, "rgb8", header), rclpy_encode)]:
        fps_ours = 1 / median_seconds(ours, repeats)
        fps_ros = 1 / median_seconds(ros, 3)
        rows.append(row(f"Image 640x480 rgb8 {name}", "frames/s", fps_ours, fps_ros))
        rows.append(row(f"Image 640x480 rgb8 {name}", "MB/s", fps_ours * megabytes,
                        fps_ros * megabytes))
    return rows


def run(args: argparse.Namespace) -> int:
    repeats = max(int(args.repeats), 1)
    rows = event_array_rows(repeats) + evt3_rows(args.bag, repeats) + image_rows(repeats)
    columns = ["measure", "unit", "ours", "rclpy", "ratio", "target", "met"]
    print(format_table(rows, columns, title="ness bench events (medians; ratio = ours / rclpy)"))
    write_json(args.json, {"benchmark": "events", "repeats": repeats, "rows": rows})
    return 0
