"""``ness bench load``: the hybrid node in its own process under a sustained event and frame load.

A publisher process sends ``dvs_msgs/EventArray`` messages at ``--event-rate`` events/s (10 M by
default) in messages of ``--message-ms`` (1 ms: 10,000 events each) and 346 x 260 rgb8 frames at
``--frame-rate`` (20 Hz) for ``--duration`` seconds (60), with live stamps (the wall clock at
the start plus the schedule). To sustain the rate it encodes a few messages once and
republishes them with new stamps, patched into the CDR bytes in place (vectorised: two strided
NumPy writes per message). When it falls more than 100 ms behind its schedule it skips ahead
(counted) rather than send stale data.

The node (``hybrid_segmentation``, default parameters) runs the model of ``--model``: by default
the packaged weights ``ness_ros/weights/segsnn.safetensors``, or, when they are absent, a tiny
untrained SegSNN built on the fly (the output says which). Reported: events/s published and
received by the node (its ``events_received``), events lost in transport (best effort), events
the node's buffer bounds dropped and frames it dropped (its /diagnostics counters), mask latency
p50/p95 (``~/latency`` processing_ms and end-to-end) with the node's per-stage p50, and the node
process's memory: ``VmRSS`` sampled every 0.5 s (before the load, at the end, the mean of the
first and of the last 10 s and their difference, the trend over the second half: the median of
the slopes between all pairs of samples, robust to the short peaks of a frame's event copies)
and its peak ``VmHWM``. Memory counts as bounded when the second half's trend stays under
10 MB/min: the event buffer's storage (at most 1.5 x event_buffer_max_events x 21 bytes) is
allocated lazily, so the first seconds show it filling.

``--event-message packet`` sends ``event_camera_msgs/EventPacket`` instead, as real cameras'
drivers do: ``--encoding evt3`` (metavision_driver, Prophesee EVT 3.0) or ``libcaer``
(libcaer_driver, 8 bytes per event), encoded once with the project's encoders
(:class:`RestampedPackets`) and restamped per message: header stamp, ``seq`` (consecutive over
the messages sent, so the node's ``events_lost_packets`` counts transport losses only) and
``time_base``; for evt3, whose event times are the sensor time carried in the payload, also the
TIME_HIGH/TIME_LOW words (the template has one pair per distinct microsecond, two strided
writes per message). The node runs with ``event_message`` set to the type sent. The packet
stream is synthetic: the events of one microsecond share a row, as a sensor's row readout does,
so evt3 needs one ADDR_Y per microsecond (bytes per event are reported). Also reported for every
run: the node process's CPU time over the load divided by its wall time (``/proc/PID/stat``
utime + stime: decoding, buffering and the model together; "node CPU, cores") and, after the
run, the cost of the node's event intake alone: the same messages pushed into the node's
:class:`~ness_ros.events.stream.EventStream` (decode, checks, ring buffer) in this
process, its time per message times the messages published per second ("event intake, cores";
rclpy's take and the callback around it are not included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ness_ros.bench.errors import BenchError
from ness_ros.report_tables import add_json_option, format_table, write_json

NODE_NAME = "ness_bench_load"
TOPICS = {"image": f"/{NODE_NAME}/in/image", "events": f"/{NODE_NAME}/in/events"}
WIDTH, HEIGHT = 346, 260
MAX_LAG_NS = 100_000_000  # the publisher skips ahead when it is this far behind its schedule
SAMPLE_PERIOD_S = 0.5
WINDOW_S = 10.0           # RSS growth: mean of the first vs the last WINDOW_S seconds
#: "bounded": RSS rises by at most this over the second half of the run (Theil-Sen). The
#: first half may still fill the event buffer's storage (allocated lazily, up to
#: EVENT_BUFFER_STORAGE_MB with the node's default event_buffer_max_events).
TREND_LIMIT_MB_PER_MIN = 10.0
EVENT_BUFFER_STORAGE_MB = 1.5 * 5_000_000 * (13 + 8) / 2**20
HEADER_STAMP = struct.Struct("<iI")  # a CDR message's header stamp (sec, nanosec), at byte 4
_TIMES = np.dtype({"names": ["sec", "nanosec"], "formats": ["<i4", "<u4"], "offsets": [0, 4],
                   "itemsize": 8})
#: ``--event-message``: the ROS type of each; ``--encoding``: EventPacket encodings sent.
MESSAGE_TYPES = {"dvs": "dvs_msgs/EventArray", "packet": "event_camera_msgs/EventPacket"}
PACKET_ENCODINGS = ("evt3", "libcaer")
_SEQ_TIME_BASE = struct.Struct("<QQ")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "load", help="the hybrid node under 10 M events/s plus 20 Hz frames: memory, latency, "
        "drops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds of load (default 60)")
    parser.add_argument("--event-rate", type=float, default=10e6,
                        help="events per second (default 10e6)")
    parser.add_argument("--frame-rate", type=float, default=20.0,
                        help="frames per second (default 20; 0: events only)")
    parser.add_argument("--message-ms", type=float, default=1.0,
                        help="time span of one event message, ms (default 1)")
    parser.add_argument("--event-message", choices=sorted(MESSAGE_TYPES), default="dvs",
                        help="dvs: dvs_msgs/EventArray (default); packet: "
                             "event_camera_msgs/EventPacket in --encoding")
    parser.add_argument("--encoding", choices=PACKET_ENCODINGS, default="evt3",
                        help="EventPacket encoding with --event-message packet (default evt3)")
    parser.add_argument("--model", default="",
                        help="model file (default: packaged segsnn weights, else a tiny "
                             "untrained SegSNN)")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="keep the node's log here (default: a temporary folder)")
    add_json_option(parser)
    parser.set_defaults(func=run)


# -- the publisher's messages (it runs in its own process: ness_ros.ros.load_publisher) ------
class RestampedEvents:
    """``count`` EventArray messages of ``n`` events over ``period_ns``, encoded once.

    :meth:`message` returns message ``i`` restamped to start at ``start_ns``: the header stamp
    and every event's ``ts`` are rewritten in the CDR bytes (offsets from
    :mod:`ness_ros.events.dvs_codec`: ``ts.sec`` of event k at ``s + 4 + 16 k``).
    """

    def __init__(self, n: int, period_ns: int, *, width: int, height: int, count: int = 4,
                 seed: int = 0) -> None:
        from ness_ros.events import EventBatch, Header, encode_event_array
        from ness_ros.events.dvs_codec import events_nbytes

        rng = np.random.default_rng(seed)
        self.period_ns, self.n = int(period_ns), int(n)
        self.buffers, self.offsets, self.times = [], [], []
        for _ in range(count):
            offsets = np.sort(rng.integers(0, self.period_ns, n)).astype(np.int64)
            batch = EventBatch.from_arrays(offsets + 10**9, rng.integers(0, width, n),
                                           rng.integers(0, height, n), rng.integers(0, 2, n),
                                           width=width, height=height)
            raw = encode_event_array(batch, Header.from_ns(10**9, "bench_camera"))
            buf = np.frombuffer(bytearray(raw), dtype=np.uint8)
            start = len(raw) - events_nbytes(n)
            self.buffers.append(buf)
            self.offsets.append(offsets)
            self.times.append(np.ndarray((n,), _TIMES, buffer=buf, offset=start + 4,
                                         strides=(16,)))

    @property
    def bytes_per_event(self) -> float:
        """Bytes of a whole message per event."""
        return statistics.fmean(len(b) for b in self.buffers) / max(1, self.n)

    def message(self, i: int, start_ns: int, seq: int = 0) -> bytes:
        """Message ``i`` restamped to ``start_ns`` (``seq``: EventArray has none, ignored)."""
        i %= len(self.buffers)
        buf, times = self.buffers[i], self.times[i]
        sec, nanosec = divmod(int(start_ns), 1_000_000_000)
        t = self.offsets[i] + nanosec
        if self.period_ns < 1_000_000_000:  # t < 2 s: at most one carry into the seconds
            carry = t >= 1_000_000_000
            times["sec"] = sec + carry
            times["nanosec"] = t - carry * 1_000_000_000
        else:
            extra, times["nanosec"] = np.divmod(t, 1_000_000_000)
            times["sec"] = sec + extra
        HEADER_STAMP.pack_into(buf, 4, sec, nanosec)
        return buf.tobytes()


class RestampedPackets:
    """``count`` EventPacket messages of ``n`` events over ``period_ns``, encoded once.

    The events lie on whole microseconds, the first at the message's start (so the node, which
    anchors the stream's sensor time to its first packet's header stamp, puts every event at its
    message's stamp plus its offset); the events of one microsecond share a row. ``evt3`` is
    encoded with :class:`~ness_ros.events.evt3.Evt3Encoder`, then every TIME_LOW word gets a
    TIME_HIGH word before it (a valid EVT 3.0 stream: redundant TIME_HIGH words are allowed), so
    that any start time can be written into the words in place whatever microsecond carries into
    TIME_HIGH. ``libcaer`` (:func:`~ness_ros.events.packet_formats.encode_libcaer`) carries
    offsets from ``time_base``: only ``time_base`` changes.

    :meth:`message` patches header stamp, ``seq``, ``time_base`` (the start, ns) and, for evt3,
    the time words (the absolute microsecond, modulo 2^24 as the sensor counter).
    """

    def __init__(self, n: int, period_ns: int, encoding: str, *, width: int, height: int,
                 count: int = 4, seed: int = 0) -> None:
        from ness_ros.events import EventBatch, Header
        from ness_ros.events.evt3 import TIME_HIGH, TIME_LOW, Evt3Encoder
        from ness_ros.events.packet_codec import PacketInfo, encode_event_packet
        from ness_ros.events.packet_formats import encode_libcaer

        if encoding not in PACKET_ENCODINGS:
            raise BenchError(f"encoding must be one of {PACKET_ENCODINGS}, got {encoding!r}")
        period_us = max(1, int(period_ns) // 1000)
        rng = np.random.default_rng(seed)
        self.encoding, self.n, self.period_ns = encoding, int(n), period_us * 1000
        self.buffers: list[NDArray[np.uint8]] = []
        self.offsets_us: list[NDArray[np.int64]] = []  # per template, the events' offsets
        # evt3: per template, the uint16 view of the words and the TIME_HIGH/TIME_LOW slots
        self.words: list[NDArray[np.uint16]] = []
        self.high_at: list[NDArray[np.int64]] = []
        self.low_at: list[NDArray[np.int64]] = []
        self.time_us: list[NDArray[np.int64]] = []  # offset of each TIME_LOW/TIME_HIGH pair
        self.payload_bytes = 0
        for _ in range(count):
            us = np.sort(rng.integers(0, period_us, n)).astype(np.int64)
            us[0] = 0
            row = rng.integers(0, height, period_us)
            batch = EventBatch.from_arrays(us * 1000, rng.integers(0, width, n), row[us],
                                           rng.integers(0, 2, n), width=width, height=height)
            if encoding == "libcaer":
                payload = encode_libcaer(batch, 0)
            else:
                words = np.frombuffer(Evt3Encoder().encode(batch), "<u2")
                code = words >> 12
                high = np.maximum.accumulate(np.where(code == TIME_HIGH, np.arange(len(words)),
                                                      0))
                full = ((words[high].astype(np.int64) & 0xFFF) << 12) | (words & 0xFFF)
                low = np.flatnonzero(code == TIME_LOW)
                self.time_us.append(full[low])
                keep = code != TIME_HIGH
                kept_low = np.flatnonzero(code[keep] == TIME_LOW)
                words = np.insert(words[keep], kept_low, TIME_HIGH << 12)
                payload = words.tobytes()
            info = PacketInfo(Header.from_ns(0, "bench_camera"), width, height, 0, 0, encoding)
            raw = encode_event_packet(info, payload)
            buf = np.frombuffer(bytearray(raw), dtype=np.uint8)
            start = len(raw) - len(payload)
            if encoding == "evt3":
                view = np.ndarray((len(payload) // 2,), "<u2", buffer=buf, offset=start)
                self.words.append(view)
                self.low_at.append(kept_low + np.arange(1, len(kept_low) + 1))
                self.high_at.append(self.low_at[-1] - 1)
            self.buffers.append(buf)
            self.offsets_us.append(us)
            self.payload_bytes += len(payload)
        self.payload_bytes /= count
        # seq and time_base: after the header (stamp, frame id), height and width, 8-aligned.
        pos = 4 + 12 + len("bench_camera") + 1
        pos += -pos % 4 + 8
        self.seq_at = pos + (-(pos - 4) % 8)
        self._check()

    def _check(self) -> None:
        from ness_ros.events.packet_codec import parse_event_packet

        info, _ = parse_event_packet(self.message(0, 123_000_000_000, 7))
        assert (info.seq, info.time_base, info.header.stamp_ns) == (7, 123_000_000_000,
                                                                    123_000_000_000), info

    @property
    def bytes_per_event(self) -> float:
        """Bytes of a whole message per event."""
        return statistics.fmean(len(b) for b in self.buffers) / max(1, self.n)

    def message(self, i: int, start_ns: int, seq: int = 0) -> bytes:
        """Message ``i`` restamped to start at ``start_ns`` (whole microseconds), ``seq``."""
        i %= len(self.buffers)
        buf = self.buffers[i]
        HEADER_STAMP.pack_into(buf, 4, *divmod(int(start_ns), 1_000_000_000))
        _SEQ_TIME_BASE.pack_into(buf, self.seq_at, int(seq), int(start_ns))
        if self.encoding == "evt3":
            t = self.time_us[i] + int(start_ns) // 1000
            words = self.words[i]
            words[self.high_at[i]] = (t >> 12) & 0xFFF | 0x8000
            words[self.low_at[i]] = t & 0xFFF | 0x6000
        return buf.tobytes()


def bench_frames(width: int, height: int, count: int = 3) -> list[bytearray]:
    """``count`` rgb8 Image messages (a shifted colour gradient with noise), header stamp 0."""
    from ness_ros.events import Header, encode_image_cdr

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:height, 0:width]
    frames = []
    for k in range(count):
        base = np.stack([(xx + 8 * k) % 256, (yy * 255) // height, (xx + yy) % 256], axis=2)
        noise = rng.integers(0, 16, base.shape)
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        frames.append(bytearray(encode_image_cdr(pixels, "rgb8", Header(0, 0, "bench_camera"))))
    return frames


def restamped(config: dict[str, Any]) -> tuple[RestampedEvents | RestampedPackets, int, int]:
    """The publisher's messages for ``config``, their period in ns and events per message."""
    packets = config.get("event_message", "dvs") == "packet"
    period_ns = int(round(config["message_ms"] * 1e6))
    if packets:  # evt3 and libcaer carry whole microseconds
        period_ns = max(1000, int(round(period_ns / 1000)) * 1000)
    per_message = max(1, int(round(config["event_rate"] * period_ns / 1e9)))
    if packets:
        return (RestampedPackets(per_message, period_ns, config.get("encoding", "evt3"),
                                 width=WIDTH, height=HEIGHT), period_ns, per_message)
    return RestampedEvents(per_message, period_ns, width=WIDTH, height=HEIGHT), period_ns, \
        per_message


