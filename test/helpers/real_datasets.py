"""Tiny files in the exact released layouts of DSEC-Semantic (both layouts) and DDD17 (Ev-SegNet).

DSEC-Semantic, ``official`` (the download: events archive and semantic archive extracted into the
same root) and ``ess`` (what ESS's loader reads)::

    official: <root>/<split>/<seq>/events/left/{events.h5,rectify_map.h5}
              <root>/<split>/<seq>/11classes/000000.png ...
              <root>/<split>/<seq>/<seq>_semantic_timestamps.txt
    ess:      <root>/<split>/<seq>/events/left/{events.h5,rectify_map.h5}
              <root>/<split>/<seq>/semantic/11classes/data/000000.png ...
              <root>/<split>/<seq>/semantic/timestamps.txt

``events.h5``: ``events/{x,y,t,p}`` (u16, u16, u32 µs since ``t_offset``, u8), ``ms_to_idx``
(u64) and ``t_offset`` (i64 µs), the event datasets chunked and blosc-compressed (zstd, as the
released files) when hdf5plugin is installed. Labels at 20 Hz on the ``t + t_offset`` clock.

With ``frames``, the sequence also holds what the official ``*_images.zip`` and
``*_calibration.zip`` extract into it: ``images/left/rectified/000000.png ...`` (the rectified
left frame camera, RGB), ``images/timestamps.txt`` (µs, the events' clock) and
``calibration/cam_to_cam.yaml`` (``intrinsics: camRect0/camRect1: camera_matrix: [fx, fy, cx,
cy]``, ``extrinsics: R_rect0, R_rect1, T_10``). The frame camera here is 960 x 720 with 1.5
times the event camera's focal length, turned 4 degrees and 6 cm to the side: it misses a strip
on the right of the label frame, as DSEC's misses its edges.

DDD17 as released with Ev-SegNet: ``<root>/<split>/{events/<name>.npy (H, W, 6) float32,
labels/<name>.png, images/<name>.png}``, 346 x 200.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import h5py
import numpy as np
import yaml

try:
    import hdf5plugin
except ImportError:  # the files are then written uncompressed
    hdf5plugin = None

T_OFFSET_US = 51_234_567_891
DSEC_SEQ = "zurich_city_00_a"
#: Label times: 20 Hz from 50 ms after t_offset, with the µs jitter of real camera triggers.
DSEC_STAMPS_US = [T_OFFSET_US + 50_000 * (k + 1) + (k * 7) % 13 for k in range(5)]


#: Frame times of :func:`write_dsec_frames`: 20 Hz, one at every label (the labels' µs jitter
#: aside) and one more after the last.
DSEC_FRAME_STAMPS_US = [T_OFFSET_US + 50_000 * (k + 1) for k in range(6)]
#: The event camera's rectified intrinsics in the written calibration (fx = fy, cx, cy).
DSEC_EVENT_K = (560.0, 320.0, 240.0)


def write_dsec_frames(folder: Path, stamps_us=None, *, size: tuple[int, int] = (960, 720),
                      scale: float = 1.5, yaw_deg: float = 4.0, seed: int = 0) -> list[np.ndarray]:
    """Write the frames and calibration of the DSEC sequence ``folder``; returns the RGB frames
    as written (smooth colour ramps with a few blocks, one per stamp)."""
    rng = np.random.default_rng(seed)
    fx, cx, cy = DSEC_EVENT_K
    width, height = size
    yaw = np.deg2rad(yaw_deg)
    t_10 = np.eye(4)
    t_10[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
    t_10[:3, 3] = [-0.06, 0.0, 0.0]
    calibration = {
        "intrinsics": {
            "camRect0": {"camera_matrix": [fx, fx, cx, cy], "resolution": [640, 480]},
            "camRect1": {"camera_matrix": [fx * scale, fx * scale, width / 2, height / 2],
                         "resolution": [width, height]}},
        "extrinsics": {"R_rect0": np.eye(3).tolist(), "R_rect1": np.eye(3).tolist(),
                       "T_10": t_10.tolist()},
    }
    (folder / "calibration").mkdir(parents=True, exist_ok=True)
    (folder / "calibration" / "cam_to_cam.yaml").write_text(yaml.safe_dump(calibration))
    images = folder / "images" / "left" / "rectified"
    images.mkdir(parents=True, exist_ok=True)
    stamps = DSEC_FRAME_STAMPS_US if stamps_us is None else stamps_us
    ys, xs = np.mgrid[0:height, 0:width]
    frames = []
    for k in range(len(stamps)):
        rgb = np.stack([(xs * 255 // width + 40 * k) % 256, ys * 255 // height,
                        np.full_like(xs, 60 + 30 * k)], axis=-1).astype(np.uint8)
        for _ in range(4):
            x0, y0 = rng.integers(0, width - 120), rng.integers(0, height - 90)
            rgb[y0:y0 + 90, x0:x0 + 120] = rng.integers(0, 256, 3)
        assert cv2.imwrite(str(images / f"{k:06d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        frames.append(rgb)
    (folder / "images" / "timestamps.txt").write_text("".join(f"{t}\n" for t in stamps))
    return frames


def _compression() -> dict:
    if hdf5plugin is None:
        return {}
    return dict(hdf5plugin.Blosc(cname="zstd", clevel=1, shuffle=hdf5plugin.Blosc.SHUFFLE))


def write_dsec_sequence(root: Path, layout: str = "official", *, split: str = "train",
                        name: str = DSEC_SEQ, n: int = 20_000, duration_us: int = 300_000,
                        stamps_us=None, rectify_shift: tuple[float, float] | None = (0.3, -0.4),
                        seed: int = 0, frames: bool = False
                        ) -> tuple[Path, dict[str, np.ndarray]]:
    """Write one DSEC-Semantic sequence in ``layout`` (with ``frames``: its frames and
    calibration too, :func:`write_dsec_frames`); returns its folder and the raw events."""
    rng = np.random.default_rng(seed)
    folder = root / split / name
    events_dir = folder / "events" / "left"
    events_dir.mkdir(parents=True)
    ev = {"p": rng.integers(0, 2, n).astype(np.uint8),
          "t": np.sort(rng.integers(0, duration_us, n)).astype(np.uint32),
          "x": rng.integers(0, 640, n).astype(np.uint16),
          "y": rng.integers(0, 480, n).astype(np.uint16)}
    ms = np.arange(math.ceil(duration_us / 1000) + 1, dtype=np.int64) * 1000
    with h5py.File(events_dir / "events.h5", "w") as f:
        for key, values in ev.items():
            f.create_dataset(f"events/{key}", data=values, chunks=(min(n, 4096),),
                             **_compression())
        f.create_dataset("ms_to_idx", data=np.searchsorted(ev["t"], ms).astype(np.uint64),
                         **_compression())
        f.create_dataset("t_offset", data=np.int64(T_OFFSET_US))
    if rectify_shift is not None:
        ys, xs = np.mgrid[0:480, 0:640].astype(np.float32)
        rmap = np.stack([xs + rectify_shift[0], ys + rectify_shift[1]], axis=-1)
        with h5py.File(events_dir / "rectify_map.h5", "w") as f:
            f.create_dataset("rectify_map", data=rmap)
    stamps = DSEC_STAMPS_US if stamps_us is None else stamps_us
    if layout == "official":
        label_dir, stamps_path = folder / "11classes", folder / f"{name}_semantic_timestamps.txt"
    elif layout == "ess":
        label_dir = folder / "semantic" / "11classes" / "data"
        stamps_path = folder / "semantic" / "timestamps.txt"
    else:
        raise ValueError(layout)
    label_dir.mkdir(parents=True)
    for k in range(len(stamps)):
        label = np.full((440, 640), k % 11, np.uint8)
        label[200:, :320] = (k + 5) % 11
        label[:10] = 255
        assert cv2.imwrite(str(label_dir / f"{k:06d}.png"), label)
    stamps_path.write_text("".join(f"{s}\n" for s in stamps))
    if frames:
        write_dsec_frames(folder, seed=seed)
    return folder, ev


def write_ddd17_release(root: Path, split: str = "test", names=("rec1487417411_export_2",
                        "rec1487417411_export_10", "rec1487417411_export_11"), *,
                        shape: tuple[int, int] = (200, 346), images: bool = True,
                        seed: int = 0) -> Path:
    """Write an Ev-SegNet DDD17 split; returns the split folder."""
    rng = np.random.default_rng(seed)
    folder = root / split
    for sub in ("events", "labels", "images") if images else ("events", "labels"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        rep = np.zeros((*shape, 6), np.float32)
        rep[..., 0] = rng.poisson(0.3, shape)  # negative counts
        rep[..., 1] = rng.poisson(0.5, shape)  # positive counts
        rep[..., 2:4] = rng.random((*shape, 2))  # mean normalised times
        rep[..., 4:] = rng.random((*shape, 2)) * 0.3  # their standard deviations
        np.save(folder / "events" / f"{name}.npy", rep)
        label = np.full(shape, k % 6, np.uint8)
        label[shape[0] // 2:] = 0
        assert cv2.imwrite(str(folder / "labels" / f"{name}.png"), label)
        if images:
            frame = (rng.random(shape) * 255).astype(np.uint8)
            assert cv2.imwrite(str(folder / "images" / f"{name}.png"), frame)
    return folder
