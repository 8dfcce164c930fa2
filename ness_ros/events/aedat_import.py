"""AEDAT4 recordings (iniVation DV) to an :class:`EventBatch` and grayscale frames.

Reads with the PyPI package ``aedat`` (``aedat.Decoder(path)``, LZ4 flatbuffer packets). The first
``events`` stream gives the events and the sensor size; every ``frame`` stream packet gives a
frame stamped with its ``t`` (the frame's timestamp in microseconds). IMU and trigger packets are
skipped. Times are converted from microseconds to int64 nanoseconds (epoch as recorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.events.errors import EventError
from ness_ros.events.image_codec import to_mono8

_FRAME_ENCODINGS = {"L": "mono8", "RGB": "rgb8", "RGBA": "rgba8"}


@dataclass
class AedatRecording:
    """What :func:`read_aedat4` returns.

    Attributes:
        events: all events in file order (t in int64 ns), with the sensor's width and height.
        frames: ``(stamp_ns, pixels)`` per frame, pixels (H, W) uint8 (colour frames converted).
    """

    events: EventBatch
    frames: list[tuple[int, NDArray[np.uint8]]] = field(default_factory=list)


def read_aedat4(path: str | Path) -> AedatRecording:
    """Read an AEDAT4 file. Raises EventError when it is missing, corrupt or has no events."""
    import aedat  # optional at import time of the event layer: only this reader needs it

    path = Path(path)
    try:
        decoder = aedat.Decoder(str(path))
        streams = decoder.id_to_stream()
        event_ids = sorted(i for i, s in streams.items() if s["type"] == "events")
        if not event_ids:
            raise EventError(f"{path}: no events stream (streams: {streams})")
        sensor = streams[event_ids[0]]
        parts: list[NDArray] = []
        frames: list[tuple[int, NDArray[np.uint8]]] = []
        for packet in decoder:
            if "events" in packet and packet["stream_id"] == event_ids[0]:
                parts.append(_convert_events(packet["events"]))
            elif "frame" in packet:
                frames.append(_convert_frame(packet["frame"], path))
    except EventError:
        raise
    except BaseException as exc:
        # The Rust decoder reports corrupt files as pyo3's PanicException, a BaseException.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise EventError(f"{path}: cannot read as AEDAT4: {exc}") from exc
    events = np.concatenate(parts) if parts else np.empty(0, dtype=EVENT_DTYPE)
    return AedatRecording(EventBatch(events, int(sensor["width"]), int(sensor["height"])), frames)


def _convert_events(raw: NDArray) -> NDArray:
    out = np.empty(len(raw), dtype=EVENT_DTYPE)
    np.multiply(raw["t"].astype(np.int64), 1000, out=out["t"])
    out["x"] = raw["x"]
    out["y"] = raw["y"]
    out["polarity"] = raw["on"]
    return out


def _convert_frame(frame: dict, path: Path) -> tuple[int, NDArray[np.uint8]]:
    encoding = _FRAME_ENCODINGS.get(frame["format"])
    if encoding is None:
        raise EventError(f"{path}: frame format {frame['format']!r} is not one of "
                         f"{', '.join(_FRAME_ENCODINGS)}")
    pixels = to_mono8(np.asarray(frame["pixels"]), encoding)
    return int(frame["t"]) * 1000, pixels