def intake_seconds(config: dict[str, Any], messages: int = 200) -> float:
    """Seconds one message of ``config`` takes in the node's EventStream.push (its default
    bounds), the mean over ``messages`` after as many to warm up and fill the buffer a bit."""
    from ness_ros.events.stream import EventStream

    events, period_ns, _ = restamped(config)
    stream = EventStream(config.get("event_message", "dvs"))
    t0 = time.time_ns() // 1000 * 1000
    data = [events.message(k, t0 + k * period_ns, k) for k in range(2 * messages)]
    for message in data[:messages]:
        stream.push(message)
    began = time.perf_counter()
    for message in data[messages:]:
        stream.push(message)
    return (time.perf_counter() - began) / messages


# -- the measuring side -------------------------------------------------------------------------
def memory_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) of process ``pid`` in kB, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (KeyError, ValueError, IndexError):
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (all its threads) in seconds, None once gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "; field 3 is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def model_file(requested: str, folder: Path) -> tuple[str, str]:
    """The model to run and a note saying what it is."""
    from ness_ros.models.tiny import tiny_model_file
    from ness_ros.models.weights import default_weights_path

    if requested:
        return requested, f"model {requested}"
    packaged = default_weights_path("segsnn")
    if packaged.is_file():
        return str(packaged), f"packaged weights {packaged}"
    path = tiny_model_file(folder, width=WIDTH, height=HEIGHT, base_width=8, num_steps=2)
    return str(path), (
        f"NO packaged weights at {packaged}: a tiny untrained SegSNN (base_width 8, 2 steps) "
        "built on the fly")


