"""Synthetic sequences: determinism, labels, events and their windows, save/load round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ness_ros.data.errors import DataError
from ness_ros.data.event_simulator import EventSimConfig
from ness_ros.data.sequence import SequenceConfig, SyntheticSequence, generate_sequence
from ness_ros.data.storage import find_sequences, load_sequence, save_sequence
from ness_ros.labels import IGNORE_LABEL, NUM_CLASSES

SMALL = {"duration_s": 1.0, "width": 96, "height": 72}


@pytest.fixture(scope="module")
def seq() -> SyntheticSequence:
    return generate_sequence(3, progress=False, **SMALL)


def test_shapes_dtypes_and_stamps(seq):
    n = 20
    assert seq.frames.shape == (n, 72, 96, 3) and seq.frames.dtype == np.uint8
    assert seq.labels.shape == (n, 72, 96) and seq.labels.dtype == np.uint8
    np.testing.assert_array_equal(seq.stamps_ns, np.arange(1, n + 1) * 50_000_000)
    assert seq.ego_speed.shape == (n,) and seq.ego_speed.dtype == np.float32
    assert seq.moving.dtype == bool and seq.renders.min() >= 1
    assert seq.duration_s == pytest.approx(1.0)


def test_same_seed_gives_identical_arrays_and_other_seeds_differ(seq):
    again = generate_sequence(3, progress=False, **SMALL)
    for name in ("frames", "labels", "stamps_ns", "ego_speed", "moving"):
        np.testing.assert_array_equal(getattr(seq, name), getattr(again, name))
    np.testing.assert_array_equal(seq.events.events, again.events.events)
    other = generate_sequence(4, progress=False, **SMALL)
    assert not np.array_equal(seq.frames, other.frames)
    assert not np.array_equal(seq.labels, other.labels)
    assert len(seq.events) != len(other.events)


def test_labels_are_class_ids_and_all_classes_appear(seq):
    values = set(np.unique(seq.labels).tolist())
    assert values <= set(range(NUM_CLASSES)) | {IGNORE_LABEL}
    assert set(range(NUM_CLASSES)) <= values, f"classes present: {sorted(values)}"


def test_events_sorted_inside_sensor_and_windows_partition_them(seq):
    ev = seq.events
    assert len(ev) > 10_000 and ev.is_time_sorted()
    assert not ev.out_of_bounds().any()
    assert ev.t.min() > 0 and ev.t.max() <= seq.stamps_ns[-1]
    assert 0.3 < ev.polarity.mean() < 0.7
    total = 0
    for w in seq.windows():
        lo = w.stamp_ns - seq.config.period_ns
        assert len(w.events) == 0 or (w.events.t.min() > lo and w.events.t.max() <= w.stamp_ns)
        assert w.frame is seq.frames[w.index] or np.array_equal(w.frame, seq.frames[w.index])
        total += len(w.events)
    assert total == len(ev)


def test_more_renders_per_frame_while_driving_than_standing(seq):
    # Adaptive render schedule: stop at a few renders per frame, drive at up to max_renders.
    cfg = seq.config
    assert cfg.base_renders <= seq.renders.min() and seq.renders.max() <= cfg.max_renders
    standing = generate_sequence(3, progress=False, max_log_change=100.0, **SMALL)
    assert np.all(standing.renders == cfg.base_renders)


def test_frames_only_mode_and_options(seq):
    frames_only = generate_sequence(3, progress=False, events=False, **SMALL)
    np.testing.assert_array_equal(frames_only.labels, seq.labels)
    assert len(frames_only.events) == 0
    quiet = generate_sequence(3, progress=False, sim=EventSimConfig(contrast_threshold=0.5),
                              **SMALL)
    assert len(quiet.events) < len(seq.events) / 2
    with pytest.raises(DataError, match="fps"):
        SequenceConfig(fps=0)
    with pytest.raises(DataError, match="image size"):
        generate_sequence(0, 1.0, 8, 8, progress=False)


def test_save_load_round_trip(seq, tmp_path):
    folder = save_sequence(seq, tmp_path / "seq")
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["seed"] == 3 and meta["num_events"] == len(seq.events)
    back = load_sequence(folder)
    for name in ("frames", "labels", "stamps_ns", "ego_speed", "moving", "renders"):
        np.testing.assert_array_equal(getattr(seq, name), getattr(back, name))
    np.testing.assert_array_equal(seq.events.events, back.events.events)
    assert back.config == seq.config and back.seed == seq.seed
    assert find_sequences(tmp_path) == [folder] and find_sequences(folder) == [folder]


def test_load_rejects_what_is_not_a_sequence(tmp_path):
    with pytest.raises(DataError, match="missing"):
        load_sequence(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"format": "other", "format_version": 1}))
    np.savez(tmp_path / "sequence.npz", x=np.zeros(1))
    with pytest.raises(DataError, match="format"):
        load_sequence(tmp_path)
    with pytest.raises(DataError, match="no sequence folder"):
        find_sequences(tmp_path / "nothing")
