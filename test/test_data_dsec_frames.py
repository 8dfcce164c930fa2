"""DSEC's frame camera brought into the event camera's label frame (issue: the hybrid mode on
DSEC), on tiny files in the released layout: ``images/left/rectified/*.png``,
``images/timestamps.txt`` and ``calibration/cam_to_cam.yaml``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

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
