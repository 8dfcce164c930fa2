"""DSEC's frame camera brought into the event camera's label frame (issue: the hybrid mode on
DSEC), on tiny files in the released layout: ``images/left/rectified/*.png``,
``images/timestamps.txt`` and ``calibration/cam_to_cam.yaml``; and a DSEC-Semantic sequence
pairing each label with its nearest frame."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from helpers.real_datasets import DSEC_STAMPS_US, write_dsec_frames, write_dsec_sequence
from ness_ros.data.dsec import DsecSequence
from ness_ros.data.dsec_frames import LABEL_ROWS, DsecCalibration, DsecFrames
from ness_ros.data.errors import DataError

FX0, CX0, CY0 = 560.0, 320.0, 240.0


def write_sequence(folder: Path, *, scale: float = 2.0, yaw_deg: float = 0.0,
                   baseline_m: float = 0.05, frame_size: tuple[int, int] = (1440, 1080),
                   frames: list[np.ndarray] | None = None,
                   stamps_us: list[int] | None = None) -> None:
    """A sequence whose frame camera has ``scale`` times the event camera's focal length,
    turned by ``yaw_deg`` about the vertical axis and ``baseline_m`` to the side."""
    yaw = np.deg2rad(yaw_deg)
    rotation = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    t_10 = np.eye(4)
    t_10[:3, :3] = rotation
    t_10[0, 3] = -baseline_m
    width, height = frame_size
    calibration = {
        "intrinsics": {
            "camRect0": {"camera_matrix": [FX0, FX0, CX0, CY0], "resolution": [640, 480]},
            "camRect1": {"camera_matrix": [FX0 * scale, FX0 * scale, width / 2, height / 2],
                         "resolution": [width, height]}},
        "extrinsics": {"R_rect0": np.eye(3).tolist(), "R_rect1": np.eye(3).tolist(),
                       "T_10": t_10.tolist()},
    }
    (folder / "calibration").mkdir(parents=True)
    (folder / "calibration" / "cam_to_cam.yaml").write_text(yaml.safe_dump(calibration))
    images = folder / "images" / "left" / "rectified"
    images.mkdir(parents=True)
    frames = frames if frames is not None else [np.zeros((height, width, 3), np.uint8)]
    for i, rgb in enumerate(frames):
        cv2.imwrite(str(images / f"{i:06d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    stamps = stamps_us if stamps_us is not None else [1000 + 50_000 * i for i in range(len(frames))]
    (folder / "images" / "timestamps.txt").write_text("".join(f"{t}\n" for t in stamps))


def test_a_point_of_the_frame_lands_where_the_homography_at_infinity_says(tmp_path):
    """Twice the focal length, centred: event pixel (u, v) sees frame pixel
    (720 + 2 (u - 320), 540 + 2 (v - 240)); a bright square drawn in the frame lands there."""
    rgb = np.zeros((1080, 1440, 3), np.uint8)
    rgb[540 - 100:540 - 60, 720 + 200:720 + 240] = (255, 128, 0)  # event (420..440, 190..210)
    write_sequence(tmp_path, frames=[rgb])
    frames = DsecFrames(tmp_path)
    out = frames.frame(0)
    assert out.shape == (LABEL_ROWS, 640, 3)
    assert (out[192:208, 422:438] == (255, 128, 0)).all()
    assert out[180:188, 400:418].max() == 0 and out[212:220, 442:460].max() == 0
    assert frames.coverage is not None and frames.coverage.all()  # 2x the focal: sees it all


def test_a_turned_frame_camera_shifts_the_image_by_f_tan_yaw_and_unseen_pixels_are_flagged(
        tmp_path):
    """Frame camera turned 5 degrees, same focal length, no margin: the event camera's centre
    ray lands f tan(5 deg) pixels across, and a strip of the label frame is not seen."""
    write_sequence(tmp_path, scale=1.0, yaw_deg=5.0, frame_size=(640, 480))
    calibration = DsecCalibration.from_yaml(tmp_path / "calibration" / "cam_to_cam.yaml")
    centre = calibration.homography @ np.array([CX0, CY0, 1.0])
    assert centre[0] / centre[2] == pytest.approx(CX0 + FX0 * np.tan(np.deg2rad(5.0)), abs=1e-6)
    assert centre[1] / centre[2] == pytest.approx(CY0, abs=1e-6)
    frames = DsecFrames(tmp_path)
    frames.frame(0)
    assert frames.coverage is not None
    unseen = ~frames.coverage
    assert unseen[:, -30:].all() and not unseen[20:420, :500].any()  # the far side is unseen
    assert "parallax" in frames.describe() and "sees" in frames.describe()


def test_parallax_is_focal_times_baseline_over_depth(tmp_path):
    write_sequence(tmp_path, baseline_m=0.05)
    calibration = DsecCalibration.from_yaml(tmp_path / "calibration" / "cam_to_cam.yaml")
    assert calibration.baseline_m == pytest.approx(0.05)
    assert calibration.parallax_px(5.0) == pytest.approx(FX0 * 0.05 / 5.0)


def test_nearest_frame_of_a_label_time_and_its_offset(tmp_path):
    write_sequence(tmp_path, frames=[np.zeros((1080, 1440, 3), np.uint8)] * 3,
                   stamps_us=[1_000, 51_000, 101_000])
    frames = DsecFrames(tmp_path)
    assert frames.nearest(50_000) == (1, 1_000)
    assert frames.nearest(0) == (0, 1_000)
    assert frames.nearest(200_000) == (2, -99_000)


def test_missing_or_malformed_files_name_themselves(tmp_path):
    with pytest.raises(DataError, match="images/left/rectified"):
        DsecFrames(tmp_path)
    write_sequence(tmp_path, frames=[np.zeros((8, 8, 3), np.uint8)] * 2, stamps_us=[5])
    with pytest.raises(DataError, match="2 frames but 1 timestamps"):
        DsecFrames(tmp_path)
    (tmp_path / "images" / "timestamps.txt").write_text("5\n6\n")
    (tmp_path / "calibration" / "cam_to_cam.yaml").write_text("intrinsics: {}\n")
    with pytest.raises(DataError, match="not a DSEC cam_to_cam.yaml"):
        DsecFrames(tmp_path)


def test_a_dsec_sequence_gives_each_label_its_nearest_frame_or_skips_and_counts_it(tmp_path):
    """Frames near labels 0, 1, 3 and 4 (3 ms after, 2 ms before, 1 ms after, on time) and none
    within half a frame period of label 2: four windows, each at its frame's time, with the
    frame in the label frame and the label ignored where the frame camera does not see."""
    s = DSEC_STAMPS_US
    frame_stamps = [s[0] + 3_000, s[1] - 2_000, s[3] + 1_000, s[4]]
    folder, _ = write_dsec_sequence(tmp_path, "official")
    written = write_dsec_frames(folder, frame_stamps)
    with DsecSequence(folder) as seq:
        assert seq.has_frames
        np.testing.assert_array_equal(seq.frame_index, [0, 1, -1, 2, 3])
        assert seq.frame_offset_us[[0, 1, 3, 4]].tolist() == [
            f - t for f, t in zip(frame_stamps, [s[0], s[1], s[3], s[4]], strict=True)]
        line = seq.describe_frames()
        assert "4 of 5 labels with the frame nearest their time" in line
        assert "1 label(s) skipped" in line and "frame camera sees" in line
        with pytest.raises(DataError, match="label 2 .* has no frame within"):
            seq.frame(2)
        # The labels with a frame make the samples, each at its frame's time; label 0's frame
        # is 53 ms after the recording starts, so a longer window would start before it.
        index, stamps = seq.samples()
        assert index.tolist() == [0, 1, 3, 4] and stamps.tolist() == frame_stamps
        assert seq.complete_samples(53_001)[0].tolist() == [1, 3, 4]
        assert [w.index for w in seq.windows(53_001, mapped=False)] == [1, 3, 4]
        assert seq.sample_stamp_us(3) == frame_stamps[2]
        windows = list(seq.windows(mapped=False))
        assert [w.index for w in windows] == [0, 1, 3, 4]
        assert [w.stamp_ns for w in windows] == [f * 1000 for f in frame_stamps]
        assert seq.frames is not None
        seen = seq.frames.seen()
        assert 0.8 < seen.mean() < 1.0 and not seen[:, -20:].any()  # a strip on the right
        for w, k in zip(windows, range(4), strict=True):
            assert w.frame is not None and w.frame.shape == (LABEL_ROWS, 640, 3)
            np.testing.assert_array_equal(w.frame, seq.frames.to_label_frame(written[k]))
            raw = seq.label(w.index, mapped=False)
            np.testing.assert_array_equal(w.label[seen], raw[seen])
            assert (w.label[~seen] == 255).all()
            stamp_us = w.stamp_ns // 1000  # the events end at the frame's time
            np.testing.assert_array_equal(
                w.events.events, seq.read_events(stamp_us - 50_000, stamp_us).events)
    # A wider bound: label 2's nearest frame is label 3's, which keeps it (it is nearer).
    with DsecSequence(folder, max_frame_offset_us=60_000) as seq:
        np.testing.assert_array_equal(seq.frame_index, [0, 1, -1, 2, 3])
    with DsecSequence(folder, frames=False) as seq:
        assert not seq.has_frames and next(seq.windows()).frame is None
        index, stamps = seq.samples()  # every label, at its own time
        assert index.tolist() == [0, 1, 2, 3, 4] and stamps.tolist() == list(s)
        assert "frames: none (not read)" in seq.describe_frames()


def test_frames_asked_of_a_sequence_without_them_name_the_missing_folders(tmp_path):
    folder, _ = write_dsec_sequence(tmp_path, "ess")
    with DsecSequence(folder) as seq:  # found neither: events only, and said so
        assert not seq.has_frames
        assert "frames: none (no images/ and calibration/ folder)" in seq.describe_frames()
    with pytest.raises(DataError, match=r"missing .*/images and .*/calibration: the hybrid model"):
        DsecSequence(folder, frames=True)
    write_dsec_frames(folder)
    shutil.rmtree(folder / "calibration")
    with pytest.raises(DataError, match=r"missing .*/calibration: the hybrid model on DSEC"):
        DsecSequence(folder, frames=True)
