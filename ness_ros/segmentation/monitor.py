"""Run-time statistics for nodes and benchmarks: latency percentiles, rates, counters, health.

ROS-free so that the nodes, the replay evaluation and the benchmarks compute them one way.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

#: Diagnostic levels, as in diagnostic_msgs/DiagnosticStatus.
OK, WARN, ERROR = 0, 1, 2


class Percentiles:
    """Keeps the last ``window`` samples and reports p50 / p95 / max (NaN when empty)."""

    def __init__(self, window: int = 200) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def add(self, value: float) -> None:
        with self._lock:
            self._samples.append(float(value))

    def summary(self) -> dict[str, float]:
        with self._lock:
            data = np.fromiter(self._samples, dtype=np.float64)
        if data.size == 0:
            return {"p50": float("nan"), "p95": float("nan"), "max": float("nan"), "count": 0}
        return {"p50": float(np.percentile(data, 50)), "p95": float(np.percentile(data, 95)),
                "max": float(data.max()), "count": int(data.size)}


class RateMeter:
    """Events per second over a sliding time window (times in seconds, any monotonic clock)."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._marks: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    def add(self, now_s: float, amount: float = 1.0) -> None:
        with self._lock:
            self._marks.append((now_s, amount))
            while self._marks and now_s - self._marks[0][0] > self.window_s:
                self._marks.popleft()

    def rate(self, now_s: float) -> float:
        with self._lock:
            while self._marks and now_s - self._marks[0][0] > self.window_s:
                self._marks.popleft()
            if not self._marks:
                return 0.0
            return sum(a for _, a in self._marks) / self.window_s


@dataclass(frozen=True)
class HealthThresholds:
    """Levels of the diagnostics: WARN/ERROR when p95 latency (ms) or the drop fraction exceed
    these."""

    latency_warn_ms: float = 100.0
    latency_error_ms: float = 500.0
    drop_warn_fraction: float = 0.2
    drop_error_fraction: float = 0.8


def health(latency_p95_ms: float, drop_fraction: float, outputs_per_s: float,
           inputs_per_s: float, thresholds: HealthThresholds, *, event_age_s: float = 0.0,
           events_timeout_s: float = 0.0) -> tuple[int, str]:
    """Level and message for the node's diagnostics: the worst level found, and every problem
    found (worst first, joined by "; "), or ``(OK, "ok")``.

    ``event_age_s`` is the time since the last event message arrived (``inf``: none yet); with
    ``events_timeout_s`` > 0 an age above it while inputs arrive is a WARN.
    """
    problems: list[tuple[int, str]] = []
    if inputs_per_s > 0 and outputs_per_s == 0:
        problems.append((ERROR, "inputs arrive but no mask was published in the last seconds"))
    for limit, level in ((thresholds.latency_error_ms, ERROR),
                         (thresholds.latency_warn_ms, WARN)):
        if latency_p95_ms > limit:
            problems.append((level, f"p95 latency {latency_p95_ms:.0f} ms > {limit:.0f} ms"))
            break
    for limit, level in ((thresholds.drop_error_fraction, ERROR),
                         (thresholds.drop_warn_fraction, WARN)):
        if drop_fraction > limit:
            problems.append((level, f"{drop_fraction:.0%} of frames dropped"))
            break
    if inputs_per_s == 0:
        problems.append((WARN, "no input in the last seconds"))
    elif events_timeout_s > 0 and event_age_s > events_timeout_s:
        since = "yet" if math.isinf(event_age_s) else f"for {event_age_s:.1f} s"
        problems.append((WARN, f"no event message {since}: frames are segmented without "
                               "events"))
    if not problems:
        return OK, "ok"
    problems.sort(key=lambda p: -p[0])  # stable: worst first, then in the order above
    return problems[0][0], "; ".join(message for _, message in problems)