class LoadSamples:
    """What the measuring side collects of the node: its ~/latency (monotonic time, processing
    ms, end-to-end ms, keyframe), its /diagnostics (monotonic time, values, message), and its
    memory and CPU time sampled every :data:`SAMPLE_PERIOD_S`. Filled by the ROS side,
    :class:`ness_ros.ros.load_monitor.Monitor`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.latency: list[tuple[float, float, float, bool]] = []
        self.diagnostics: list[tuple[float, dict[str, str], str]] = []
        self.memory: list[tuple[float, int, int]] = []
        self.cpu: list[tuple[float, float]] = []  # (monotonic time, node CPU seconds)
        self.ready = False
        self._next_sample = 0.0

    def sample(self, now: float) -> None:
        """Sample the node's memory and CPU time when the next sample is due at ``now``."""
        if now >= self._next_sample:
            sample = memory_kb(self.pid)
            if sample is not None:
                self.memory.append((now, *sample))
            cpu = cpu_seconds(self.pid)
            if cpu is not None:
                self.cpu.append((now, cpu))
            self._next_sample = now + SAMPLE_PERIOD_S

    def diagnostic(self, key: str, default: float = float("nan")) -> float:
        for _, values, _ in reversed(self.diagnostics):
            if key in values:
                return float(values[key])
        return default


