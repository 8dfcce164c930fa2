"""DSEC's frame camera in the event camera's label frame: what the hybrid model needs on DSEC.

DSEC's frames come from a separate camera (left frame camera ``cam1``, 1440 x 1080) mounted
beside the left event camera (``cam0``, 640 x 480), and DSEC-Semantic's labels live in the
event camera's rectified frame (``camRect0``, top 640 x 440). The download gives the frames
rectified (``images/left/rectified/*.png``, frame ``camRect1``), their times
(``images/timestamps.txt``, µs on the events' clock) and the calibration
(``calibration/cam_to_cam.yaml``)::

    intrinsics: camRect0: camera_matrix: [fx, fy, cx, cy]   # rectified event camera
                camRect1: camera_matrix: [fx, fy, cx, cy]   # rectified frame camera
    extrinsics: R_rect0, R_rect1: 3 x 3   # camera -> its rectified frame
                T_10: 4 x 4               # event camera -> frame camera (metres)

**How**: a frame is brought into the event camera's rectified frame by the homography of the
plane at infinity, ``p1 ~ K_r1 R_r1_r0 K_r0^-1 p0`` with ``R_r1_r0 = R_rect1 R_10 R_rect0^T``:
each event-frame pixel samples the frame where a point infinitely far along its ray is seen
(bilinear, one ``cv2.warpPerspective``), then the bottom 40 rows are cut as for the labels.

**What is lost**: the translation between the two cameras (a few centimetres) is ignored, so a
point at depth Z lands ``f |t_xy| / Z`` pixels off (:meth:`DsecCalibration.parallax_px`): about
a pixel at 20 m, several at 5 m for DSEC's rig; near objects (a car alongside) are shifted
against their labels by that much. Event-frame pixels the frame camera does not see are black
and flagged (:attr:`DsecFrames.coverage`). The frames' exposure is not the events' instant:
each label takes the frame nearest its time, and the offset is reported
(:meth:`DsecFrames.nearest`, :meth:`DsecFrames.pair` for all labels at once; DSEC-Semantic's
labels were made on these frames, so in the released data a label's frame carries its own time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import yaml
from numpy.typing import NDArray

from ness_ros.data.errors import DataError

#: The event camera's rectified frame, and the rows of it the labels cover.
EVENT_SIZE = (640, 480)
LABEL_ROWS = 440


def _camera_matrix(values: Any, where: str) -> NDArray[np.float64]:
    if not isinstance(values, list) or len(values) != 4:
        raise DataError(f"{where}: camera_matrix must be [fx, fy, cx, cy], got {values!r}")
    fx, fy, cx, cy = (float(v) for v in values)
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _matrix(values: Any, shape: tuple[int, int], where: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != shape or not np.isfinite(array).all():
        raise DataError(f"{where}: expected a finite {shape[0]} x {shape[1]} matrix, got "
                        f"{values!r}")
    return array


@dataclass(frozen=True)
class DsecCalibration:
    """The part of ``cam_to_cam.yaml`` that maps the frame camera into the event camera."""

    k_event: NDArray[np.float64]     # camRect0
    k_frame: NDArray[np.float64]     # camRect1
    r_rect0: NDArray[np.float64]
    r_rect1: NDArray[np.float64]
    t_10: NDArray[np.float64]        # event camera -> frame camera

    @classmethod
    def from_yaml(cls, path: str | Path) -> DsecCalibration:
        """Read ``cam_to_cam.yaml``; DataError naming the file and the missing key."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"missing DSEC calibration {path}")
        try:
            data = yaml.safe_load(path.read_text())
            intrinsics, extrinsics = data["intrinsics"], data["extrinsics"]
            return cls(
                _camera_matrix(intrinsics["camRect0"]["camera_matrix"], f"{path} camRect0"),
                _camera_matrix(intrinsics["camRect1"]["camera_matrix"], f"{path} camRect1"),
                _matrix(extrinsics["R_rect0"], (3, 3), f"{path} R_rect0"),
                _matrix(extrinsics["R_rect1"], (3, 3), f"{path} R_rect1"),
                _matrix(extrinsics["T_10"], (4, 4), f"{path} T_10"))
        except (KeyError, TypeError) as exc:
            raise DataError(f"{path}: not a DSEC cam_to_cam.yaml (missing {exc})") from exc
        except yaml.YAMLError as exc:
            raise DataError(f"{path}: unreadable YAML: {exc}") from exc

    @property
    def rotation(self) -> NDArray[np.float64]:
        """Rectified event frame -> rectified frame camera: ``R_rect1 R_10 R_rect0^T``."""
        return self.r_rect1 @ self.t_10[:3, :3] @ self.r_rect0.T

    @property
    def homography(self) -> NDArray[np.float64]:
        """Event-frame pixel (homogeneous) -> frame-camera pixel, for points at infinity."""
        h = self.k_frame @ self.rotation @ np.linalg.inv(self.k_event)
        return cast(NDArray[np.float64], h / h[2, 2])

    @property
    def baseline_m(self) -> float:
        """Distance between the two cameras' centres, metres."""
        return float(np.linalg.norm(self.t_10[:3, 3]))

    def parallax_px(self, depth_m: float) -> float:
        """How far off (event-frame pixels) a point at ``depth_m`` lands: the translation
        the homography ignores, seen across the image plane."""
        t = self.r_rect1 @ self.t_10[:3, 3]  # in the rectified frame camera's axes
        return float(self.k_event[0, 0] * np.hypot(t[0], t[1]) / depth_m)


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG from its IHDR chunk, without decoding the image."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise DataError(f"not a PNG file: {path}")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


