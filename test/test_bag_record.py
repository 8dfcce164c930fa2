"""Recording bags: every message read back by rosbags and by independent readers (mcap_ros2 for
mcap, the sqlite3 module plus mcap_ros2's CDR decoder for sqlite3) matches what was written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import yaml
from mcap.reader import make_reader
from mcap.records import Schema
from mcap_ros2.decoder import DecoderFactory

from conftest import SHARED_DATA
from helpers.bags import drive
from ness_ros.bag import BagError, RecordOptions, bag_info, read_messages, record_sequence
from ness_ros.cli.main import main
from ness_ros.events import (
    Evt3Decoder,
    decode_event_array,
    decode_image_cdr,
    parse_event_packet,
    read_aedat4,
)

W, H = 128, 96
TOPICS = {"image": "/camera/image", "events": "/camera/events", "labels": "/camera/labels"}
NAME = {v: k for k, v in TOPICS.items()}


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    return drive(tmp_path_factory, W, H)


def ours(path: Path) -> dict[str, list]:
    """Read with rosbags, decode with the project's codecs, normalised."""
    out: dict[str, list] = {k: [] for k in TOPICS}
    evt3 = None
    packets = bag_info(path).topics[TOPICS["events"]][0].endswith("EventPacket")
    for topic, recv, data in read_messages(path, TOPICS.values()):
        if NAME[topic] == "events":
            if packets:
                info, payload = parse_event_packet(data)
                evt3 = evt3 or Evt3Decoder(info.width, info.height)
                batch, stamp, size = evt3.decode(payload), info.header.stamp_ns, \
                    (info.width, info.height)
            else:
                batch, info = decode_event_array(data)
                stamp, size = info.stamp_ns, (info.width, info.height)
            out["events"].append((recv, stamp, size, batch.t, batch.x, batch.y, batch.polarity))
        else:
            pixels, encoding, header = decode_image_cdr(data)
            out[NAME[topic]].append((recv, header.stamp_ns, encoding, np.array(pixels)))
    return out


def normalise(topic: str, recv: int, msg, evt3: dict) -> tuple:
    """An mcap_ros2-decoded message in the same form as :func:`ours`."""
    stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
    if NAME[topic] != "events":
        pixels = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, -1)
        return recv, stamp, msg.encoding, pixels.squeeze(axis=2) if pixels.shape[2] == 1 \
            else pixels
    if hasattr(msg, "encoding"):  # EventPacket: the payload through our evt3 decoder
        assert msg.encoding == "evt3" and not msg.is_bigendian
        decoder = evt3.setdefault("d", Evt3Decoder(msg.width, msg.height))
        b = decoder.decode(np.frombuffer(bytes(msg.events), np.uint8))
        return recv, stamp, (msg.width, msg.height), b.t, b.x, b.y, b.polarity
    rows = np.array([(e.x, e.y, e.ts.sec, e.ts.nanosec, e.polarity) for e in msg.events],
                    np.int64).reshape(-1, 5)
    t = rows[:, 2] * 10**9 + rows[:, 3]
    return (recv, stamp, (msg.width, msg.height), t, rows[:, 0].astype(np.uint16),
            rows[:, 1].astype(np.uint16), rows[:, 4].astype(np.uint8))


def independent(path: Path) -> dict[str, list]:
    """Read without rosbags: mcap's reader, or sqlite3 with the stored message definitions."""
    out: dict[str, list] = {k: [] for k in TOPICS}
    evt3: dict = {}
    factory = DecoderFactory()
    mcaps, dbs = list(path.glob("*.mcap")), list(path.glob("*.db3"))
    if mcaps:
        with open(mcaps[0], "rb") as f:
            reader = make_reader(f, decoder_factories=[factory])
            for _, channel, message, msg in reader.iter_decoded_messages(log_time_order=True):
                out[NAME[channel.topic]].append(normalise(channel.topic, message.log_time, msg,
                                                          evt3))
        return out
    db = sqlite3.connect(f"file:{dbs[0]}?mode=ro", uri=True)
    defs = {name: (enc, text) for name, enc, text in
            db.execute("SELECT topic_type, encoding, encoded_message_definition "
                       "FROM message_definitions")}
    decoders = {}
    for topic_id, name, msgtype in db.execute("SELECT id, name, type FROM topics"):
        enc, text = defs[msgtype]
        decoders[topic_id] = (name, factory.decoder_for("cdr", Schema(topic_id, text.encode(),
                                                                      enc, msgtype)))
    for topic_id, recv, data in db.execute("SELECT topic_id, timestamp, data FROM messages "
                                           "ORDER BY timestamp, id"):
        name, decode = decoders[topic_id]
        out[NAME[name]].append(normalise(name, recv, decode(data), evt3))
    return out