def _percentile(values: list[float], q: float) -> float:
    values = [v for v in values if v == v]  # drop NaN
    return float(np.percentile(values, q)) if values else float("nan")


def _mean_rss_mb(samples: list[tuple[float, int, int]], t0: float, t1: float) -> float:
    inside = [rss for t, rss, _ in samples if t0 <= t <= t1]
    return statistics.fmean(inside) / 1024 if inside else float("nan")


def _trend_mb_per_min(samples: list[tuple[float, int, int]], t0: float, t1: float) -> float:
    """Slope of RSS over [t0, t1] in MB per minute: the median of the slopes between all pairs
    of samples (Theil-Sen), which the short peaks of a frame's event copies do not move."""
    inside = [(t, rss / 1024) for t, rss, _ in samples if t0 <= t <= t1]
    if len(inside) < 3:
        return float("nan")
    t, rss = np.array(inside).T
    i, j = np.triu_indices(len(t), k=1)
    return float(np.median((rss[j] - rss[i]) / (t[j] - t[i])) * 60)


def node_cpu_cores(samples: list[tuple[float, float]], t0: float, t1: float) -> float:
    """CPU seconds the node used per wall second between the samples nearest ``t0`` and ``t1``
    (inside the interval)."""
    inside = [s for s in samples if t0 - SAMPLE_PERIOD_S <= s[0] <= t1 + SAMPLE_PERIOD_S]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return float("nan")
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def summarize(monitor: LoadSamples, published: dict[str, Any], load_start: float, load_end: float,
              config: dict[str, Any], note: str, exit_code: int | None,
              intake_s: float = float("nan")) -> dict[str, Any]:
    """The figures of one run."""
    elapsed = published.get("elapsed_s", load_end - load_start)
    window = min(WINDOW_S, elapsed / 2)
    memory = [m for m in monitor.memory if m[0] >= load_start - SAMPLE_PERIOD_S]
    first = _mean_rss_mb(memory, load_start, load_start + window)
    last = _mean_rss_mb(memory, load_end - window, load_end)
    during = [m for m in monitor.latency if load_start <= m[0] <= load_end + 1.0]
    received = monitor.diagnostic("events_received", 0.0)
    events = published.get("events", 0)
    frames_in = sum(monitor.diagnostic(key, 0.0) for key in ("frames_published",
                                                             "frames_dropped", "rejected_image"))
    trend = _trend_mb_per_min(memory, (load_start + load_end) / 2, load_end)
    packets = config.get("event_message", "dvs") == "packet"
    figures = {
        "model": note,
        "event_message": config.get("event_message", "dvs"),
        "message_type": MESSAGE_TYPES[config.get("event_message", "dvs")],
        "encoding": config.get("encoding", "evt3") if packets else "",
        "bytes_per_event": published.get("bytes_per_event", float("nan")),
        "payload_bytes_per_event": published.get("payload_bytes_per_event", float("nan")),
        "duration_s": elapsed,
        "events_per_s_target": config["event_rate"],
        "events_per_s_published": events / elapsed if elapsed else 0.0,
        "events_per_s_received": received / elapsed if elapsed else 0.0,
        "event_messages_published": published.get("messages", 0),
        "event_messages_skipped": published.get("messages_skipped", 0),
        "events_published": events,
        "events_received": int(received),
        "events_lost_in_transport": int(events - received - monitor.diagnostic(
            "events_out_of_bounds", 0.0)),
        "event_packets_lost": int(monitor.diagnostic("events_lost_packets", 0.0)),
        "events_out_of_bounds": int(monitor.diagnostic("events_out_of_bounds", 0.0)),
        "events_late": int(monitor.diagnostic("events_late", 0.0)),
        "rejected_events": int(monitor.diagnostic("rejected_events", 0.0)),
        "events_dropped_buffer": int(monitor.diagnostic("events_dropped_buffer", 0.0)),
        "events_dropped_overflow": int(monitor.diagnostic("events_dropped_overflow", 0.0)),
        "frames_published": published.get("frames", 0),
        "frames_lost_in_transport": int(published.get("frames", 0) - frames_in),
        "masks_received": len(during),
        "frames_dropped": int(monitor.diagnostic("frames_dropped", 0.0)),
        "frames_without_events": int(monitor.diagnostic("frames_without_events", 0.0)),
        "rejected_total": int(monitor.diagnostic("rejected_total", 0.0)),
        "latency_p50_ms": _percentile([m[1] for m in during], 50),
        "latency_p95_ms": _percentile([m[1] for m in during], 95),
        "end_to_end_p50_ms": _percentile([m[2] for m in during], 50),
        "end_to_end_p95_ms": _percentile([m[2] for m in during], 95),
        "rss_before_load_mb": memory[0][1] / 1024 if memory else float("nan"),
        "rss_peak_mb": max((m[2] for m in memory), default=0) / 1024,
        "rss_end_mb": memory[-1][1] / 1024 if memory else float("nan"),
        "rss_first_window_mb": first,
        "rss_last_window_mb": last,
        "rss_growth_mb": last - first,
        "rss_window_s": window,
        "rss_trend_second_half_mb_per_min": trend,
        "event_buffer_storage_mb": EVENT_BUFFER_STORAGE_MB,
        "memory_bounded": bool(trend <= TREND_LIMIT_MB_PER_MIN),
        "rss_every_10s_mb": [_mean_rss_mb(memory, t, t + SAMPLE_PERIOD_S * 2)
                             for t in np.arange(load_start, load_end, WINDOW_S)],
        "rss_samples_mb": [(round(t - load_start, 2), round(rss / 1024, 1))
                           for t, rss, _ in memory],
        "publisher_busy_fraction": published.get("publisher_busy_fraction", float("nan")),
        "node_cpu_cores": node_cpu_cores(monitor.cpu, load_start, load_end),
        "event_intake_ms_per_message": intake_s * 1e3,
        "event_intake_cores": intake_s * published.get("messages", 0) / elapsed
        if elapsed else float("nan"),
        "stage_p50_ms": {key[len("stage_"):-len("_p50_ms")]: monitor.diagnostic(key)
                         for key in (monitor.diagnostics[-1][1] if monitor.diagnostics else {})
                         if key.startswith("stage_")},
        "node_exit_code": exit_code,
        "diagnostics_message": monitor.diagnostics[-1][2] if monitor.diagnostics else "",
    }
    return figures


