"""Motion between processed frames, and labels carried along it (``reuse: warped``).

Under ego-motion the scene slides past the camera: labels kept where they were computed go stale
within a frame or two (thin poles and people move their own width in one frame at 20 Hz). This
module estimates, for every pixel of the current frame, where it was in the previous processed
frame (dense optical flow, OpenCV's DIS), and moves what was computed there along with it:

- :class:`FrameMotion`: the backward flow current -> previous between grey frames;
- :func:`carry`: the per-class label scores moved along the flow (bilinear, so that sub-pixel
  motion adds up over frames instead of being rounded away, as a nearest-label warp would), and
  what the motion does not explain: the photometric residual (the current frame against the
  previous one moved into it) and the pixels whose source lay outside the previous frame
  (content that entered the view);
- :func:`unexplained_map`: those, weighted by where they can move a label, as the region
  gate's input;
- :class:`WarpedLabels`: the state that holds it together from frame to frame.

Occlusions, newly uncovered background, objects whose flow DIS smoothed over and flow that
failed all leave a residual; the ego-motion does not. ROS-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit
from numpy.typing import NDArray

from ness_ros.segmentation.gating_config import GatingConfig

#: The motion estimate's preset unless told otherwise: the hybrid node's.
DEFAULT_FLOW_PRESET = GatingConfig.flow_preset


@dataclass(frozen=True)
class FlowPreset:
    """Settings of DIS: an OpenCV preset, with its patch size, patch stride and gradient
    descent iterations replaced where given."""

    base: int
    patch_size: int | None = None
    patch_stride: int | None = None
    descent_iterations: int | None = None


#: DIS settings by name (:data:`~ness_ros.segmentation.gating_config.FLOW_PRESET_NAMES`),
#: cheapest first. On this 2-core CPU at 346 x 260, one thread, a flow takes about 1.1 ms
#: ultrafast and fine, 3.6 ms fast and 13-17 ms medium. ``fine`` is ultrafast with 6 x 6
#: patches (not 8 x 8) and 6 descent iterations (not 12): ground-truth labels carried three
#: frames by it keep 79.3 % MIoU against ultrafast's 78.2 % on seeds 5001-5002, as thin poles
#: and people are less often smoothed into the background around them. Smaller patches carry
#: thin objects further still (4 x 4 every 3 pixels: 79.9 %), but track a textured pan with
#: errors of 1-1.7 pixels and leave more residual on a real camera's noise, which the gate
#: then reads as change.
FLOW_PRESETS = {
    "ultrafast": FlowPreset(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST),
    "fine": FlowPreset(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, patch_size=6,
                       descent_iterations=6),
    "fast": FlowPreset(cv2.DISOPTICAL_FLOW_PRESET_FAST),
    "medium": FlowPreset(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
}

#: Score of a computed label in its class plane (0 in the others).
SCORE_ONE = 255
#: Weight of a residual pixel away from any label edge, against 1 near one. A flow error
#: inside a region of one class moves no label; near an edge it moves the edge. Not zero:
#: new objects also appear inside uniform labels (a pedestrian stepping out from behind a
#: car). Measured on seeds 5001-5002 (8 x 12 grid, full-pass masks pasted where the gate
#: chose): weight 1 kept 75.9 % MIoU with 30 % of the regions recomputed, 0.25 kept 75.4 %
#: with 21 %, 0 lost 2.5 points.
FLAT_RESIDUAL_WEIGHT = 0.25
#: Residual pixels within this many pixels of a label edge count in full (flow errors at
#: object boundaries are a few pixels).
EDGE_REACH = 4
#: A warped label whose largest score is under this is uncertain: its sources disagreed, and
#: the warp would guess.
UNCERTAIN_SCORE = 160


def grey_frame(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """An (H, W) uint8 grey image of an RGB (H, W, 3) or mono (H, W) frame."""
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        return np.ascontiguousarray(image[:, :, 0])
    if image.ndim == 3 and image.shape[2] == 3:
        return np.asarray(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY),
                          dtype=np.uint8)
    raise ValueError(f"frame must be (H, W) or (H, W, 3), got shape {image.shape}")


class FrameMotion:
    """Dense optical flow from the current frame back to the previous processed one.

    Each estimate starts from the previous one (DIS refines an initial flow): under ego-motion
    the flow changes little between frames. On seeds 5001-5002, labels of a keyframe every
    third frame carried by it lost 1.6 MIoU points against the full pass, against 1.95 from a
    zero start, for no extra time. :meth:`reset` forgets it.

    DIS runs on the frames at half resolution, one pyramid level finer than its preset says,
    so that it estimates at the preset's resolution without building and densifying the
    finest level: the same MIoU to 0.01 point in that test, motion 3.2 instead of 5 ms a frame.

    Args:
        preset: a DIS preset of :data:`FLOW_PRESETS`.
    """

    def __init__(self, preset: str = DEFAULT_FLOW_PRESET) -> None:
        if preset not in FLOW_PRESETS:
            raise ValueError(f"flow preset must be one of {sorted(FLOW_PRESETS)}, got {preset!r}")
        self.preset = preset
        self.reset()

    def reset(self) -> None:
        """Start the next estimate from zero motion, with a new DIS instance: one that refined
        an initial flow at one size crashes (segmentation fault) when it is then given frames
        of another size without one (OpenCV 5.0)."""
        settings = FLOW_PRESETS[self.preset]
        self._dis = cv2.DISOpticalFlow.create(settings.base)
        self._dis.setFinestScale(max(self._dis.getFinestScale() - 1, 0))
        if settings.patch_size is not None:
            self._dis.setPatchSize(settings.patch_size)
        if settings.patch_stride is not None:
            self._dis.setPatchStride(settings.patch_stride)
        if settings.descent_iterations is not None:
            self._dis.setGradientDescentIterations(settings.descent_iterations)
        #: The last estimate at half resolution, the next one's start.
        self._flow: NDArray[np.float32] | None = None

    def flow(self, current: NDArray[np.uint8], previous: NDArray[np.uint8]
             ) -> NDArray[np.float32]:
        """(H, W, 2) float32: pixel (x, y) of ``current`` came from ``(x + flow[y, x, 0],
        y + flow[y, x, 1])`` of ``previous`` (both (H, W) uint8 grey)."""
        if current.shape != previous.shape:
            raise ValueError(f"frames differ in size: {current.shape} and {previous.shape}")
        height, width = current.shape
        half = (-(-width // 2), -(-height // 2))
        small_current, small_previous = (cv2.resize(image, half, interpolation=cv2.INTER_AREA)
                                         for image in (current, previous))
        if self._flow is not None and self._flow.shape[:2] != small_current.shape:
            self.reset()
        # No initial flow (None) for the first estimate: OpenCV takes it, its stubs do not.
        estimate = self._dis.calc(small_current, small_previous,
                                  self._flow)  # type: ignore[arg-type]
        self._flow = np.asarray(estimate, dtype=np.float32)
        # Scaled to full-resolution pixels before it is upsampled: a quarter of the work.
        scaled = self._flow * np.array([width / half[0], height / half[1]], np.float32)
        return np.asarray(cv2.resize(scaled, (width, height), interpolation=cv2.INTER_LINEAR),
                          dtype=np.float32)


@dataclass
class Carried:
    """Labels moved into the current frame, and what the motion left unexplained.

    Attributes:
        scores: per-class scores (H, W, C) uint8, held only where ``confidence`` is under
            :data:`SCORE_ONE`: a certain pixel's scores are one-hot in its label (zero
            everywhere for a label outside the classes), whatever this array holds there.
        labels: the class of the largest score (H, W) uint8 (ties to the lowest class).
        confidence: that largest score (H, W) uint8, :data:`SCORE_ONE` where all four sources
            were certain of one class.
        residual: |current - previous moved into current| (H, W) uint8 grey levels, or None
            when the frames were not given (no gate reads it).
        outside: (H, W) bool, the source lay outside the previous frame (there the labels and
            the residual come from its nearest border pixel).
    """

    scores: NDArray[np.uint8]
    labels: NDArray[np.uint8]
    confidence: NDArray[np.uint8]
    residual: NDArray[np.uint8] | None
    outside: NDArray[np.bool_]


#: Marks a 2 x 2 block of :func:`_certain_blocks` whose pixels are not all certain of one class
#: (blocks are int16: every uint8 label, 255 included, can be certain).
MIXED_BLOCK = -1


def carry(scores: NDArray[np.uint8], labels: NDArray[np.uint8],
          confidence: NDArray[np.uint8], flow: NDArray[np.float32],
          previous: NDArray[np.uint8] | None = None, current: NDArray[np.uint8] | None = None
          ) -> Carried:
    """Move per-class ``scores`` (H, W, C) of the frame ``previous``, with their ``labels`` and
    ``confidence`` (as :class:`Carried` holds them), into the frame ``current`` along the
    backward ``flow`` (:meth:`FrameMotion.flow`); ``previous`` and ``current`` are (H, W) grey,
    for the photometric residual, or both None for none (a keyframe schedule without the gate:
    about 0.2 ms less).

    Bilinear in 8-bit fixed point. Most pixels (over 90 % under ego-motion) sample four sources
    certain of one class: they take that class without arithmetic, and only the others blend
    scores. The certain 2 x 2 blocks are found once per frame, and the photometric residual by
    OpenCV: about 1 ms at 346 x 260 x 6 classes on one core, against 1.7 ms for one numba pass
    that blended and wrote every pixel's scores.
    """
    height, width, channels = scores.shape
    frames = [frame for frame in (previous, current) if frame is not None]
    if labels.shape != (height, width) or flow.shape != (height, width, 2) or \
            any(frame.shape != (height, width) for frame in frames):
        raise ValueError(f"carry needs inputs of one size: scores {scores.shape}, labels "
                         f"{labels.shape}, flow {flow.shape}, frames "
                         f"{[frame.shape for frame in frames]}")
    residual = None
    if previous is not None and current is not None:
        source = flow + _pixel_grid(height, width)
        moved = cv2.remap(previous, source, None,  # type: ignore[call-overload]
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        residual = np.asarray(cv2.absdiff(current, moved), dtype=np.uint8)
    elif frames:
        raise ValueError("carry takes both grey frames for the residual, or neither")
    out = Carried(np.empty_like(scores), np.empty_like(labels), np.empty_like(confidence),
                  residual, np.empty((height, width), np.bool_))
    blocks = np.empty(labels.shape, np.int16)
    _certain_blocks(labels, confidence, blocks)
    mixed = np.empty((height * width, 2), np.int32)
    count = _carry_certain(flow, blocks, out.labels, out.confidence, out.outside, mixed)
    _carry_mixed(flow, scores, labels, confidence, mixed[:count], out.scores, out.labels,
                 out.confidence)
    return out


_GRIDS: dict[tuple[int, int], NDArray[np.float32]] = {}


def _pixel_grid(height: int, width: int) -> NDArray[np.float32]:
    """(H, W, 2) float32: each pixel's own (x, y)."""
    grid = _GRIDS.get((height, width))
    if grid is None:
        xs, ys = np.meshgrid(np.arange(width, dtype=np.float32),
                             np.arange(height, dtype=np.float32))
        grid = _GRIDS[(height, width)] = np.dstack((xs, ys))
    return grid


