"""Synthetic driving sequences: RGB frames, labels and events, generated from a seed.

:func:`generate_sequence` renders a :class:`~ness_ros.data.scene.Scene` at 20 Hz (frames and
labels) and, in between, at an adaptive internal rate for the
:class:`~ness_ros.data.event_simulator.EventSimulator`. Frame k has the stamp (k + 1) / fps
seconds (in ns) and owns the events in (stamp k-1, stamp k], the first frame those in
(0, stamp 0], so every frame has a full window of events.

Render schedule per frame interval: ``base_renders`` equal segments, each halved while more than
``split_fraction`` of the pixels change by more than ``max_log_change`` in log intensity over
it, up to ``max_renders`` segments per frame. Between renders log intensity is interpolated
linearly (see :mod:`ness_ros.data.event_simulator`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from ness_ros.data.errors import DataError
from ness_ros.data.event_simulator import (
    EventSimConfig,
    EventSimulator,
    log_intensity,
    luminance,
)
from ness_ros.data.road import MOVING_SPEED
from ness_ros.data.scene import Scene, SceneConfig
from ness_ros.events.batch import EventBatch


@dataclass(frozen=True)
class SequenceConfig:
    """Everything that determines a sequence besides its seed.

    Sizes in pixels, times in seconds, rates in Hz; ``rgb_noise`` is the read-noise deviation
    of the frames in 8-bit levels (shot noise is added on top); ``events=False`` skips the event
    simulation (frames and labels only, one render per frame).
    """

    width: int = 346
    height: int = 260
    duration_s: float = 10.0
    fps: float = 20.0
    stops: int | None = None
    base_renders: int = 2
    max_renders: int = 4
    max_log_change: float = 0.4
    split_fraction: float = 0.03
    rgb_noise: float = 2.0
    events: bool = True
    sim: EventSimConfig = field(default_factory=EventSimConfig)

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise DataError(f"fps must be positive, got {self.fps}")
        if self.base_renders < 1 or self.max_renders < self.base_renders:
            raise DataError(f"need 1 <= base_renders <= max_renders, got {self.base_renders} "
                            f"and {self.max_renders}")
        if self.num_frames < 1:
            raise DataError(f"duration_s {self.duration_s} at {self.fps} fps gives no frame")
        SceneConfig(self.width, self.height, self.duration_s, self.stops)  # validates the rest

    @property
    def num_frames(self) -> int:
        return int(round(self.duration_s * self.fps))

    @property
    def period_ns(self) -> int:
        return int(round(1e9 / self.fps))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SequenceConfig:
        data = dict(data)
        data["sim"] = EventSimConfig(**data.get("sim", {}))
        return cls(**data)


@dataclass(frozen=True)
class FrameWindow:
    """One frame with its label and the events of its window (previous stamp, stamp].

    frame: (H, W, 3) uint8 RGB (None where a data set has no frames: DSEC); label: (H, W) uint8
    class ids (255 unlabelled); stamp_ns: int frame time (ns); events: time-sorted; ego_speed in
    m/s; renders: scene renders the event simulation used for this window (0 when loaded from
    disk).
    """

    index: int
    frame: NDArray[np.uint8] | None
    label: NDArray[np.uint8]
    stamp_ns: int
    events: EventBatch
    ego_speed: float
    moving: bool
    renders: int = 0


@dataclass
class SyntheticSequence:
    """A generated sequence held in memory.

    frames: (N, H, W, 3) uint8 RGB; labels: (N, H, W) uint8; stamps_ns: (N,) int64 frame times;
    events: the whole sequence's events, sorted by time; ego_speed: (N,) float32 m/s at each
    stamp; moving: (N,) bool, ego speed above :data:`~ness_ros.data.road.MOVING_SPEED`;
    seed and config: what generated it; renders: (N,) int16 renders used per frame interval.
    """

    frames: NDArray[np.uint8]
    labels: NDArray[np.uint8]
    stamps_ns: NDArray[np.int64]
    events: EventBatch
    ego_speed: NDArray[np.float32]
    moving: NDArray[np.bool_]
    seed: int
    config: SequenceConfig
    renders: NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def width(self) -> int:
        return self.config.width

    @property
    def height(self) -> int:
        return self.config.height

    @property
    def duration_s(self) -> float:
        return len(self) * self.config.period_ns * 1e-9

    @property
    def event_rate(self) -> float:
        """Mean events per second over the sequence."""
        return len(self.events) / self.duration_s

    def window(self, index: int) -> FrameWindow:
        """Frame ``index`` with the events in (previous stamp, its stamp]."""
        stamp = int(self.stamps_ns[index])
        prev = int(self.stamps_ns[index - 1]) if index > 0 else stamp - self.config.period_ns
        return FrameWindow(index, self.frames[index], self.labels[index], stamp,
                           self.events.time_slice(prev + 1, stamp + 1),
                           float(self.ego_speed[index]), bool(self.moving[index]),
                           int(self.renders[index]))

    def windows(self) -> Iterator[FrameWindow]:
        """Every frame in order with its event window."""
        for i in range(len(self)):
            yield self.window(i)


def stream_sequence(seed: int, config: SequenceConfig | None = None,
                    progress: bool = False) -> Iterator[FrameWindow]:
    """Generate a sequence frame by frame (for live publishing); see :func:`generate_sequence`.

    Yields:
        one :class:`FrameWindow` per frame, in time order.
    """
    cfg = config or SequenceConfig()
    _, sim_seq, noise_seq = np.random.SeedSequence(int(seed)).spawn(3)
    scene = Scene(int(seed), SceneConfig(cfg.width, cfg.height, cfg.duration_s, cfg.stops))
    sim = EventSimulator(cfg.width, cfg.height, cfg.sim, seed=sim_seq)
    noise = np.random.default_rng(noise_seq)
    period = cfg.period_ns
    eps = cfg.sim.log_eps
    gain = None

    def log_at(t_ns: int) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.uint8]]:
        rgb, label = scene.render(t_ns * 1e-9)
        return log_intensity(luminance(rgb), eps), rgb, label

    if cfg.events:
        log_prev = log_at(0)[0]
        sim.reset(log_prev, 0)
    for k in tqdm(range(cfg.num_frames), desc=f"seed {seed}", unit="frame", disable=not progress,
                  leave=False):
        t_end = (k + 1) * period
        if cfg.events:
            log_end, rgb, label = log_at(t_end)
            chunks: list[EventBatch] = []
            renders = _simulate_frame(sim, log_at, k * period, log_prev, t_end, log_end, cfg,
                                      chunks)
            events = EventBatch.concatenate(chunks)
            log_prev = log_end
        else:
            rgb, label = scene.render(t_end * 1e-9)
            renders, events = 1, EventBatch.empty(cfg.width, cfg.height)
        # Auto-exposure: the frame camera slowly adapts its gain to the scene brightness.
        target = 0.42 / max(float(luminance(rgb).mean()), 1e-3)
        gain = target if gain is None else gain + 0.3 * (target - gain)
        gain = float(np.clip(gain, 0.4, 2.5))
        frame = _sensor(rgb * gain, cfg.rgb_noise, noise)
        speed = float(scene.ego_speed(t_end * 1e-9))
        yield FrameWindow(k, frame, label, t_end, events, speed, speed > MOVING_SPEED, renders)


def generate_sequence(seed: int, duration_s: float | None = None, width: int | None = None,
                      height: int | None = None, fps: float | None = None, *,
                      progress: bool = True, config: SequenceConfig | None = None,
                      **options) -> SyntheticSequence:
    """Generate a whole sequence in memory.

    Args:
        seed: determines everything (same seed and options -> identical arrays).
        duration_s, width, height, fps: length (s, default 10), image size (pixels, default
            346 x 260), frame rate (Hz, default 20); None keeps the value of ``config``.
        progress: show a tqdm progress bar.
        config: base options (default :class:`SequenceConfig()`); ``options`` override any
            other field of it (e.g. ``events=False``, ``sim=EventSimConfig(...)``).
    """
    given: dict[str, Any] = {"duration_s": duration_s, "width": width, "height": height,
                             "fps": fps}
    cfg = dataclasses.replace(config or SequenceConfig(),
                              **{k: v for k, v in given.items() if v is not None}, **options)
    windows = list(stream_sequence(seed, cfg, progress=progress))
    return SyntheticSequence(
        # generated windows always have a frame
        frames=np.stack(cast(list[NDArray[np.uint8]], [w.frame for w in windows])),
        labels=np.stack([w.label for w in windows]),
        stamps_ns=np.array([w.stamp_ns for w in windows], np.int64),
        events=EventBatch.concatenate([w.events for w in windows]),
        ego_speed=np.array([w.ego_speed for w in windows], np.float32),
        moving=np.array([w.moving for w in windows], bool), seed=int(seed), config=cfg,
        renders=np.array([w.renders for w in windows], np.int16))


def _simulate_frame(sim: EventSimulator, log_at, t0: int, log0: NDArray[np.float32], t1: int,
                    log1: NDArray[np.float32], cfg: SequenceConfig,
                    out: list[EventBatch]) -> int:
    """Advance the simulator over one frame interval; returns the renders used (segments)."""
    n = cfg.base_renders
    times = [t0 + (t1 - t0) * j // n for j in range(n + 1)]
    logs = [log0] + [log_at(t)[0] for t in times[1:-1]] + [log1]
    budget = cfg.max_renders // n  # segments each base segment may become
    used = 0
    for j in range(n):
        used += _segment(sim, log_at, times[j], logs[j], times[j + 1], logs[j + 1], budget, cfg,
                         out)
    return used


def _segment(sim, log_at, ta, la, tb, lb, budget, cfg, out) -> int:
    changed = np.count_nonzero(np.abs(lb - la) > cfg.max_log_change) / la.size
    if budget >= 2 and changed > cfg.split_fraction and tb - ta >= 2:
        tm = (ta + tb) // 2
        lm = log_at(tm)[0]
        return (_segment(sim, log_at, ta, la, tm, lm, budget // 2, cfg, out)
                + _segment(sim, log_at, tm, lm, tb, lb, budget // 2, cfg, out))
    out.append(sim.advance(lb, tb))
    return 1


def _sensor(rgb: NDArray[np.float32], read_noise: float,
            rng: np.random.Generator) -> NDArray[np.uint8]:
    """Linear RGB (about 0..1) -> 8-bit frame with read and shot noise."""
    value = np.clip(rgb, 0.0, 1.0) * 255.0
    sigma = np.sqrt(read_noise ** 2 + 0.08 * value)
    noisy = value + sigma * rng.standard_normal(value.shape, dtype=np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