#: The printed table: (measure, key of the figures, unit); the JSON has every figure.
TABLE = [
    ("event message", "message_type", ""),
    ("encoding", "encoding", ""),
    ("bytes per event (whole message)", "bytes_per_event", "bytes"),
    ("events/s target", "events_per_s_target", "events/s"),
    ("events/s published", "events_per_s_published", "events/s"),
    ("events/s received by the node", "events_per_s_received", "events/s"),
    ("event messages published", "event_messages_published", "messages"),
    ("event messages skipped (publisher behind)", "event_messages_skipped", "messages"),
    ("events lost in transport", "events_lost_in_transport", "events"),
    ("EventPacket seq gaps (node's events_lost_packets)", "event_packets_lost", "messages"),
    ("event messages rejected by the node", "rejected_events", "messages"),
    ("events dropped by the buffer's count bound", "events_dropped_overflow", "events"),
    ("events dropped by both buffer bounds", "events_dropped_buffer", "events"),
    ("frames published", "frames_published", "frames"),
    ("frames lost in transport", "frames_lost_in_transport", "frames"),
    ("masks received", "masks_received", "masks"),
    ("frames dropped (node)", "frames_dropped", "frames"),
    ("frames served before their events", "frames_without_events", "frames"),
    ("latency p50 (processing_ms)", "latency_p50_ms", "ms"),
    ("latency p95 (processing_ms)", "latency_p95_ms", "ms"),
    ("end-to-end p50", "end_to_end_p50_ms", "ms"),
    ("end-to-end p95", "end_to_end_p95_ms", "ms"),
    ("RSS before the load", "rss_before_load_mb", "MB"),
    ("RSS peak (VmHWM)", "rss_peak_mb", "MB"),
    ("RSS at the end", "rss_end_mb", "MB"),
    ("RSS mean, first 10 s", "rss_first_window_mb", "MB"),
    ("RSS mean, last 10 s", "rss_last_window_mb", "MB"),
    ("RSS growth (last - first)", "rss_growth_mb", "MB"),
    ("RSS at 0, 10, 20 ... s", "rss_every_10s_mb", "MB"),
    ("RSS trend over the second half", "rss_trend_second_half_mb_per_min", "MB/min"),
    ("event buffer storage at most (default bound)", "event_buffer_storage_mb", "MB"),
    (f"memory bounded (trend <= {TREND_LIMIT_MB_PER_MIN:g} MB/min)", "memory_bounded", ""),
    ("publisher busy fraction", "publisher_busy_fraction", ""),
    ("node CPU over the load (decode, buffer, model)", "node_cpu_cores", "cores"),
    ("event intake (EventStream.push, timed here after the run)", "event_intake_cores",
     "cores"),
    ("node exit code", "node_exit_code", ""),
]