@njit(cache=True, nogil=True)
def _certain_blocks(labels, confidence, blocks):  # noqa: ANN001, ANN202
    """blocks[y, x]: the label shared by the certain pixels (x..x+1, y..y+1) (the last row and
    column repeated at the far edges), else :data:`MIXED_BLOCK`."""
    height, width = labels.shape
    for y in range(height):
        y1 = min(y + 1, height - 1)
        for x in range(width):
            x1 = min(x + 1, width - 1)
            label = labels[y, x]
            certain = (confidence[y, x] & confidence[y, x1] & confidence[y1, x]
                       & confidence[y1, x1]) == SCORE_ONE
            if certain and labels[y, x1] == label and labels[y1, x] == label \
                    and labels[y1, x1] == label:
                blocks[y, x] = label
            else:
                blocks[y, x] = MIXED_BLOCK


@njit(cache=True, nogil=True)
def _source_cell(sx, sy, height, width):  # noqa: ANN001, ANN202
    """The top-left pixel of the 2 x 2 cell that the source (sx, sy) lies in, clamped to the
    frame, and the source's position in the cell in 1/256 pixel."""
    sx = min(max(sx, 0.0), width - 1.0)
    sy = min(max(sy, 0.0), height - 1.0)
    x0 = int(sx)
    y0 = int(sy)
    return x0, y0, int((sx - x0) * 256.0 + 0.5), int((sy - y0) * 256.0 + 0.5)


