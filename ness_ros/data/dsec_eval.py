"""A DSEC-Semantic sequence as the offline evaluation of the hybrid segmenter takes it
(``ness eval sweep --dataset dsec``): its labelled frames in time order, each with its label and
its time, and its events read window by window from ``events.h5``.

The frames are those :class:`~ness_ros.data.dsec.DsecSequence` pairs with the labels (the frame
nearest each label, brought into the label frame); labels come at 20 Hz, so a sequence's
labelled frames are a 20 Hz stream, the gaps of labels without a frame aside. Each frame is
stamped with its own time, its label's pixels the frame camera does not see are ignored (255),
and a label whose event window would start before the recording is left out, as training and
``ness eval model --dataset dsec`` do. Frames and labels are read when asked for, not held: a
real sequence has hundreds to thousands of them, and tens of millions of events.

Nothing here imports the segmentation layer: :class:`DsecEvents` has the shape of
:class:`~ness_ros.segmentation.pipeline.EventSource` (``query``, ``newest_ns``,
``sensor_size``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ness_ros.data.dsec import DsecSequence
from ness_ros.data.errors import DataError
from ness_ros.events.batch import EventBatch

__all__ = ["DsecEvalSequence", "DsecEvents", "LazyImages"]


class DsecEvents:
    """The events of a DSEC sequence as an event source: each window read from the HDF5 file
    when it is asked for (640 x 440, rectified and cropped as the labels), never the whole
    recording in memory. Every event is there from the start, as in a recording."""

    def __init__(self, sequence: DsecSequence) -> None:
        self.sequence = sequence
        last = sequence.last_event_us()
        self._newest_ns = None if last is None else last * 1000

    def query(self, t0_ns: int, t1_ns: int) -> EventBatch:
        """Events with ``t0_ns <= t < t1_ns``, sorted. Event times are whole µs (``t = 1000 *
        µs``), so ``t >= t0_ns`` exactly when ``µs >= ceil(t0_ns / 1000)``; likewise for t1."""
        return self.sequence.read_events(-(-int(t0_ns) // 1000), -(-int(t1_ns) // 1000))

    @property
    def newest_ns(self) -> int | None:
        return self._newest_ns

    @property
    def sensor_size(self) -> tuple[int, int]:
        return self.sequence.width, self.sequence.height


class LazyImages:
    """``n`` images read one at a time by ``read(i)``, indexed like the arrays of a
    synthetic sequence (``images[i]``)."""

    def __init__(self, n: int, read: Callable[[int], NDArray[np.uint8]]) -> None:
        self._n, self._read = n, read

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> NDArray[np.uint8]:
        if not -self._n <= i < self._n:
            raise IndexError(f"image {i} of {self._n}")
        return self._read(i % self._n)


class DsecEvalSequence:
    """The labelled frames of one DSEC-Semantic sequence in a span of time, for evaluation.

    Args:
        folder: the sequence folder (its ``images/`` and ``calibration/`` are required).
        mapped: labels mapped to DDD17's six classes (else DSEC's 11).
        window_us: the model's event window; labels whose window would start before the
            recording are left out.
        start_s: the span starts this long after the sequence's first label.
        duration_s: the span's length (0: to the end of the sequence).

    A span with no usable label gives an empty sequence (``len`` 0), not an error: a split's
    short sequences may end before a late start.

    Attributes:
        name, width, height: the sequence's name; 640 x 440, the label frame.
        label_index: (N,) the DSEC label of each frame taken.
        stamps_ns: (N,) int64 each frame's time, ns on the events' clock.
        frames: (440, 640, 3) RGB frames in the label frame, ``frames[i]``.
        labels: (440, 640) uint8 labels, 255 where unlabelled or unseen by the frame camera.
        event_source: the events, :class:`DsecEvents`.
    """

    #: Never the whole recording in memory: :attr:`event_source` reads each window.
    events: None = None

    def __init__(self, folder: str | Path, *, mapped: bool, window_us: int,
                 start_s: float = 0.0, duration_s: float = 0.0) -> None:
        if not start_s >= 0 or not duration_s >= 0:
            raise DataError(f"the span needs start >= 0 s and duration >= 0 s (0: to the end), "
                            f"got {start_s} and {duration_s}")
        self.sequence = DsecSequence(folder, frames=True)
        seq = self.sequence
        self.name = seq.name
        self.width, self.height = seq.width, seq.height
        self.mapped = mapped
        paired, frame_us = seq.complete_samples(window_us)
        begin = int(seq.stamps_us[0]) + round(start_s * 1e6) if len(seq) else 0
        keep = frame_us >= begin
        if duration_s:
            keep &= frame_us < begin + round(duration_s * 1e6)
        self.label_index = paired[keep]
        self.stamps_ns = frame_us[keep] * 1000
        # (start, length) of the span taken, s; empty when no label is usable in it.
        self.span_s = (start_s, (int(self.stamps_ns[-1]) - int(self.stamps_ns[0])) / 1e9
                       if len(self) else 0.0)
        self.frames = LazyImages(len(self), lambda i: seq.frame(int(self.label_index[i])))
        self.labels = LazyImages(len(self), lambda i: seq.label(
            int(self.label_index[i]), mapped=mapped, seen_only=True))
        self.event_source = DsecEvents(seq)

    def __len__(self) -> int:
        return len(self.label_index)

    def describe(self) -> str:
        """One line for logs: the sequence, its layout and frames, and the span taken."""
        seq = self.sequence
        return (f"{self.name}: {len(self)} labelled frames over {self.span_s[1]:.2f} s from "
                f"{self.span_s[0]:g} s after its first label; {seq.layout.describe()}; "
                f"{seq.describe_frames()}")

    def close(self) -> None:
        self.sequence.close()
