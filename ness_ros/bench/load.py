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
"""

from __future__ import annotations

import argparse
import json
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

from ness_ros.cli.report import add_json_option, format_table, write_json

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
_STAMP = struct.Struct("<iI")
_TIMES = np.dtype({"names": ["sec", "nanosec"], "formats": ["<i4", "<u4"], "offsets": [0, 4],
                   "itemsize": 8})


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
                        help="time span of one EventArray message, ms (default 1)")
    parser.add_argument("--model", default="",
                        help="model file (default: packaged segsnn weights, else a tiny "
                             "untrained SegSNN)")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="keep the node's log here (default: a temporary folder)")
    add_json_option(parser)
    parser.set_defaults(func=run)


# -- publisher (its own process: python -m ness_ros.bench.load --publish CONFIG) -------------
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
        self.period_ns = int(period_ns)
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

    def message(self, i: int, start_ns: int) -> bytes:
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
        _STAMP.pack_into(buf, 4, sec, nanosec)
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


def publish(config: dict[str, Any]) -> dict[str, Any]:
    """Publish the load described by ``config``; returns what was published."""
    import rclpy

    from ness_ros.ros.qos import SENSOR_QOS

    period_ns = int(round(config["message_ms"] * 1e6))
    per_message = max(1, int(round(config["event_rate"] * period_ns / 1e9)))
    frame_ns = int(round(1e9 / config["frame_rate"])) if config["frame_rate"] > 0 else 0
    events = RestampedEvents(per_message, period_ns, width=WIDTH, height=HEIGHT)
    frames = bench_frames(WIDTH, HEIGHT)
    rclpy.init()
    from dvs_msgs.msg import EventArray
    from sensor_msgs.msg import Image

    node = rclpy.create_node(f"{NODE_NAME}_publisher")
    event_pub = node.create_publisher(EventArray, TOPICS["events"], SENSOR_QOS)
    image_pub = node.create_publisher(Image, TOPICS["image"], SENSOR_QOS)
    deadline = time.monotonic() + 120.0  # the node starts at the same time
    while (event_pub.get_subscription_count() == 0 or image_pub.get_subscription_count() == 0) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    print("started", flush=True)
    t0 = time.time_ns()
    mono0 = time.monotonic_ns()
    end = mono0 + int(config["duration"] * 1e9)
    k = j = sent = skipped = frames_sent = frames_skipped = 0
    busy_ns = 0
    while True:
        now = time.monotonic_ns()
        if now >= end:
            break
        target = mono0 + k * period_ns
        if now < target:
            time.sleep((target - now) / 1e9)
        elif now - target > MAX_LAG_NS:
            behind = (now - mono0) // period_ns - k
            k += behind
            skipped += behind
            if frame_ns:
                next_frame = -(-(k * period_ns) // frame_ns)
                frames_skipped += next_frame - j
                j = next_frame
        began = time.monotonic_ns()
        event_pub.publish(events.message(k, t0 + k * period_ns))
        sent += 1
        k += 1
        while frame_ns and j * frame_ns <= k * period_ns:
            frame = frames[j % len(frames)]
            _STAMP.pack_into(frame, 4, *divmod(t0 + j * frame_ns, 1_000_000_000))
            image_pub.publish(bytes(frame))
            frames_sent += 1
            j += 1
        busy_ns += time.monotonic_ns() - began
    elapsed = (time.monotonic_ns() - mono0) / 1e9
    node.destroy_node()
    rclpy.try_shutdown()
    return {"messages": sent, "messages_skipped": skipped, "events": sent * per_message,
            "events_per_message": per_message, "frames": frames_sent,
            "frames_skipped": frames_skipped, "elapsed_s": elapsed,
            "publisher_busy_fraction": busy_ns / 1e9 / elapsed if elapsed else 0.0}


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


def model_file(requested: str, folder: Path) -> tuple[str, str]:
    """The model to run and a note saying what it is."""
    from ness_ros.models.weights import ModelCard, default_weights_path, save_model

    if requested:
        return requested, f"model {requested}"
    packaged = default_weights_path("segsnn")
    if packaged.is_file():
        return str(packaged), f"packaged weights {packaged}"
    import torch

    from ness_ros.models.segsnn import SegSNN

    torch.manual_seed(0)
    model = SegSNN(base_width=8, num_steps=2)
    card = ModelCard.for_model(model, input_size=(WIDTH, HEIGHT), event_window_ms=50.0,
                               event_clip=4.0, event_scale=0.25, frame_mean=[0.45] * 3,
                               frame_std=[0.25] * 3)
    stem = folder / "tiny_segsnn"
    save_model(model, card, stem)
    return str(stem.with_suffix(".safetensors")), (
        f"NO packaged weights at {packaged}: a tiny untrained SegSNN (base_width 8, 2 steps) "
        "built on the fly")


class Monitor:
    """Collects the node's ~/latency and /diagnostics and samples its memory."""

    def __init__(self, pid: int) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from ness_msgs.msg import SegmentationLatency
        from vision_msgs.msg import LabelInfo

        from ness_ros.ros.qos import LATCHED_QOS, OUTPUT_QOS

        self.pid = pid
        self.node = rclpy.create_node(f"{NODE_NAME}_monitor")
        self.latency: list[tuple[float, float, float, bool]] = []
        self.diagnostics: list[tuple[float, dict[str, str], str]] = []
        self.memory: list[tuple[float, int, int]] = []
        self.ready = False
        self.node.create_subscription(SegmentationLatency, f"/{NODE_NAME}/latency",
                                      self._on_latency, OUTPUT_QOS)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics,
                                      OUTPUT_QOS)
        self.node.create_subscription(LabelInfo, f"/{NODE_NAME}/label_info",
                                      lambda _: setattr(self, "ready", True), LATCHED_QOS)
        self._next_sample = 0.0

    def _on_latency(self, msg: Any) -> None:
        self.latency.append((time.monotonic(), msg.processing_ms, msg.end_to_end_ms,
                             msg.keyframe))

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.endswith(NODE_NAME):
                self.diagnostics.append((time.monotonic(),
                                         {kv.key: kv.value for kv in status.values},
                                         status.message))

    def spin(self, seconds: float) -> None:
        import rclpy

        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= self._next_sample:
                sample = memory_kb(self.pid)
                if sample is not None:
                    self.memory.append((now, *sample))
                self._next_sample = now + SAMPLE_PERIOD_S
            if now >= end:
                return
            rclpy.spin_once(self.node, timeout_sec=min(0.05, end - now))

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