@njit(cache=True, nogil=True)
def _carry_certain(flow, blocks, labels_out, confidence_out, outside_out,  # noqa: ANN001, ANN202
                   mixed):
    """Give every pixel whose source cell (the pixel moved by ``flow``) is a certain block that
    block's label; list the others ((y, x) rows) in ``mixed`` and return their count. Flag the
    pixels whose source lies outside the frame."""
    height, width = blocks.shape
    count = 0
    for y in range(height):
        for x in range(width):
            sx = np.float32(x) + flow[y, x, 0]  # float32, as the residual's remap map
            sy = np.float32(y) + flow[y, x, 1]
            outside_out[y, x] = sx < -0.5 or sx > width - 0.5 or sy < -0.5 or sy > height - 0.5
            x0, y0, _, _ = _source_cell(sx, sy, height, width)
            label = blocks[y0, x0]
            if label == MIXED_BLOCK:
                mixed[count, 0] = y
                mixed[count, 1] = x
                count += 1
            else:
                labels_out[y, x] = label
                confidence_out[y, x] = SCORE_ONE
    return count


@njit(cache=True, nogil=True)
def _carry_mixed(flow, scores, labels, confidence, mixed,  # noqa: ANN001, ANN202
                 scores_out, labels_out, confidence_out):
    """Blend the four sources' scores of each pixel of ``mixed`` (a certain source one-hot in
    its label)."""
    height, width, channels = scores.shape
    total = np.empty(channels, np.int64)
    for i in range(mixed.shape[0]):  # (y, x) rows: a flat index's division cost 20 % here
        y = mixed[i, 0]
        x = mixed[i, 1]
        x0, y0, wx, wy = _source_cell(np.float32(x) + flow[y, x, 0],
                                      np.float32(y) + flow[y, x, 1], height, width)
        x1 = min(x0 + 1, width - 1)
        y1 = min(y0 + 1, height - 1)
        total[:] = 32768  # rounds the 16-bit fraction of the weights
        for sy, sx, weight in ((y0, x0, (256 - wx) * (256 - wy)), (y0, x1, wx * (256 - wy)),
                               (y1, x0, (256 - wx) * wy), (y1, x1, wx * wy)):
            if confidence[sy, sx] == SCORE_ONE:
                label = labels[sy, sx]
                if label < channels:
                    total[label] += weight * SCORE_ONE
            else:
                for c in range(channels):
                    total[c] += weight * np.int64(scores[sy, sx, c])
        best = 0
        winner = 0
        for c in range(channels):
            value = total[c] >> 16
            scores_out[y, x, c] = value
            if value > best:
                best = value
                winner = c
        labels_out[y, x] = winner
        confidence_out[y, x] = best


