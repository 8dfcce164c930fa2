"""Real data set formats on tiny files written in their layouts: DSEC-Semantic and DDD17."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from ness_ros.data import dsec as dsec_module
from ness_ros.data.ddd17 import Ddd17Split, counts_tensor, to_counts
from ness_ros.data.dsec import DSEC_CLASS_NAMES, DsecSequence, dsec_to_ddd17, list_sequences
from ness_ros.data.errors import DataError
from ness_ros.labels import CLASS_NAMES, IGNORE_LABEL
from ness_ros.segmentation.inputs import InputEncoder

T_OFFSET = 51_234_567_891  # µs
SEQ = "zurich_city_00_a"


def write_dsec(root: Path, *, n: int = 4000, duration_us: int = 300_000, stamps=None,
               labels=None, events_filter: int | None = None, stamps_file: str | None = None,
               seed: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    """A sequence folder in the DSEC-Semantic layout; returns it and the events written."""
    rng = np.random.default_rng(seed)
    folder = root / "train" / SEQ
    (folder / "events" / "left").mkdir(parents=True)
    ev = {"t": np.sort(rng.integers(0, duration_us, n)).astype(np.uint32),
          "x": rng.integers(0, 640, n).astype(np.uint16),
          "y": rng.integers(0, 480, n).astype(np.uint16),
          "p": rng.integers(0, 2, n).astype(np.uint8)}
    ms = np.arange(math.ceil(duration_us / 1000) + 1, dtype=np.int64) * 1000
    ms_to_idx = np.searchsorted(ev["t"], ms, side="left").astype(np.uint64)
    with h5py.File(folder / "events" / "left" / "events.h5", "w") as f:
        for key, values in ev.items():
            if key == "t" and events_filter is not None:  # as if written with a missing plugin
                d = f.create_dataset("events/t", shape=(n,), dtype="u4", chunks=(n,),
                                     compression=events_filter, allow_unknown_filter=True)
                d.id.write_direct_chunk((0,), values.tobytes(), filter_mask=0)
            else:
                f.create_dataset(f"events/{key}", data=values)
        f.create_dataset("ms_to_idx", data=ms_to_idx)
        f.create_dataset("t_offset", data=np.int64(T_OFFSET))
    stamps = [T_OFFSET + 50_000, T_OFFSET + 150_000, T_OFFSET + 250_000] if stamps is None \
        else stamps
    if labels is None:
        labels = [np.full((440, 640), k % 11, np.uint8) for k in range(len(stamps))]
    (folder / "11classes").mkdir()
    for k, label in enumerate(labels):
        assert cv2.imwrite(str(folder / "11classes" / f"{k:06d}.png"), label)
    name = stamps_file or f"{SEQ}_semantic_timestamps.txt"
    (folder / name).write_text("".join(f"{s}\n" for s in stamps))
    return folder, ev


@pytest.fixture
def written(tmp_path):
    return write_dsec(tmp_path)


def test_events_round_trip_with_t_offset(written):
    folder, ev = written
    with DsecSequence(folder) as seq:
        assert list_sequences(folder.parent.parent, "train") == [folder]
        assert seq.num_events == len(ev["t"]) and seq.t_offset_us == T_OFFSET
        batch = seq.read_events(T_OFFSET, T_OFFSET + 10**6, crop=False)
        assert (batch.width, batch.height) == (640, 480) and batch.is_time_sorted()
        np.testing.assert_array_equal(batch.t, (ev["t"].astype(np.int64) + T_OFFSET) * 1000)
        np.testing.assert_array_equal(batch.x, ev["x"])
        np.testing.assert_array_equal(batch.y, ev["y"])
        np.testing.assert_array_equal(batch.polarity, ev["p"])


def test_windows_through_ms_to_idx_equal_brute_force_and_read_only_their_rows(written):
    folder, ev = written
    t_rel = ev["t"].astype(np.int64)
    t_abs = t_rel + T_OFFSET
    rows_read: dict[str, int] = {}
    with DsecSequence(folder) as seq:
        read = seq._read
        seq._read = lambda key, rows: rows_read.update({key: rows.stop - rows.start}) or read(
            key, rows)
        edges = [(-5_000, 1_000), (0, 1), (999, 2_001), (1_000, 2_000), (12_345, 67_891),
                 (123_456, 123_457), (250_000, 310_000), (299_999, 400_000), (400_000, 500_000)]
        rng = np.random.default_rng(1)
        edges += [tuple(sorted(rng.integers(-1_000, 301_000, 2))) for _ in range(20)]
        for a, b in edges:
            t0, t1 = T_OFFSET + int(a), T_OFFSET + int(b)
            want = (t_abs >= t0) & (t_abs < t1)
            rows_read.clear()
            raw = seq.read_events(t0, t1, crop=False)
            np.testing.assert_array_equal(raw.t, t_abs[want] * 1000)
            np.testing.assert_array_equal(raw.x, ev["x"][want])
            # t is read for whole milliseconds around the window, x/y/p for the window only
            ms_lo, ms_hi = math.floor(a / 1000) * 1000, math.ceil(b / 1000) * 1000
            if b > a and b > 0:
                assert rows_read["events/t"] == np.sum((t_rel >= ms_lo) & (t_rel < ms_hi))
                assert rows_read["events/x"] == want.sum()
            cropped = seq.read_events(t0, t1)
            keep = want & (ev["y"] < 440)
            assert (cropped.width, cropped.height) == (640, 440)
            np.testing.assert_array_equal(cropped.t, t_abs[keep] * 1000)
            np.testing.assert_array_equal(cropped.y, ev["y"][keep])
            np.testing.assert_array_equal(cropped.polarity, ev["p"][keep])


def test_class_mapping_table():
    expected = {"background": "background", "building": "background", "fence": "background",
                "person": "human", "pole": "object", "road": "flat", "sidewalk": "flat",
                "vegetation": "vegetation", "car": "vehicle", "wall": "background",
                "traffic sign": "object"}
    label = np.array([[*range(11), IGNORE_LABEL]], np.uint8)
    mapped = dsec_to_ddd17(label)
    assert mapped.dtype == np.uint8 and mapped[0, -1] == IGNORE_LABEL
    for i, name in enumerate(DSEC_CLASS_NAMES):
        assert CLASS_NAMES[mapped[0, i]] == expected[name]
    with pytest.raises(DataError, match=r"unknown class ids \[11, 200\]"):
        dsec_to_ddd17(np.array([[0, 11, 200]], np.uint8))


def test_labels_stamps_and_training_windows(tmp_path):
    stamps = [T_OFFSET + 10_000, T_OFFSET + 150_000, T_OFFSET + 280_000]
    labels = [np.full((440, 640), c, np.uint8) for c in (5, 3, 8)]
    labels[2][:5] = IGNORE_LABEL
    folder, ev = write_dsec(tmp_path, stamps=stamps, labels=labels, stamps_file="timestamps.txt")
    t_abs = ev["t"].astype(np.int64) + T_OFFSET
    seq = DsecSequence(folder)
    assert len(seq) == 3
    np.testing.assert_array_equal(seq.stamps_ns, np.array(stamps) * 1000)
    assert seq.label(1, mapped=False)[0, 0] == 3 and seq.label(1)[0, 0] == CLASS_NAMES.index(
        "human")
    windows = list(seq.windows(window_us=20_000))
    assert [w.index for w in windows] == [1, 2]  # label 0 has no full 20 ms window
    assert [len(list(seq.windows(20_000, complete=False)))] == [3]
    encoder = InputEncoder(num_steps=4, event_window_ns=20_000_000)
    for w in windows:
        assert w.frame is None and w.label.shape == (440, 640)
        assert w.stamp_ns == stamps[w.index] * 1000
        lo = w.stamp_ns - 20_000_000
        want = (t_abs * 1000 >= lo) & (t_abs * 1000 < w.stamp_ns) & (ev["y"] < 440)
        np.testing.assert_array_equal(w.events.t, t_abs[want] * 1000)
        tensor = encoder.event_tensor(w.events, w.stamp_ns)
        assert tensor.shape == (4, 2, 440, 640) and tensor.sum() == want.sum()
    assert windows[1].label[0, 0] == IGNORE_LABEL
    assert windows[1].label[10, 0] == CLASS_NAMES.index("vehicle")
    seq.close()


def test_rectify_map_moves_events_before_the_crop(written):
    folder, ev = written
    ys, xs = np.mgrid[0:480, 0:640].astype(np.float32)
    rmap = np.stack([xs + 0.6, ys - 100.2], axis=-1)  # right 1 pixel, up 100
    with h5py.File(folder / "events" / "left" / "rectify_map.h5", "w") as f:
        f.create_dataset("rectify_map", data=rmap)
    with DsecSequence(folder) as seq:
        batch = seq.read_events(T_OFFSET, T_OFFSET + 10**6)
    keep = (ev["y"] >= 100) & (ev["y"] < 540) & (ev["x"] < 639)
    np.testing.assert_array_equal(batch.x, ev["x"][keep] + 1)
    np.testing.assert_array_equal(batch.y, ev["y"][keep] - 100)
    with pytest.raises(DataError, match="missing rectification map"):
        DsecSequence(write_dsec(folder.parent.parent.parent / "other")[0], rectify=True)


def test_dsec_errors_name_the_bad_file(tmp_path):
    folder, _ = write_dsec(tmp_path / "a")
    (folder / "11classes" / "000002.png").unlink()
    with pytest.raises(DataError, match="2 label images but 3 timestamps"):
        DsecSequence(folder)
    (folder / f"{SEQ}_semantic_timestamps.txt").unlink()
    with pytest.raises(DataError, match="missing label timestamps"):
        DsecSequence(folder)
    (folder / "events" / "left" / "events.h5").unlink()
    with pytest.raises(DataError, match="missing DSEC event file"):
        DsecSequence(folder)
    no_labels = write_dsec(tmp_path / "b", labels=[])[0]
    (no_labels / "11classes").rmdir()
    with pytest.raises(DataError, match="missing DSEC 11-class label folder"):
        DsecSequence(no_labels)
    bad_size = [np.zeros((480, 640), np.uint8)] * 3
    with pytest.raises(DataError, match=r"000000.png is 640 x 480 \(W x H\), expected 640 x 440"):
        DsecSequence(write_dsec(tmp_path / "c", labels=bad_size)[0]).label(0)
    unknown = [np.full((440, 640), 13, np.uint8)] * 3
    with pytest.raises(DataError, match=r"000001.png: unknown class ids \[13\]"):
        DsecSequence(write_dsec(tmp_path / "d", labels=unknown)[0]).label(1, mapped=False)


def test_missing_compression_filter_is_a_data_error(tmp_path, monkeypatch):
    code = 32001 if not h5py.h5z.filter_avail(32001) else 30999  # blosc, unless installed
    folder, _ = write_dsec(tmp_path, events_filter=code)
    with pytest.raises(DataError, match=rf"events/t needs HDF5 filter {code} .*hdf5plugin"):
        DsecSequence(folder)
    # Past the check (a plugin that fails at read time), the read itself raises DataError.
    monkeypatch.setattr(dsec_module, "check_hdf5_filters", lambda *args: None)
    seq = DsecSequence(folder)
    with pytest.raises(DataError, match="cannot read events/t .*HDF5 filter plugin"):
        seq.read_events(T_OFFSET, T_OFFSET + 1000)
    seq.close()


def write_ddd17(root: Path, split: str, names, *, shape=(6, 9), channels: int = 6,
                label_value=None) -> None:
    (root / split / "events").mkdir(parents=True, exist_ok=True)
    (root / split / "labels").mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        rep = np.zeros((*shape, channels), np.float32)
        rep[..., 0], rep[..., 1], rep[..., 2] = k, 10 * k, 0.5
        np.save(root / split / "events" / f"{name}.npy", rep)
        value = k % 6 if label_value is None else label_value
        assert cv2.imwrite(str(root / split / "labels" / f"{name}.png"),
                           np.full(shape, value, np.uint8))


def test_ddd17_pairs_events_and_labels_by_name(tmp_path):
    names = ["rec1487417411_export_10", "rec1487417411_export_2", "rec1487339175_export_7"]
    write_ddd17(tmp_path, "test", names)
    split = Ddd17Split(tmp_path, "test", shape=(6, 9))
    assert len(split) == 3 and split.names == sorted(names)
    for i, name in enumerate(split.names):
        k = names.index(name)
        rep, label = split[i]
        assert rep.shape == (6, 9, 6) and rep.dtype == np.float32 and label.dtype == np.uint8
        assert rep[0, 0, 0] == k and label[0, 0] == k % 6
        assert split.event_paths[i].stem == split.label_paths[i].stem == name
    assert split[-1][1][0, 0] == split[2][1][0, 0]
    with pytest.raises(IndexError):
        split[3]


def test_ddd17_errors(tmp_path):
    with pytest.raises(DataError, match="missing DDD17 split 'train' folder"):
        Ddd17Split(tmp_path, "train")
    write_ddd17(tmp_path, "train", ["a", "b"])
    (tmp_path / "train" / "labels" / "b.png").rename(tmp_path / "train" / "labels" / "c.png")
    with pytest.raises(DataError, match=r"unpaired files: 1 event files without label \['b'\], "
                                        r"1 labels without event file \['c'\]"):
        Ddd17Split(tmp_path, "train")
    write_ddd17(tmp_path, "small", ["a"])
    with pytest.raises(DataError, match=r"a.npy: representation is 9 x 6 \(W x H\), expected "
                                        r"346 x 200"):
        Ddd17Split(tmp_path, "small")[0]
    cv2.imwrite(str(tmp_path / "small" / "labels" / "a.png"), np.zeros((5, 9), np.uint8))
    with pytest.raises(DataError, match=r"a: representation 9 x 6 and label 9 x 5 .* differ"):
        Ddd17Split(tmp_path, "small", shape=None)[0]
    write_ddd17(tmp_path, "bad", ["a"], label_value=7)
    with pytest.raises(DataError, match=r"a.png: unknown class ids \[7\]"):
        Ddd17Split(tmp_path, "bad", shape=None)[0]
    np.save(tmp_path / "bad" / "events" / "a.npy", np.zeros((6, 9), np.float32))
    with pytest.raises(DataError, match=r"expected a numeric \(H, W, C\) array"):
        Ddd17Split(tmp_path, "bad", shape=None).representation(0)


def test_counts_and_their_spread_over_time_bins():
    rep = np.zeros((2, 3, 6), np.float32)
    rep[..., 0] = [[0, 1, 2], [3, 7, -1]]  # negative events (-1: an "empty" marker)
    rep[..., 1] = [[5, 0, 4], [1, 2, 9]]
    counts = to_counts(rep)
    assert counts.shape == (2, 2, 3) and counts.dtype == np.float32
    np.testing.assert_array_equal(counts[0], [[0, 1, 2], [3, 7, 0]])
    np.testing.assert_array_equal(to_counts(rep, channels=(1, 0))[0], rep[..., 1])
    with pytest.raises(DataError, match=r"count channels \(0, 6\)"):
        to_counts(rep, channels=(0, 6))
    tensor = counts_tensor(counts, 4)
    assert tensor.shape == (4, 2, 2, 3) and tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor.sum(axis=0), counts)
    assert np.all(tensor == np.floor(tensor)) and np.all(np.ptp(tensor, axis=0) <= 1)
    np.testing.assert_array_equal(tensor[:, 0, 1, 1], [1, 2, 2, 2])  # 7 events over 4 bins
    np.testing.assert_allclose(counts_tensor(counts, 4, whole_events=False), counts[None] / 4
                               * np.ones((4, 1, 1, 1)))
    clipped = counts_tensor(counts, 2, clip=2, scale=0.5)
    np.testing.assert_array_equal(clipped[:, 1, 1, 2], [1.0, 1.0])  # 9 -> 4, 5 -> 2, 2 -> 1
    with pytest.raises(DataError, match="num_steps must be positive"):
        counts_tensor(counts, 0)