class LatestSlot:
    """A queue of depth one: the newest item wins and a replaced item is counted as dropped.

    Callbacks ``put`` decoded inputs; the worker ``take``s the newest. Thread-safe.
    """

    def __init__(self) -> None:
        self._item: object | None = None
        self._cond = threading.Condition()
        self.dropped = 0
        self._closed = False

    def put(self, item: object) -> bool:
        """Store ``item``; returns True when it replaced one the worker never took."""
        with self._cond:
            replaced = self._item is not None
            if replaced:
                self.dropped += 1
            self._item = item
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> object | None:
        """The newest item, waiting up to ``timeout`` s; None on timeout or after close()."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class NodeStats:
    """What a segmentation node measures of itself for /diagnostics: latencies per stage,
    rates, rejections. Thread-safe enough for one writer per counter (the worker records
    results, the callbacks count inputs and rejections)."""

    def __init__(self) -> None:
        self.processing_ms, self.end_to_end_ms = Percentiles(), Percentiles()
        self.stage_ms: dict[str, Percentiles] = {}
        self.input_rate, self.output_rate, self.event_rate = RateMeter(), RateMeter(), RateMeter()
        self.recomputed_fraction = Percentiles()
        self.published = 0
        self.frames_without_events = 0
        #: Rejected inputs by ``<stream>_<kind>`` (``image_duplicate_stamp``, ...).
        self.rejected: Counter[str] = Counter()

    def record(self, now_s: float, processing_ms: float, end_to_end_ms: float,
               stages_ms: dict[str, float], recomputed_fraction: float) -> None:
        """One published mask (``end_to_end_ms`` NaN when the stamps are not live)."""
        self.published += 1
        self.output_rate.add(now_s)
        self.processing_ms.add(processing_ms)
        if not math.isnan(end_to_end_ms):
            self.end_to_end_ms.add(end_to_end_ms)
        for stage, ms in stages_ms.items():
            self.stage_ms.setdefault(stage, Percentiles()).add(ms)
        self.recomputed_fraction.add(recomputed_fraction)

    def report(self, now_s: float, dropped: int, thresholds: HealthThresholds, *,
               event_age_s: float, events_timeout_s: float
               ) -> tuple[int, str, dict[str, object]]:
        """(level, message, values) of the node's own figures for /diagnostics."""
        processing, e2e = self.processing_ms.summary(), self.end_to_end_ms.summary()
        inputs, outputs = self.input_rate.rate(now_s), self.output_rate.rate(now_s)
        taken = self.published + dropped
        p95 = processing["p95"] if processing["count"] else 0.0
        level, message = health(p95, dropped / taken if taken else 0.0, outputs, inputs,
                                thresholds, event_age_s=event_age_s,
                                events_timeout_s=events_timeout_s)
        values: dict[str, object] = {
            "processing_latency_p50_ms": processing["p50"],
            "processing_latency_p95_ms": processing["p95"],
            "processing_latency_max_ms": processing["max"],
            "end_to_end_latency_p50_ms": e2e["p50"], "end_to_end_latency_p95_ms": e2e["p95"],
            "end_to_end_latency_max_ms": e2e["max"],
            "input_rate_hz": inputs, "output_rate_hz": outputs,
            "events_per_s": self.event_rate.rate(now_s),
            "recomputed_fraction_p50": self.recomputed_fraction.summary()["p50"],
            "frames_published": self.published, "frames_dropped": dropped,
            "frames_without_events": self.frames_without_events,
            "event_input_age_s": event_age_s,
        }
        for stage, stats in self.stage_ms.items():
            values[f"stage_{stage}_p50_ms"] = stats.summary()["p50"]
        rejected = dict(self.rejected)
        values["rejected_total"] = sum(rejected.values())
        for stream in ("image", "events"):
            values[f"rejected_{stream}"] = sum(n for kind, n in rejected.items()
                                               if kind.startswith(f"{stream}_"))
        for kind, count in sorted(rejected.items()):
            values[f"rejected_{kind}"] = count
        return level, message, values