def unexplained_map(carried: Carried, residual_level: int) -> NDArray[np.float32]:
    """Per-pixel weight (H, W) float32 of what the motion does not explain: 1 where the source
    lay outside the previous frame, where the carried label is uncertain
    (:data:`UNCERTAIN_SCORE`), or where the residual passes ``residual_level`` within
    :data:`EDGE_REACH` pixels of a label edge; :data:`FLAT_RESIDUAL_WEIGHT` where it passes
    inside uniform labels; 0 elsewhere."""
    if carried.residual is None:
        raise ValueError("the map of unexplained pixels needs the residual: carry the labels "
                         "with both grey frames")
    size = 2 * EDGE_REACH + 1
    edges = cv2.morphologyEx(carried.labels, cv2.MORPH_GRADIENT, np.ones((size, size), np.uint8))
    weight = np.empty(carried.labels.shape, np.float32)
    _unexplained(carried.residual, edges, carried.confidence, carried.outside,
                 np.int32(residual_level), np.float32(FLAT_RESIDUAL_WEIGHT), weight)
    return weight


@njit(cache=True, nogil=True)
def _unexplained(residual, edges, confidence, outside, level, flat, weight):  # noqa: ANN001, ANN202
    height, width = residual.shape
    for y in range(height):
        for x in range(width):
            if outside[y, x] or confidence[y, x] < UNCERTAIN_SCORE:
                weight[y, x] = 1.0
            elif residual[y, x] > level:
                weight[y, x] = 1.0 if edges[y, x] else flat
            else:
                weight[y, x] = 0.0