def check(messages: dict[str, list], seq, event_message: str, period_ns: int) -> None:
    """Every message against the sequence: stamps, receive times, sizes, pixels, events."""
    for kind, truth in (("image", seq.frames), ("labels", seq.labels)):
        got = messages[kind]
        assert [m[1] for m in got] == seq.stamps_ns.tolist()
        assert all(m[0] == m[1] for m in got), "receive time must equal the stamp"
        assert [m[2] for m in got] == ["rgb8" if kind == "image" else "mono8"] * len(seq)
        for m, pixels in zip(got, truth, strict=True):
            np.testing.assert_array_equal(m[3], pixels)
    events = messages["events"]
    assert all(m[2] == (W, H) for m in events)
    assert all(m[0] == m[1] for m in events), "receive time must equal the stamp"
    t = np.concatenate([m[3] for m in events])
    expect_t = seq.events.t if event_message == "dvs" else seq.events.t // 1000 * 1000
    np.testing.assert_array_equal(t, expect_t)
    for i, field in ((4, "x"), (5, "y"), (6, "polarity")):
        np.testing.assert_array_equal(np.concatenate([m[i] for m in events]),
                                      seq.events.events[field])
    for m in events:  # header stamps: last boundary (dvs) or first event's time (packet)
        assert len(m[3]) and m[3].max() - m[3].min() < period_ns
        if event_message == "dvs":
            assert m[3].max() <= m[1] < m[3].min() + period_ns
        else:
            assert m[1] // 1000 * 1000 == m[3][0]
    # Order: a frame comes after every event up to its stamp and before any later event.
    before = np.searchsorted([m[0] for m in events], seq.stamps_ns, side="right")
    sent = np.concatenate([[0], np.cumsum([len(m[3]) for m in events])])[before]
    np.testing.assert_array_equal(sent, np.searchsorted(seq.events.t, seq.stamps_ns, "right"))


@pytest.mark.parametrize(("storage", "event_message"), [("mcap", "dvs"), ("sqlite3", "packet")])
def test_record_reads_back_identically(sequence, tmp_path, storage, event_message):
    bag = tmp_path / "bag"
    summary = record_sequence(sequence, bag, RecordOptions(storage=storage,
                                                           event_message=event_message,
                                                           progress=False))
    assert summary.frames == 40 and summary.events == len(sequence.events)
    assert summary.messages == {TOPICS["image"]: 40, TOPICS["labels"]: 40,
                                TOPICS["events"]: 200}
    check(ours(bag), sequence, event_message, 10_000_000)
    check(independent(bag), sequence, event_message, 10_000_000)


def test_metadata_is_what_ros2_bag_reads(sequence, tmp_path):
    bag = tmp_path / "bag"
    record_sequence(sequence, bag, RecordOptions(progress=False))
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 9 and meta["storage_identifier"] == "mcap"
    assert meta["relative_file_paths"] == ["bag.mcap"] and meta["message_count"] == 280
    assert isinstance(meta["custom_data"], dict)
    share = Path(__import__("sys").prefix) / "share"
    for entry in meta["topics_with_message_count"]:
        topic = entry["topic_metadata"]
        pkg, _, name = topic["type"].split("/")
        hashes = json.loads((share / pkg / "msg" / f"{name}.json").read_text())["type_hashes"]
        installed = next(h["hash_string"] for h in hashes if h["type_name"] == topic["type"])
        assert topic["type_description_hash"] == installed, topic["type"]
        assert topic["offered_qos_profiles"][0]["reliability"] == "best_effort"
    with pytest.raises(BagError, match="exists already"):
        record_sequence(sequence, bag, RecordOptions(progress=False))


def test_aedat4_import(tmp_path):
    clip = SHARED_DATA / "davis346_aestream" / "davis.aedat4"
    out_json = tmp_path / "import.json"
    assert main(["bag", "import", str(clip), str(tmp_path / "davis"), "--no-progress",
                 "--json", str(out_json)]) == 0
    assert json.loads(out_json.read_text())["events"] == 117_667
    recording = read_aedat4(clip)
    events = [decode_event_array(d)[0] for t, _, d in
              read_messages(tmp_path / "davis", ["/camera/events"])]
    assert sum(len(b) for b in events) == 117_667
    np.testing.assert_array_equal(np.concatenate([b.t for b in events]), recording.events.t)
    frames = [decode_image_cdr(d) for _, _, d in read_messages(tmp_path / "davis",
                                                               ["/camera/image"])]
    assert len(frames) == 3
    for (pixels, encoding, header), (stamp, truth) in zip(frames, recording.frames, strict=True):
        assert encoding == "mono8" and header.stamp_ns == stamp
        np.testing.assert_array_equal(pixels, truth)
    info = bag_info(tmp_path / "davis")
    assert info.topics == {"/camera/events": ("dvs_msgs/msg/EventArray", len(events)),
                           "/camera/image": ("sensor_msgs/msg/Image", 3)}
