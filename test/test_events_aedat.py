"""AEDAT4 import on the shared DAVIS346 clip."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SHARED_DATA
from ness_ros.events import EventError, read_aedat4

CLIP = SHARED_DATA / "davis346_aestream" / "davis.aedat4"


def test_davis_clip():
    recording = read_aedat4(CLIP)
    events = recording.events
    assert (events.width, events.height) == (346, 260)
    assert len(events) == 117_667
    assert int(events.polarity.sum()) == 72_363
    assert int((events.polarity == 0).sum()) == 45_304
    assert events.is_time_sorted() and events.within_bounds()[1] == 0
    assert 0.12e9 < events.t[-1] - events.t[0] < 0.14e9  # 0.130 s, now in nanoseconds
    assert len(recording.frames) == 3
    stamps = [stamp for stamp, _ in recording.frames]
    assert np.diff(stamps).tolist() == [40_000_000, 40_000_000]
    for _, pixels in recording.frames:
        assert pixels.shape == (260, 346) and pixels.dtype == np.uint8


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(EventError, match="cannot read as AEDAT4"):
        read_aedat4(tmp_path / "missing.aedat4")
    bad = tmp_path / "bad.aedat4"
    bad.write_bytes(b"#!AER-DAT4.0\r\n" + bytes(100))
    with pytest.raises(EventError, match="bad.aedat4"):
        read_aedat4(bad)
