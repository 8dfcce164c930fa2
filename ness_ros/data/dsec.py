"""DSEC-Semantic: the left event camera of DSEC with the 11-class labels of ESS (Sun et al. 2022).

The data circulate in two layouts, one folder per sequence; both are read, :func:`detect_layout`
tells which one a folder holds and :attr:`DsecSequence.layout` says which was found.

``official``: the DSEC download (``train_events.zip`` / ``test_events.zip`` and
``train_semantic_segmentation.zip`` / ``test_semantic_segmentation.zip``, both extracted into the
same root)::

    <root>/<split>/<sequence>/
        events/left/events.h5         HDF5, see below
        events/left/rectify_map.h5    optional: dataset rectify_map (480, 640, 2) float32
        11classes/*.png               640 x 440 uint8 class ids (0..10, 255 ignore), sorted by name
        19classes/*.png               (not read: the 19 Cityscapes classes)
        <sequence>_semantic_timestamps.txt   one label time per line, µs (timestamps.txt accepted)

``ess``: the layout ESS's loader (uzh-rpg/ess, ``DSEC/dataset/sequence.py``) reads::

    <root>/<split>/<sequence>/
        events/left/events.h5, events/left/rectify_map.h5   as above
        semantic/11classes/data/*.png    as 11classes/ above (19classes/data not read)
        semantic/timestamps.txt          as above

In both the labels come at 20 Hz and their timestamps share the clock of ``t + t_offset``.

Frames, for the hybrid model: when the sequence folder also holds ``images/`` and
``calibration/`` (the official ``<split>_images.zip`` and ``<split>_calibration.zip`` extracted
into the same root: ``images/left/rectified/*.png``, ``images/timestamps.txt``,
``calibration/cam_to_cam.yaml``), each label is given the frame nearest its time, brought into
the label frame by :class:`~ness_ros.data.dsec_frames.DsecFrames` (the homography at infinity;
what that loses is said there). A label whose nearest frame is more than ``max_frame_offset_us``
away (default: half the frames' period, 25 ms at 20 Hz) has no frame: it is skipped by the
frame-taking windows and counted (:meth:`DsecSequence.describe_frames`), not an error, so that a
sequence whose frames start late or drop one still serves its other labels. The sample of a
label with a frame is taken at the frame's time (its events end there, as the hybrid node's do),
and its label pixels the frame camera does not see (``DsecFrames.coverage`` False) are set to
ignore (255): the model is neither trained nor scored on pixels its frame input is black at.

``events.h5``: group ``events`` with equal-length datasets ``x`` (u16), ``y`` (u16), ``t`` (u32,
µs relative to ``t_offset``, sorted) and ``p`` (u8, 1 ON, 0 OFF); ``t_offset`` (int64 µs, 0 when
absent); ``ms_to_idx`` (u64): index of the first event with ``t >= 1000 * ms`` for each
millisecond ``ms``. The real files are compressed with the blosc HDF5 filter: ``hdf5plugin``
(in requirements.txt) is imported here when present; without it opening a sequence raises
:class:`DataError` naming the missing filter and ``hdf5plugin``.

Geometry: the sensor is 640 x 480; the labels cover the top 640 x 440 of the (rectified) event
frame: ESS cuts the bottom 40 rows, which show the car's hood. Events are cropped alike (rows
``y >= 440`` dropped). When ``rectify_map.h5`` is present, event coordinates are first rectified
through it (``map[y, x] = (x_rect, y_rect)``, rounded to the nearest pixel, events leaving the
frame dropped), as the labels live in the rectified frame.

Class mapping to the six DDD17 classes of :mod:`ness_ros.labels` (:data:`DSEC_TO_DDD17`):

    ===  ============  ==========
    id   DSEC          ness_ros
    ===  ============  ==========
    0    background    background (DSEC's background is mostly sky)
    1    building      background
    2    fence         background
    3    person        human
    4    pole          object
    5    road          flat
    6    sidewalk      flat
    7    vegetation    vegetation
    8    car           vehicle
    9    wall          background
    10   traffic sign  object
    255  ignore        255
    ===  ============  ==========
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from numpy.typing import NDArray

from ness_ros.data.dsec_frames import DsecFrames
from ness_ros.data.errors import DataError
from ness_ros.data.real_datasets import (
    check_class_ids,
    check_hdf5_filters,
    read_label_png,
    remap_labels,
    require_dir,
)
from ness_ros.data.sequence import FrameWindow
from ness_ros.events.batch import EventBatch
from ness_ros.labels import DSEC11_CLASS_NAMES, IGNORE_LABEL

try:  # registers blosc and the other compression filters of the real files with HDF5
    import hdf5plugin  # noqa: F401
except ImportError:
    pass

#: DSEC-Semantic's 11 classes in id order (the class set ``dsec11`` of :mod:`ness_ros.labels`).
DSEC_CLASS_NAMES = DSEC11_CLASS_NAMES
#: DSEC 11-class id -> ness_ros class id (flat 0, background 1, object 2, vegetation 3, human 4,
#: vehicle 5); see the module docstring.
DSEC_TO_DDD17 = np.array([1, 1, 1, 4, 2, 0, 0, 3, 5, 1, 2], dtype=np.uint8)
SENSOR_WIDTH, SENSOR_HEIGHT = 640, 480
LABEL_HEIGHT = 440
_FIELDS = ("x", "y", "t", "p")


def dsec_to_ddd17(label: NDArray[np.uint8], source: Path | str = "label") -> NDArray[np.uint8]:
    """Map a DSEC 11-class label (H, W) uint8 to ness_ros's six classes; 255 stays 255.

    Raises DataError naming ``source`` for ids outside 0..10 and 255.
    """
    return remap_labels(label, DSEC_TO_DDD17, source)


#: The layouts :func:`detect_layout` tells apart (see the module docstring).
LAYOUTS = ("official", "ess")


@dataclass(frozen=True)
class DsecLayout:
    """Where a sequence folder keeps its labels: which layout, the label folder, the stamps."""

    name: str
    folder: Path
    label_dir: Path
    stamps_path: Path

    def describe(self) -> str:
        """One line for logs: the layout and its two paths, relative to the sequence folder."""
        labels, stamps = (p.relative_to(self.folder) for p in (self.label_dir, self.stamps_path))
        return f"DSEC-Semantic {self.name} layout ({labels}/*.png, {stamps})"


def _expected_paths(folder: Path) -> str:
    return (f"official: {folder}/11classes/*.png and {folder}/{folder.name}_semantic_timestamps"
            f".txt; ess: {folder}/semantic/11classes/data/*.png and "
            f"{folder}/semantic/timestamps.txt")


def detect_layout(folder: str | Path) -> DsecLayout:
    """The layout of the sequence folder ``folder`` (see the module docstring).

    Raises:
        DataError: neither layout's label folder is there (the expected paths of both are
            named), both are, or the found layout's timestamps file is missing.
    """
    folder = Path(folder)
    official, ess = folder / "11classes", folder / "semantic" / "11classes" / "data"
    found = [d for d in (official, ess) if d.is_dir()]
    if len(found) == 2:
        raise DataError(f"{folder} holds both DSEC-Semantic layouts ({official} and {ess}); "
                        "keep one")
    if not found:
        other = [p for p in (folder / "19classes", folder / "semantic" / "19classes")
                 if p.is_dir()]
        note = f" (found only {other[0]}: ness_ros reads the 11-class labels)" if other else ""
        raise DataError(f"missing DSEC 11-class label folder in {folder}{note}; expected one of "
                        f"the two DSEC-Semantic layouts: {_expected_paths(folder)}")
    if found[0] == official:
        candidates = [folder / f"{folder.name}_semantic_timestamps.txt", folder / "timestamps.txt"]
        name = "official"
    else:
        candidates = [folder / "semantic" / "timestamps.txt"]
        name = "ess"
    for path in candidates:
        if path.is_file():
            return DsecLayout(name, folder, found[0], path)
    raise DataError(f"missing label timestamps {candidates[0]} ({name} layout, labels in "
                    f"{found[0]})")


def list_sequences(root: str | Path, split: str) -> list[Path]:
    """Sequence folders of ``<root>/<split>`` that hold ``events/left/events.h5``, sorted."""
    folder = require_dir(Path(root) / split, f"DSEC split '{split}'")
    return sorted(p for p in folder.iterdir() if (p / "events" / "left" / "events.h5").is_file())


class DsecSequence:
    """One DSEC-Semantic sequence, read lazily: events by time window, labels by index.

    Opening reads only metadata (``t_offset``, ``ms_to_idx``, label list and timestamps).
    The HDF5 file is opened once per process (safe with forked DataLoader workers).

    Attributes:
        name: sequence name (folder name).
        layout: the :class:`DsecLayout` found (``layout.name``: ``official`` or ``ess``).
        stamps_us: (N,) int64 label times, µs on the events' clock (``t + t_offset``).
        t_offset_us: time of relative event time 0, µs.
        num_events: events in the file.
        width, height: 640 x 440, the label frame the events are cropped to.
        frames: the sequence's :class:`~ness_ros.data.dsec_frames.DsecFrames`, or None (no
            ``images/`` and ``calibration/`` folders, or not asked for).
        frame_index: (N,) int64, the frame of each label (-1: none within
            ``max_frame_offset_us``); all -1 without frames.
        frame_offset_us: (N,) int64, each label's nearest frame time minus its own.
    """

    width = SENSOR_WIDTH
    height = LABEL_HEIGHT

    def __init__(self, folder: str | Path, *, rectify: bool | None = None,
                 frames: bool | None = None, max_frame_offset_us: int | None = None) -> None:
        """Args: folder: the sequence folder; rectify: apply ``rectify_map.h5`` (None: when
        present, True: required, False: never); frames: read the frames (None: when
        ``images/`` and ``calibration/`` are both there, True: required, DataError naming
        the missing folders, False: never); max_frame_offset_us: the farthest a label's frame
        may be (None: half the frames' period)."""
        self.folder = Path(folder)
        self.name = self.folder.name
        self.events_path = self.folder / "events" / "left" / "events.h5"
        if not self.events_path.is_file():
            raise DataError(f"missing DSEC event file {self.events_path}")
        self.layout = detect_layout(self.folder)
        self.label_paths = sorted(self.layout.label_dir.glob("*.png"))
        self.stamps_us = _read_stamps(self.layout.stamps_path)
        if len(self.label_paths) != len(self.stamps_us):
            raise DataError(f"{self.folder}: {len(self.label_paths)} label images but "
                            f"{len(self.stamps_us)} timestamps")
        self._h5: h5py.File | None = None
        self._pid = -1
        try:
            self._read_metadata(self._file())
        except DataError:
            self.close()
            raise
        self.rectify_map = _read_rectify_map(self.folder, rectify)
        self.frames = _open_frames(self.folder, frames)
        self.frame_index = np.full(len(self.stamps_us), -1, np.int64)
        self.frame_offset_us = np.zeros(len(self.stamps_us), np.int64)
        self.max_frame_offset_us = 0
        if self.frames is not None:
            self.max_frame_offset_us = (self.frames.half_period_us() if max_frame_offset_us
                                        is None else int(max_frame_offset_us))
            self.frame_index, self.frame_offset_us = self.frames.pair(self.stamps_us,
                                                                      self.max_frame_offset_us)

    def __len__(self) -> int:
        return len(self.label_paths)

    @property
    def stamps_ns(self) -> NDArray[np.int64]:
        """(N,) int64 label times in ns."""
        return self.stamps_us * 1000

    def label(self, index: int, *, mapped: bool = True, seen_only: bool = False
              ) -> NDArray[np.uint8]:
        """Label ``index`` as (440, 640) uint8: ness_ros classes, or DSEC's 11 if not ``mapped``;
        with ``seen_only`` (needs frames), 255 where the frame camera does not see."""
        path = self.label_paths[index]
        raw = read_label_png(path, (LABEL_HEIGHT, SENSOR_WIDTH))
        if mapped:
            label = dsec_to_ddd17(raw, path)
        else:
            check_class_ids(raw, len(DSEC_CLASS_NAMES), path)
            label = raw
        if seen_only:
            if self.frames is None:
                raise DataError(f"{self.folder}: no frames, so no frame-camera coverage")
            label[~self.frames.seen()] = IGNORE_LABEL
        return label

    @property
    def has_frames(self) -> bool:
        return self.frames is not None

    def paired(self) -> NDArray[np.intp]:
        """Indices of the labels that have a frame (none without frames)."""
        return np.flatnonzero(self.frame_index >= 0)

    def frame_stamp_us(self, index: int) -> int:
        """Time of label ``index``'s frame (µs, events' clock); DataError when it has none."""
        return int(self._frames().stamps_us[self._frame_of(index)])

    def samples(self) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
        """The labels that make a sample, and each one's sample time (µs, events' clock): with
        frames, the labels that have one, at their frame's time (a sample's events end there,
        as the hybrid node's do); without, every label at its own time. The one rule of every
        reader of DSEC samples (training, evaluation, bag import)."""
        if self.frames is None:
            return np.arange(len(self)), self.stamps_us
        paired = self.paired()
        return paired, self.frames.stamps_us[self.frame_index[paired]].astype(np.int64)

    def complete_samples(self, window_us: int) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
        """:meth:`samples` whose event window ``[time - window_us, time)`` starts within the
        recording (at or after ``t_offset``)."""
        index, stamps = self.samples()
        keep = stamps - window_us >= self.t_offset_us
        return index[keep], stamps[keep]

    def sample_stamp_us(self, index: int) -> int:
        """Sample time of label ``index`` (:meth:`samples`); DataError for a label without a
        frame in a sequence with frames."""
        return self.frame_stamp_us(index) if self.frames is not None \
            else int(self.stamps_us[index])

    def frame(self, index: int) -> NDArray[np.uint8]:
        """The frame of label ``index``: (440, 640, 3) RGB in the label frame, black where the
        frame camera does not see; DataError when the label has none."""
        return self._frames().frame(self._frame_of(index))

    def describe_frames(self) -> str:
        """One line for logs: whether frames were found, and what pairing them with the labels
        kept and skipped."""
        if self.frames is None:
            missing = missing_frame_folders(self.folder)
            why = f"no {' and '.join(d + '/' for d in missing)} folder" if missing else "not read"
            return f"frames: none ({why}): events only"
        paired = self.paired()
        skipped = len(self) - len(paired)
        worst = int(np.abs(self.frame_offset_us[paired]).max()) if len(paired) else 0
        note = (f", {skipped} label(s) skipped (no frame within "
                f"{self.max_frame_offset_us / 1000:g} ms, or one shared with a nearer label)"
                if skipped else "")
        return (f"frames: {len(self.frames)} in images/left/rectified, {len(paired)} of "
                f"{len(self)} labels with the frame nearest their time (offset up to "
                f"{worst / 1000:g} ms){note}; {self.frames.describe()}")

    def _frames(self) -> DsecFrames:
        if self.frames is None:
            raise DataError(f"{self.folder}: no frames (images/ and calibration/ not read)")
        return self.frames

    def _frame_of(self, index: int) -> int:
        frame = int(self.frame_index[index])
        if frame < 0:
            self._frames()
            raise DataError(f"{self.folder}: label {index} ({self.label_paths[index].name}) has "
                            f"no frame within {self.max_frame_offset_us} µs (nearest "
                            f"{int(self.frame_offset_us[index])} µs away)")
        return frame

    def read_events(self, t0_us: int, t1_us: int, *, crop: bool = True) -> EventBatch:
        """Events with ``t0_us <= t < t1_us`` (µs on the ``t + t_offset`` clock), sorted.

        Only the file rows the window needs are read: ``ms_to_idx`` bounds them to whole
        milliseconds, a binary search on ``t`` cuts them exactly. Returned ``t`` is in ns
        (``(t + t_offset) * 1000``). With ``crop`` the batch is 640 x 440 (rectified when a map
        is loaded, bottom 40 rows dropped), else the raw 640 x 480 sensor events.
        """
        if crop:
            w, h = self.width, self.height
        else:
            w, h = SENSOR_WIDTH, SENSOR_HEIGHT
        r0, r1 = int(t0_us) - self.t_offset_us, int(t1_us) - self.t_offset_us
        if r1 <= r0 or r1 <= 0:
            return EventBatch.empty(w, h)
        lo = self._ms_index(math.floor(r0 / 1000))
        hi = self._ms_index(math.ceil(r1 / 1000))
        t = self._read("events/t", slice(lo, hi)).astype(np.int64)
        a, b = np.searchsorted(t, [r0, r1], side="left")
        rows = slice(lo + int(a), lo + int(b))
        x, y, p = (self._read(f"events/{k}", rows) for k in ("x", "y", "p"))
        t_ns = (t[a:b] + self.t_offset_us) * 1000
        if crop:
            x, y, keep = self._to_label_frame(x, y)
            t_ns, x, y, p = t_ns[keep], x[keep], y[keep], p[keep]
        return EventBatch.from_arrays(t_ns, x, y, p, width=w, height=h)

    def last_event_us(self) -> int | None:
        """Time of the last event (µs on the ``t + t_offset`` clock), None for an empty file;
        one row read."""
        if not self.num_events:
            return None
        return int(self._read("events/t", slice(self.num_events - 1, None))[0]) + \
            self.t_offset_us

    def windows(self, window_us: int = 50_000, *, mapped: bool = True, stride: int = 1,
                complete: bool = True) -> Iterator[FrameWindow]:
        """Training windows: each label with the events in ``[stamp - window_us, stamp)``.

        Yields :class:`~ness_ros.data.sequence.FrameWindow` with ``frame=None`` (event-only
        data), ``label`` (440, 640) uint8, ``stamp_ns``, ``events`` (640 x 440, sorted), and
        ``ego_speed=nan``, ``moving=False`` (DSEC-Semantic gives no ego-motion). The window
        matches :meth:`InputEncoder.event_tensor(events, stamp_ns)
        <ness_ros.segmentation.inputs.InputEncoder.event_tensor>` when its ``event_window_ns``
        is ``window_us * 1000``. ``complete`` skips labels whose window starts before the
        recording (``t_offset``); ``stride`` takes every stride-th label.

        With frames (:attr:`frames`), only the labels that have one are yielded, with
        ``frame`` (440, 640, 3) RGB in the label frame, ``stamp`` the frame's time (the window
        ends there) and the label's unseen pixels set to 255 (the module docstring says why).
        """
        if window_us <= 0 or stride < 1:
            raise DataError(f"need window_us > 0 and stride >= 1, got {window_us} and {stride}")
        hybrid = self.frames is not None
        index, stamps = self.complete_samples(window_us) if complete else self.samples()
        for i, stamp in zip(index.tolist(), stamps.tolist(), strict=True):
            if i % stride:
                continue
            events = self.read_events(stamp - window_us, stamp)
            yield FrameWindow(i, self.frame(i) if hybrid else None,
                              self.label(i, mapped=mapped, seen_only=hybrid), stamp * 1000,
                              events, float("nan"), False)

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __enter__(self) -> DsecSequence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_h5"], state["_pid"] = None, -1
        return state

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            try:
                self._h5 = h5py.File(self.events_path, "r")
            except OSError as err:
                raise DataError(f"cannot open HDF5 file {self.events_path}: {err}") from err
            self._pid = os.getpid()
        return self._h5

    def _read_metadata(self, f: h5py.File) -> None:
        keys = [f"events/{k}" for k in _FIELDS] + ["ms_to_idx"]
        missing = [k for k in keys if k not in f]
        if missing:
            raise DataError(f"{self.events_path}: missing datasets {missing}")
        sizes = {k: f[f"events/{k}"].shape for k in _FIELDS}
        if len(set(sizes.values())) != 1 or len(sizes["t"]) != 1:
            raise DataError(f"{self.events_path}: event datasets differ in shape: {sizes}")
        for key in keys:
            check_hdf5_filters(self.events_path, f[key])
        self.num_events = int(sizes["t"][0])
        self.t_offset_us = int(f["t_offset"][()]) if "t_offset" in f else 0
        self.ms_to_idx = np.asarray(self._read("ms_to_idx", slice(None)), dtype=np.int64)

    def _read(self, key: str, rows: slice) -> NDArray:
        try:
            return self._file()[key][rows]
        except OSError as err:  # e.g. a filter plugin that vanished or a corrupt chunk
            raise DataError(f"{self.events_path}: cannot read {key} ({err}); if it names a "
                            "filter, install the HDF5 filter plugin (pip install hdf5plugin)"
                            ) from err

    def _ms_index(self, ms: int) -> int:
        """Index of the first event at or after millisecond ``ms`` (relative clock), clamped."""
        if ms < 0:
            return 0
        if ms >= len(self.ms_to_idx):
            return self.num_events
        return min(int(self.ms_to_idx[ms]), self.num_events)

    def _to_label_frame(self, x: NDArray, y: NDArray
                        ) -> tuple[NDArray[np.uint16], NDArray[np.uint16], NDArray[np.bool_]]:
        inside = (x < SENSOR_WIDTH) & (y < SENSOR_HEIGHT)
        if self.rectify_map is None:
            return x, y, inside & (y < LABEL_HEIGHT)
        xy = np.rint(self.rectify_map[np.where(inside, y, 0), np.where(inside, x, 0)])
        xr, yr = xy[:, 0], xy[:, 1]
        keep = inside & (xr >= 0) & (xr < SENSOR_WIDTH) & (yr >= 0) & (yr < LABEL_HEIGHT)
        return (np.where(keep, xr, 0).astype(np.uint16), np.where(keep, yr, 0).astype(np.uint16),
                keep)


def _read_stamps(path: Path) -> NDArray[np.int64]:
    """Label timestamps (µs), one per line of ``path``."""
    try:
        stamps = np.loadtxt(path, dtype=np.int64, ndmin=1)
    except ValueError as err:
        raise DataError(f"cannot parse timestamps file {path}: {err}") from err
    if stamps.ndim != 1 or np.any(np.diff(stamps) < 0):
        raise DataError(f"{path}: expected one non-decreasing µs timestamp per line")
    return stamps


#: The folders of a sequence that its frames need: the official ``<split>_images.zip`` and
#: ``<split>_calibration.zip``, extracted into the same root as the events and labels.
FRAME_FOLDERS = ("images", "calibration")


def missing_frame_folders(folder: Path) -> list[str]:
    """The :data:`FRAME_FOLDERS` that the sequence ``folder`` lacks."""
    return [name for name in FRAME_FOLDERS if not (folder / name).is_dir()]


def _open_frames(folder: Path, frames: bool | None) -> DsecFrames | None:
    """The sequence's frames as :func:`DsecSequence.__init__` asks (``frames``)."""
    if frames is False:
        return None
    missing = [folder / name for name in missing_frame_folders(folder)]
    if missing and frames is None:
        return None
    if missing:
        raise DataError(f"missing {' and '.join(str(p) for p in missing)}: the hybrid model on "
                        "DSEC needs the sequence's frames and calibration (the official "
                        "<split>_images.zip and <split>_calibration.zip, extracted into the "
                        "same root as the events and labels)")
    return DsecFrames(folder)


def _read_rectify_map(folder: Path, rectify: bool | None) -> NDArray[np.float32] | None:
    path = folder / "events" / "left" / "rectify_map.h5"
    if rectify is False or (rectify is None and not path.is_file()):
        return None
    if not path.is_file():
        raise DataError(f"missing rectification map {path}")
    with h5py.File(path, "r") as f:
        if "rectify_map" not in f:
            raise DataError(f"{path}: missing dataset rectify_map")
        rmap = np.asarray(f["rectify_map"][()], dtype=np.float32)
    if rmap.shape != (SENSOR_HEIGHT, SENSOR_WIDTH, 2):
        raise DataError(f"{path}: rectify_map has shape {rmap.shape}, expected "
                        f"({SENSOR_HEIGHT}, {SENSOR_WIDTH}, 2)")
    return rmap