class WarpedLabels:
    """The labels of the last mask, carried along the motion from frame to frame.

    The state: per-class scores at the frame's resolution, their labels and confidence, and the
    grey frame they belong to. :meth:`advance` moves them into a new frame and says what the
    motion does not explain there; :meth:`paste` writes newly computed labels in. (Kept at half
    resolution, motion cost 2.4 instead of 4.9 ms a frame, but labels of a keyframe every third
    frame lost 2.2 MIoU points instead of 1.6 on seeds 5001-5002: thin poles do not survive.)

    Args:
        num_classes: classes of the scores.
        preset: DIS preset of the flow (:data:`FLOW_PRESETS`).
    """

    def __init__(self, num_classes: int, preset: str = DEFAULT_FLOW_PRESET) -> None:
        if not 1 <= num_classes <= 255:
            raise ValueError(f"warped labels hold 1 to 255 classes, got {num_classes}")
        self.num_classes = num_classes
        self.motion = FrameMotion(preset)
        self.reset()

    def reset(self) -> None:
        """Forget the labels: :meth:`advance` needs a :meth:`start` first."""
        self._scores: NDArray[np.uint8] | None = None
        self._labels: NDArray[np.uint8] | None = None
        self._confidence: NDArray[np.uint8] | None = None
        self._grey: NDArray[np.uint8] | None = None
        self.motion.reset()

    @property
    def ready(self) -> bool:
        """Whether there are labels to carry into the next frame."""
        return self._scores is not None

    def set_preset(self, preset: str) -> None:
        """Use another DIS preset from the next frame on."""
        if preset != self.motion.preset:
            self.motion = FrameMotion(preset)

    def start(self, mask: NDArray[np.uint8], image: NDArray[np.uint8]) -> None:
        """Take ``mask`` (H, W), computed whole for the frame ``image``, as the labels."""
        self._grey = grey_frame(image)
        self._scores = np.empty((*mask.shape, self.num_classes), np.uint8)  # all certain
        self._labels = mask.copy()
        self._confidence = np.full(mask.shape, SCORE_ONE, np.uint8)

    def advance(self, image: NDArray[np.uint8], residual_level: int | None
                ) -> tuple[NDArray[np.uint8], NDArray[np.float32] | None]:
        """Move the labels into the frame ``image``.

        Returns the carried mask (H, W) (a new array) and the map of what the motion does not
        explain (:func:`unexplained_map`) at ``residual_level``, or None for a level of None
        (nothing reads it: the residual is not computed).
        """
        if self._scores is None or self._labels is None or self._confidence is None \
                or self._grey is None:
            raise ValueError("no labels to carry: call start() with a computed mask first")
        grey = grey_frame(image)
        if grey.shape != self._grey.shape:
            raise ValueError(f"frame size changed from {self._grey.shape} to {grey.shape}")
        flow = self.motion.flow(grey, self._grey)
        if residual_level is None:
            carried = carry(self._scores, self._labels, self._confidence, flow)
        else:
            carried = carry(self._scores, self._labels, self._confidence, flow, self._grey, grey)
        self._scores, self._labels, self._confidence = (carried.scores, carried.labels,
                                                        carried.confidence)
        self._grey = grey
        return carried.labels.copy(), (None if residual_level is None
                                       else unexplained_map(carried, residual_level))

    def paste(self, labels: NDArray[np.uint8], fresh: NDArray[np.bool_]) -> None:
        """Write ``labels`` (H, W), computed at the pixels of ``fresh`` (H, W), into the
        state."""
        if self._scores is None or self._labels is None or self._confidence is None:
            raise ValueError("no labels to paste into: call start() first")
        np.copyto(self._labels, labels, where=fresh)
        self._confidence[fresh] = SCORE_ONE  # certain: their scores are one-hot