class DsecFrames:
    """The rectified left frames of one DSEC sequence, brought into the label frame.

    Args:
        folder: the sequence folder (``images/`` and ``calibration/`` in it, as the official
            ``*_images.zip`` and ``*_calibration.zip`` extract).

    Attributes:
        stamps_us: (N,) int64 frame times, µs on the events' clock.
        coverage: (440, 640) bool, the label-frame pixels the frame camera sees.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        image_dir = self.folder / "images" / "left" / "rectified"
        if not image_dir.is_dir():
            raise DataError(f"missing DSEC frame folder {image_dir} (the *_images.zip of the "
                            "sequence, extracted into the same root)")
        self.paths = sorted(image_dir.glob("*.png"))
        stamps_path = self.folder / "images" / "timestamps.txt"
        if not stamps_path.is_file():
            raise DataError(f"missing DSEC frame timestamps {stamps_path}")
        try:
            self.stamps_us = np.atleast_1d(np.loadtxt(stamps_path, dtype=np.int64))
        except ValueError as exc:
            raise DataError(f"cannot parse frame timestamps {stamps_path}: {exc}") from exc
        if len(self.paths) != len(self.stamps_us):
            raise DataError(f"{image_dir}: {len(self.paths)} frames but {len(self.stamps_us)} "
                            f"timestamps in {stamps_path}")
        if len(self.stamps_us) and (np.diff(self.stamps_us) <= 0).any():
            raise DataError(f"{stamps_path}: frame times must increase")
        self.calibration = DsecCalibration.from_yaml(self.folder / "calibration" /
                                                     "cam_to_cam.yaml")
        self._source_size: tuple[int, int] | None = None
        self.coverage: NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def nearest(self, stamp_us: int) -> tuple[int, int]:
        """(index of the frame nearest ``stamp_us``, its offset in µs: frame - stamp)."""
        if not len(self.stamps_us):
            raise DataError(f"{self.folder}: no frames")
        i = int(np.searchsorted(self.stamps_us, stamp_us))
        candidates = [j for j in (i - 1, i) if 0 <= j < len(self.stamps_us)]
        best = min(candidates, key=lambda j: abs(int(self.stamps_us[j]) - stamp_us))
        return best, int(self.stamps_us[best]) - int(stamp_us)

    def half_period_us(self) -> int:
        """Half the frames' median spacing (25 ms at DSEC's 20 Hz): the default bound on a
        label's offset to its frame; 25 ms when there are fewer than two frames."""
        if len(self.stamps_us) < 2:
            return 25_000
        return int(np.median(np.diff(self.stamps_us))) // 2

    def pair(self, stamps_us: NDArray[np.int64], max_offset_us: int
             ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The frame of each of ``stamps_us`` (sorted label times): (frame index, -1 where none,
        and offset frame - stamp in µs), as :meth:`nearest` chooses (ties to the earlier frame).

        A label gets no frame when its nearest one is more than ``max_offset_us`` away, or when
        a nearer label took that frame (a frame is one sample's input, never two).
        """
        stamps = np.asarray(stamps_us, dtype=np.int64)
        index = np.full(len(stamps), -1, np.int64)
        offset = np.zeros(len(stamps), np.int64)
        if not len(self.stamps_us) or not len(stamps):
            return index, offset
        after = np.clip(np.searchsorted(self.stamps_us, stamps), 0, len(self.stamps_us) - 1)
        before = np.clip(after - 1, 0, None)
        d_before = self.stamps_us[before] - stamps
        d_after = self.stamps_us[after] - stamps
        nearest = np.where(np.abs(d_before) <= np.abs(d_after), before, after)
        offset = self.stamps_us[nearest] - stamps
        near = np.abs(offset) <= max_offset_us
        # Of labels sharing a frame, the nearest keeps it (stable: the earlier on a tie).
        order = np.lexsort((np.arange(len(stamps)), np.abs(offset), nearest))
        first = np.ones(len(order), bool)
        first[1:] = nearest[order][1:] != nearest[order][:-1]
        keep = np.zeros(len(stamps), bool)
        keep[order[first]] = True
        chosen = near & keep
        index[chosen] = nearest[chosen]
        return index, offset

    def seen(self) -> NDArray[np.bool_]:
        """:attr:`coverage`, from the first frame's size (its PNG header) if none was read."""
        if self.coverage is None:
            if not self.paths:
                raise DataError(f"{self.folder}: no frames")
            self._source_size = _png_size(self.paths[0])
            self.coverage = self._coverage(self._source_size)
        return self.coverage

    def frame(self, index: int) -> NDArray[np.uint8]:
        """Frame ``index`` as (440, 640, 3) RGB in the label frame (black where unseen)."""
        path = self.paths[index]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"cannot read DSEC frame {path}")
        # Warped first: the warp treats channels alike, and the label frame is a fifth of the
        # 1440 x 1080 image to convert.
        warped = self.to_label_frame(np.asarray(bgr, np.uint8))
        return np.asarray(cv2.cvtColor(warped, cv2.COLOR_BGR2RGB), np.uint8)

    def to_label_frame(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """A rectified frame-camera image (H, W, 3) warped into the label frame (any channel
        order: each channel is warped alike)."""
        size = (rgb.shape[1], rgb.shape[0])
        # The map samples the source at H p for each event-frame pixel p: WARP_INVERSE_MAP.
        warped = cv2.warpPerspective(rgb, self.calibration.homography, EVENT_SIZE,
                                     flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if size != self._source_size:
            self._source_size = size
            self.coverage = self._coverage(size)
        return np.ascontiguousarray(warped[:LABEL_ROWS], dtype=np.uint8)

    def _coverage(self, size: tuple[int, int]) -> NDArray[np.bool_]:
        v, u = np.mgrid[:LABEL_ROWS, :EVENT_SIZE[0]].astype(np.float64)
        points = np.stack([u.ravel(), v.ravel(), np.ones(u.size)])
        mapped = self.calibration.homography @ points
        x, y = mapped[0] / mapped[2], mapped[1] / mapped[2]
        inside = (mapped[2] > 0) & (x >= 0) & (x <= size[0] - 1) & (y >= 0) & (y <= size[1] - 1)
        return inside.reshape(LABEL_ROWS, EVENT_SIZE[0])

    def describe(self) -> str:
        """What the mapping costs, for logs and reports."""
        c = self.calibration
        coverage = self.seen() if self.paths else None
        seen = "" if coverage is None else \
            f", frame camera sees {coverage.mean():.1%} of the label frame"
        return (f"DSEC frames into the event camera's frame by the homography at infinity "
                f"(baseline {c.baseline_m * 100:.1f} cm: parallax {c.parallax_px(5.0):.1f} px "
                f"at 5 m, {c.parallax_px(20.0):.1f} px at 20 m{seen})")