def table_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for measure, key, unit in TABLE:
        value = f[key]
        if isinstance(value, bool):
            value = "yes" if value else "NO"
        elif isinstance(value, list):
            value = " ".join(f"{v:.0f}" for v in value)
        rows.append({"measure": measure, "value": value, "unit": unit})
        if key == "latency_p95_ms":
            rows += [{"measure": f"stage {stage} p50 (last 200 masks)", "value": ms,
                      "unit": "ms"} for stage, ms in f["stage_p50_ms"].items()]
    return rows


def run(args: argparse.Namespace) -> int:
    from ness_ros.domain import isolate_this_process

    isolate_this_process()  # this process talks to the node: both on one domain of their own
    from ness_ros.graph import NodeSpec
    from ness_ros.ros import load_monitor  # rclpy: imported after the domain is set

    config = {"duration": float(args.duration), "event_rate": float(args.event_rate),
              "frame_rate": float(args.frame_rate), "message_ms": float(args.message_ms),
              "event_message": args.event_message,
              "encoding": args.encoding if args.event_message == "packet" else ""}
    with tempfile.TemporaryDirectory(prefix="ness_bench_load_") as tmp:
        path, note = model_file(args.model, Path(tmp))
        print(f"model: {note}", flush=True)
        spec = NodeSpec("hybrid_segmentation", NODE_NAME, [], {"model": path,
                        "diagnostics_period_s": 0.5, "event_message": args.event_message},
                        list(TOPICS.items()))
        log_dir = Path(args.log_dir) if args.log_dir else Path(tmp) / "logs"
        harness = load_monitor.harness(spec, log_dir)
        graph = harness.graph
        publisher = None
        try:
            harness.start()
            # The publisher starts with the node; it waits for the node's subscriptions.
            publisher = subprocess.Popen(
                [sys.executable, "-m", "ness_ros.ros.load_publisher", "--publish",
                 json.dumps(config)],
                stdout=subprocess.PIPE, text=True)
            monitor = load_monitor.Monitor(harness)
            deadline = time.monotonic() + 60.0
            while not monitor.ready and time.monotonic() < deadline and not graph.failed():
                monitor.spin(0.1)
            if not monitor.ready:
                print(f"the node did not start:\n{graph.log_text(NODE_NAME)[-3000:]}")
                return 1
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.extend(publisher.stdout), daemon=True)
            reader.start()
            deadline = time.monotonic() + 60.0
            while "started\n" not in lines and publisher.poll() is None \
                    and time.monotonic() < deadline:
                monitor.spin(0.02)
            load_start = time.monotonic()
            deadline = load_start + config["duration"] + 60.0
            while publisher.poll() is None and time.monotonic() < deadline:
                monitor.spin(0.2)
            load_end = time.monotonic()
            monitor.spin(1.2)  # the last diagnostics
            reader.join(timeout=5.0)
            published = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
        finally:
            if publisher is not None and publisher.poll() is None:
                publisher.kill()
                publisher.wait()
            codes = harness.stop()
        figures = summarize(monitor, published, load_start, load_end, config, note,
                            codes.get(NODE_NAME), intake_seconds(config))
    kind = (f"EventPackets ({config['encoding']})" if config["event_message"] == "packet"
            else "EventArrays")
    title = (f"ness bench load: hybrid_segmentation, {config['event_rate']:.3g} events/s in "
             f"{config['message_ms']:g} ms {kind} + {config['frame_rate']:g} Hz "
             f"{WIDTH}x{HEIGHT} rgb8 frames for {figures['duration_s']:.1f} s\nmodel: {note}")
    print(format_table(table_rows(figures), ["measure", "value", "unit"], title=title))
    write_json(args.json, {"benchmark": "load", "config": config, "figures": figures})
    return 0 if published and figures["node_exit_code"] == 0 else 1