def summarize(monitor: Monitor, published: dict[str, Any], load_start: float, load_end: float,
              config: dict[str, Any], note: str, exit_code: int | None) -> dict[str, Any]:
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
    figures = {
        "model": note,
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
        "stage_p50_ms": {key[len("stage_"):-len("_p50_ms")]: monitor.diagnostic(key)
                         for key in (monitor.diagnostics[-1][1] if monitor.diagnostics else {})
                         if key.startswith("stage_")},
        "node_exit_code": exit_code,
        "diagnostics_message": monitor.diagnostics[-1][2] if monitor.diagnostics else "",
    }
    return figures


#: The printed table: (measure, key of the figures, unit); the JSON has every figure.
TABLE = [
    ("events/s target", "events_per_s_target", "events/s"),
    ("events/s published", "events_per_s_published", "events/s"),
    ("events/s received by the node", "events_per_s_received", "events/s"),
    ("event messages published", "event_messages_published", "messages"),
    ("event messages skipped (publisher behind)", "event_messages_skipped", "messages"),
    ("events lost in transport", "events_lost_in_transport", "events"),
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
    import rclpy

    from ness_ros.graph import NodeSpec
    from ness_ros.graph_runner import GraphProcesses

    config = {"duration": float(args.duration), "event_rate": float(args.event_rate),
              "frame_rate": float(args.frame_rate), "message_ms": float(args.message_ms)}
    with tempfile.TemporaryDirectory(prefix="ness_bench_load_") as tmp:
        path, note = model_file(args.model, Path(tmp))
        print(f"model: {note}", flush=True)
        spec = NodeSpec("hybrid_segmentation", NODE_NAME, [], {"model": path,
                        "diagnostics_period_s": 0.5}, list(TOPICS.items()))
        log_dir = Path(args.log_dir) if args.log_dir else Path(tmp) / "logs"
        graph = GraphProcesses([spec], log_dir)
        rclpy.init()
        publisher = None
        try:
            graph.start()
            # The publisher starts with the node; it waits for the node's subscriptions.
            publisher = subprocess.Popen(
                [sys.executable, "-m", "ness_ros.bench.load", "--publish", json.dumps(config)],
                stdout=subprocess.PIPE, text=True)
            monitor = Monitor(graph.processes[NODE_NAME].pid)
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
            codes = graph.stop()
            rclpy.try_shutdown()
        figures = summarize(monitor, published, load_start, load_end, config, note,
                            codes.get(NODE_NAME))
    title = (f"ness bench load: hybrid_segmentation, {config['event_rate']:.3g} events/s in "
             f"{config['message_ms']:g} ms EventArrays + {config['frame_rate']:g} Hz "
             f"{WIDTH}x{HEIGHT} rgb8 frames for {figures['duration_s']:.1f} s\nmodel: {note}")
    print(format_table(table_rows(figures), ["measure", "value", "unit"], title=title))
    write_json(args.json, {"benchmark": "load", "config": config, "figures": figures})
    return 0 if published and figures["node_exit_code"] == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--publish":
        print(json.dumps(publish(json.loads(sys.argv[2]))), flush=True)
    else:
        sys.exit("usage: python -m ness_ros.bench.load --publish CONFIG_JSON (run by ness bench "
                 "load)")
