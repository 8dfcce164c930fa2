"""Real labelled sequences as rosbag2 files: ``ness bag import dsec|ddd17 PATH --out BAG``.

The bag holds what the nodes and ``ness bag eval`` / ``ness bag replay`` read, on the default
topics (:data:`~ness_ros.graph.DEFAULT_TOPICS`): the events (``event_camera_msgs/EventPacket``,
evt3 by default, or ``dvs_msgs/EventArray``), the frames when the data set has frames of the event
sensor, and the labels as ``sensor_msgs/Image`` mono8 on their own topic. Every stamp is on the
sensor's clock. Messages are serialized by the project's codecs and written as CDR bytes, as
:mod:`ness_ros.bag.record` does, but streamed: a DSEC sequence is read window by window, never
whole. ROS-free.

Event messages cover consecutive intervals ``[previous boundary, boundary)`` of sensor time, the
boundaries every ``event_period_s`` and at every label stamp; a label (and its frame) is written
after the events before its stamp, stamped and received at that stamp. EventPacket headers carry
their first event's time, EventArray headers their interval's end (as :mod:`~ness_ros.bag.record`).

DSEC-Semantic (:class:`~ness_ros.data.dsec.DsecSequence`, either layout): the events of the left
event camera, rectified when ``rectify_map.h5`` is there and cropped to the 640 x 440 label frame,
from ``window_s`` before the first label to the last label; labels at their timestamps
(``t + t_offset`` clock, µs). DSEC's frames come from a separate camera (another lens, 1440 x
1080); when the sequence holds them (``images/`` and ``calibration/``), they are brought into the
640 x 440 label frame (:class:`~ness_ros.data.dsec_frames.DsecFrames`, the homography at
infinity) and written as rgb8 frames, one per label: the frame nearest the label's time, stamped
with the frame's own time, and the label stamped alike (a mask is made at its frame's time and
scored against that frame's label; DSEC-Semantic's labels were made on these frames, so the two
times agree to a few µs in the released data). Labels without a frame within the sequence's
bound (:class:`~ness_ros.data.dsec.DsecSequence`) are left out and counted; label pixels the
frame camera does not see are written as 255 (ignored), as the hybrid model is trained and
scored (:mod:`ness_ros.training.real_data`). ``frames=False`` leaves the frames out.

DDD17 as released with Ev-SegNet (:class:`~ness_ros.data.ddd17.Ddd17Split`): the release holds
no raw events nor timestamps, only per-window event images. Sample ``i`` (names in natural order)
is stamped ``(i + 1) * window_s``; its count channels become events inside ``[stamp - window,
stamp)``: a pixel's ``n`` events of one polarity at ``stamp - window + floor((k + 1) window / n)
- 1 µs``, ``k = 0..n-1``, so that every split of the window into T equal time bins sees
:func:`~ness_ros.data.ddd17.counts_tensor`'s counts (``whole_events``). The time order inside a
window is the release's loss, not restored. The grey frames (``images/``) become mono8 frames.

Labels keep the data set's ids (``classes="dataset"``: DSEC's 11, DDD17's 6) or are mapped to the
six DDD17 classes (``classes="ddd17"``, DSEC through :data:`~ness_ros.data.dsec.DSEC_TO_DDD17`);
the bag's ``metadata.yaml`` says which (``custom_data``: ``ness_ros.source``,
``ness_ros.classes``, ``ness_ros.class_names``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from ness_ros.bag.errors import BagError
from ness_ros.bag.record import (
    RecordOptions,
    RecordSummary,
    packet_encoder,
    write_events,
)
from ness_ros.bag.types import EVENT_TYPES, IMAGE_TYPE
from ness_ros.bag.writer import BagWriter
from ness_ros.data.errors import DataError
from ness_ros.events.batch import EventBatch
from ness_ros.events.cdr import Header
from ness_ros.events.image_codec import encode_image_cdr

#: Data sets ``ness bag import`` reads besides AEDAT4 files.
DATASETS = ("dsec", "ddd17")
#: Label class sets: the data set's own ids, or the six DDD17 classes of ness_ros.labels.
CLASS_SETS = ("dataset", "ddd17")


@dataclass(frozen=True)
class ImportOptions:
    """How to import a real sequence.

    Attributes:
        record: storage, event message, encoding, event period, frame id, topics, progress.
        classes: ``dataset`` (the data set's own class ids) or ``ddd17`` (the six classes).
        window_s: events before the first label (DSEC); the window of one sample (DDD17,
            also the spacing of its stamps).
        start_s, duration_s: the labels imported: from ``start_s`` after the first label, for
            ``duration_s`` (None: to the end).
        rectify: DSEC's ``rectify_map.h5``: None when present, True required, False never.
        split: DDD17: the split folder under PATH when PATH is the release root.
        frames: DSEC's frames: None when the sequence has them, True required, False never.
    """

    record: RecordOptions = field(default_factory=lambda: RecordOptions(event_message="packet"))
    classes: str = "dataset"
    window_s: float = 0.05
    start_s: float = 0.0
    duration_s: float | None = None
    rectify: bool | None = None
    split: str | None = None
    frames: bool | None = None


@dataclass
class ImportSummary(RecordSummary):
    """A :class:`RecordSummary` with where the data came from and what was left out."""

    source: str = ""
    layout: str = ""
    classes: str = ""
    class_names: list[str] = field(default_factory=list)
    labels: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class _Stream:
    """What the writer needs of a source: stamps (int ns, increasing), events by interval, the
    label and optional frame of a stamp."""

    width: int
    height: int
    stamps_ns: NDArray[np.int64]
    start_ns: int
    events_between: Callable[[int, int], EventBatch]
    label: Callable[[int], NDArray[np.uint8]]
    frame: Callable[[int], NDArray[np.uint8]] | None
    frame_encoding: str = "mono8"


def import_real(dataset: str, source: str | Path, out: str | Path,
                options: ImportOptions) -> ImportSummary:
    """Write the sequence at ``source`` (``dataset``: ``dsec`` or ``ddd17``) to the bag ``out``.

    Raises:
        BagError: a bad option, or the bag cannot be written.
        DataError: the data set's files are missing or malformed (the file is named).
    """
    if dataset not in DATASETS:
        raise BagError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    if options.classes not in CLASS_SETS:
        raise BagError(f"classes must be one of {', '.join(CLASS_SETS)}, got {options.classes!r}")
    if options.window_s <= 0 or options.start_s < 0 or (options.duration_s or 1) <= 0:
        raise BagError("need window_s > 0, start_s >= 0 and duration_s > 0")
    if dataset == "dsec":
        return _import_dsec(Path(source), Path(out), options)
    return _import_ddd17(Path(source), Path(out), options)


def _selected(stamps_ns: NDArray[np.int64], options: ImportOptions) -> NDArray[np.intp]:
    """Indices of the labels in the requested span."""
    if not len(stamps_ns):
        return np.arange(0)
    lo = int(stamps_ns[0]) + int(round(options.start_s * 1e9))
    hi = None if options.duration_s is None else lo + int(round(options.duration_s * 1e9))
    keep = stamps_ns >= lo
    if hi is not None:
        keep &= stamps_ns < hi
    return np.flatnonzero(keep)


def _import_dsec(folder: Path, out: Path, options: ImportOptions) -> ImportSummary:
    from ness_ros.data.dsec import DSEC_CLASS_NAMES, DsecSequence, missing_frame_folders
    from ness_ros.labels import CLASS_NAMES

    with DsecSequence(folder, rectify=options.rectify, frames=options.frames) as seq:
        stamps_us = seq.stamps_us
        if len(np.unique(stamps_us)) != len(stamps_us):
            raise DataError(f"{seq.layout.stamps_path}: label timestamps repeat")
        hybrid = seq.frames is not None
        # Labels in the span that make a sample (with frames: those that have one), each
        # message at its sample's time.
        samples, sample_us = seq.samples()
        keep = np.isin(samples, _selected(stamps_us * 1000, options))
        index, times_us = samples[keep], sample_us[keep]
        if not len(index):
            raise BagError(f"{folder}: no labels in the requested span"
                           + (" with a frame near their time" if hybrid else ""))
        window_us = int(round(options.window_s * 1e6))
        start_us = max(int(times_us[0]) - window_us, seq.t_offset_us)
        mapped = options.classes == "ddd17"

        stream = _Stream(
            seq.width, seq.height, times_us * 1000, start_us * 1000,
            lambda t0, t1: seq.read_events(t0 // 1000, t1 // 1000),
            lambda i: seq.label(int(index[i]), mapped=mapped, seen_only=hybrid),
            # DsecFrames brings every frame into the label frame: the events' size.
            (lambda i: seq.frame(int(index[i]))) if hybrid else None, "rgb8")
        names = list(CLASS_NAMES if mapped else DSEC_CLASS_NAMES)
        if hybrid:
            offsets = seq.frame_offset_us[index]
            frames_note = (
                f"{seq.describe_frames()}; written as rgb8 640 x 440 frames at their own times, "
                f"each label stamped with its frame's time (offsets up to "
                f"{int(np.abs(offsets).max(initial=0))} µs); label pixels the frame camera does "
                "not see written as 255 (ignored)")
        elif options.frames is False:
            frames_note = "frames left out, as asked"
        else:
            missing = [name + "/" for name in missing_frame_folders(folder)]
            frames_note = (f"frames left out: no {' and '.join(missing)} in {folder} (DSEC's "
                           "frames come from a separate camera; with its images/ and "
                           "calibration/ they are brought into the label frame)")
        notes = [frames_note,
                 "events: " + ("rectified through rectify_map.h5, " if seq.rectify_map is not None
                               else "not rectified (no rectify_map.h5), ")
                 + "cropped to the 640 x 440 label frame"]
        source = f"DSEC-Semantic {seq.name}, {seq.layout.describe()}"
        return _write(out, stream, options, source=source, layout=seq.layout.name,
                      class_names=names, notes=notes, dataset="dsec")


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _ddd17_split(path: Path, split: str | None):
    from ness_ros.data.ddd17 import Ddd17Split

    if split is not None:
        return Ddd17Split(path, split, shape=None)
    if (path / "events").is_dir():
        return Ddd17Split(path.parent, path.name, shape=None)
    raise DataError(f"{path} is not a DDD17 split folder (no events/ folder): give the split "
                    "folder (e.g. <root>/test) or --split")


def ddd17_events(counts: NDArray[np.floating], stamp_ns: int, window_ns: int) -> EventBatch:
    """Events of one Ev-SegNet window: ``counts`` (2, H, W) (OFF, ON) rounded to whole events,
    spread over ``[stamp - window, stamp)`` in whole µs as the module docstring says; sorted."""
    n = np.rint(np.maximum(counts, 0)).astype(np.int64)
    _, height, width = n.shape
    window_us = window_ns // 1000
    if n.max(initial=0) > window_us:
        raise DataError(f"{n.max()} events in one pixel do not fit {window_us} µs apart")
    flat = n.ravel()
    total = int(flat.sum())
    pixel = np.repeat(np.arange(flat.size), flat)
    first = np.repeat(np.cumsum(flat) - flat, flat)
    k = np.arange(total, dtype=np.int64) - first
    count = flat[pixel]
    t_us = (stamp_ns // 1000 - window_us) + ((k + 1) * window_us) // count - 1
    polarity, rest = np.divmod(pixel, height * width)
    y, x = np.divmod(rest, width)
    order = np.argsort(t_us, kind="stable")
    return EventBatch.from_arrays(t_us[order] * 1000, x[order], y[order], polarity[order],
                                  width=width, height=height)


def _import_ddd17(path: Path, out: Path, options: ImportOptions) -> ImportSummary:
    from ness_ros.data.ddd17 import to_counts
    from ness_ros.labels import CLASS_NAMES

    split = _ddd17_split(path, options.split)
    order = sorted(range(len(split)), key=lambda i: _natural_key(split.names[i]))
    window_ns = int(round(options.window_s * 1e6)) * 1000
    all_stamps = (np.arange(len(order), dtype=np.int64) + 1) * window_ns
    index = _selected(all_stamps, options)
    if not len(index):
        raise BagError(f"{path}: no samples in the requested span")
    samples = [order[i] for i in index]
    stamps = all_stamps[index]
    height, width = split.label(samples[0]).shape
    cache: dict[int, EventBatch] = {}

    def sample_events(j: int) -> EventBatch:
        if j not in cache:
            cache.clear()
            rep = split.representation(samples[j])
            if rep.shape[:2] != (height, width):
                raise DataError(f"{split.event_paths[samples[j]]}: {rep.shape[1]} x "
                                f"{rep.shape[0]}, the first sample is {width} x {height}")
            cache[j] = ddd17_events(to_counts(rep), int(stamps[j]), window_ns)
        return cache[j]

    def events_between(t0: int, t1: int) -> EventBatch:
        # sample j covers [stamps[j] - window, stamps[j]): take those overlapping [t0, t1)
        lo = int(np.searchsorted(stamps, t0, side="right"))
        hi = int(np.searchsorted(stamps - window_ns, t1, side="left"))
        parts = [sample_events(j).time_slice(t0, t1) for j in range(lo, min(hi, len(stamps)))]
        parts = [p for p in parts if len(p)]
        if not parts:
            return EventBatch.empty(width, height)
        return parts[0] if len(parts) == 1 else EventBatch.concatenate(parts)

    def frame(j: int) -> NDArray[np.uint8]:
        image = split.image(samples[j])
        if image.shape != (height, width):
            raise DataError(f"{split.image_paths[samples[j]]}: frame {image.shape[1]} x "
                            f"{image.shape[0]}, labels {width} x {height}")
        return image

    stream = _Stream(width, height, stamps, int(stamps[0]) - window_ns, events_between,
                     lambda j: split.label(samples[j]),
                     frame if split.image_paths is not None else None)
    notes = [f"events reconstructed from the release's per-window counts: spread evenly over "
             f"each {options.window_s * 1e3:g} ms window (the release keeps no event times); "
             f"samples {options.window_s * 1e3:g} ms apart in natural name order",
             "frames: the release's grey frames (mono8)" if stream.frame is not None
             else "frames: none (the split has no images/ folder)"]
    return _write(out, stream, options, source=f"DDD17 (Ev-SegNet release) {split.folder}",
                  layout="evsegnet", class_names=list(CLASS_NAMES), notes=notes,
                  dataset="ddd17")


def _write(out: Path, stream: _Stream, options: ImportOptions, *, source: str, layout: str,
           class_names: list[str], notes: list[str], dataset: str) -> ImportSummary:
    record = options.record
    record.check()
    topics = record.topics
    stamps = stream.stamps_ns
    if np.any(np.diff(stamps) <= 0):
        raise BagError("label stamps must increase")
    start = int(stream.start_ns)
    period = int(round(record.event_period_s * 1e9))
    bounds = np.union1d(np.arange(start + period, int(stamps[-1]), period), stamps)
    bounds = bounds[bounds > start]
    label_at = {int(s): i for i, s in enumerate(stamps)}
    packets = packet_encoder(record, stream.width, stream.height, start)
    classes = "ddd17" if options.classes == "ddd17" or dataset == "ddd17" else "dsec11"
    events = 0
    with BagWriter(out, storage=record.storage) as bag:
        bag.set_custom_data("ness_ros.source", source)
        bag.set_custom_data("ness_ros.classes", classes)
        bag.set_custom_data("ness_ros.class_names", ",".join(class_names))
        if stream.frame is not None:
            bag.add_topic(topics["image"], IMAGE_TYPE)
        bag.add_topic(topics["events"], EVENT_TYPES[record.event_message])
        bag.add_topic(topics["labels"], IMAGE_TYPE)
        previous = start
        for bound in tqdm(bounds.tolist(), desc=f"importing {out.name}", unit="msg",
                          disable=not record.progress, leave=False):
            chunk = stream.events_between(previous, bound)
            previous = bound
            if len(chunk):
                write_events(bag, topics["events"], chunk, bound, packets, record.frame_id)
                events += len(chunk)
            i = label_at.get(bound)
            if i is None:
                continue
            header = Header.from_ns(bound, record.frame_id)
            if stream.frame is not None:
                bag.write(topics["image"], bound,
                          encode_image_cdr(stream.frame(i), stream.frame_encoding, header))
            bag.write(topics["labels"], bound, encode_image_cdr(stream.label(i), "mono8", header))
    return ImportSummary(out, record.storage, dict(bag.counts),
                         len(stamps) if stream.frame is not None else 0, events,
                         (int(bounds[-1]) - start) / 1e9, bag.bytes, source=source, layout=layout,
                         classes=classes, class_names=class_names, labels=len(stamps),
                         notes=notes)
