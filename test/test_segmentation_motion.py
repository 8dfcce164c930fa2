"""Labels that follow the motion: flow, warped labels, uncovered pixels, the residual gate and
the windows that recompute clusters of regions (``reuse: warped``)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from helpers.tiny_models import TINY_ENCODER, tiny_segsnn
from ness_ros.events.batch import EventBatch
from ness_ros.events.representations import region_bounds
from ness_ros.models.segsnn import SegSNN
from ness_ros.segmentation.crops import cluster_windows, covered_regions, padded_size
from ness_ros.segmentation.gating import RegionGate
from ness_ros.segmentation.gating_config import FLOW_PRESET_NAMES, PUBLISHED_RULE, GatingConfig
from ness_ros.segmentation.hybrid import HybridSegmenter
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.motion import (
    FLOW_PRESETS,
    SCORE_ONE,
    FlowPreset,
    FrameMotion,
    WarpedLabels,
    carry,
    grey_frame,
)

H, W = 120, 160
MS = 1_000_000


def texture(height: int, width: int, seed: int = 0, blur: float = 1.5) -> np.ndarray:
    """A grey texture with detail at every scale DIS looks at (uint8)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(128, 60, (height, width)).astype(np.float32)
    coarse = cv2.resize(rng.normal(0, 40, (height // 8, width // 8)).astype(np.float32),
                        (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), blur) + coarse, 0, 255).astype(np.uint8)


def scene_labels(height: int, width: int) -> np.ndarray:
    """Class ids of a scene larger than the view: bands of classes 0-2 and a disc of class 4."""
    ys, xs = np.mgrid[0:height, 0:width]
    labels = ((xs // 37 + ys // 29) % 3).astype(np.uint8)
    labels[(xs - width / 2) ** 2 + (ys - height / 2) ** 2 < 25 ** 2] = 4
    return labels


def interior(a: np.ndarray, border: int) -> np.ndarray:
    return a[border:-border, border:-border]


def test_a_translated_mask_lands_where_the_motion_puts_it():
    scene, labels = texture(H + 40, W + 40), scene_labels(H + 40, W + 40)
    warped = WarpedLabels(num_classes=6)
    # The camera pans right and down by (4, 3) pixels a frame: the scene moves left and up.
    view = [(20 + 4 * k, 20 + 3 * k) for k in range(4)]
    warped.start(labels[20:20 + H, 20:20 + W], scene[20:20 + H, 20:20 + W])
    for x, y in view[1:]:
        mask, unexplained = warped.advance(scene[y:y + H, x:x + W], residual_level=16)
        truth = labels[y:y + H, x:x + W]
        assert np.mean(interior(mask == truth, 8)) > 0.99
        # Kept in place instead, a tenth of the labels or more would be wrong.
        assert np.mean(interior(labels[20:20 + H, 20:20 + W] == truth, 8)) < 0.9 or x == 24
        # New content entered at the right and bottom edges: unexplained, never guessed quietly.
        assert (unexplained[:, -3:] == 1.0).all() and (unexplained[-2:, :] == 1.0).all()
        # Inside, the motion explains almost everything.
        assert np.mean(interior(unexplained, 8) > 0) < 0.05


def test_pixels_whose_source_left_the_frame_are_flagged():
    scene = texture(H, W + 20)
    previous, current = scene[:, 10:10 + W], scene[:, 16:16 + W]  # the scene moves 6 px left
    flow = FrameMotion().flow(current, previous)
    labels = np.zeros((H, W), np.uint8)
    scores = np.zeros((H, W, 2), np.uint8)  # unread: every label is certain
    carried = carry(scores, labels, np.full((H, W), SCORE_ONE, np.uint8), flow,
                    np.ascontiguousarray(previous), np.ascontiguousarray(current))
    assert carried.outside[:, -5:].all()
    assert not carried.outside[:, :-8].any()
    # Where the source was inside, the previous frame moved by the flow is the current one.
    assert np.median(carried.residual[:, :-8]) <= 2


def test_a_zoom_as_under_forward_driving_moves_labels_outwards():
    scene, labels = texture(H, W, seed=3, blur=1.0), scene_labels(H, W)

    def zoomed(image: np.ndarray, factor: float, nearest: bool) -> np.ndarray:
        matrix = cv2.getRotationMatrix2D((W / 2 - 0.5, H / 2 - 0.5), 0.0, factor)
        flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return cv2.warpAffine(image, matrix, (W, H), flags=flags, borderMode=cv2.BORDER_REFLECT)

    warped = WarpedLabels(num_classes=6)
    warped.start(labels, scene)
    for k in (1, 2, 3):
        factor = 1.04 ** k
        mask, _ = warped.advance(zoomed(scene, factor, nearest=False), residual_level=16)
        truth = zoomed(labels, factor, nearest=True)
        agree = np.mean(interior(mask == truth, 10))
        assert agree > 0.97, (k, agree)
        assert np.mean(interior(labels == truth, 10)) < agree - 0.05


def test_motion_under_a_pixel_a_frame_still_moves_the_labels():
    # A vertical edge between classes 0 and 1 moving 0.4 px a frame: bilinear scores carry the
    # fractions over, so after 5 frames the edge is 2 px further (a nearest-label warp would
    # round every step to zero and leave it in place).
    labels = np.zeros((H, W), np.uint8)
    labels[:, 80:] = 1
    scores = np.empty((H, W, 2), np.uint8)  # unread: every label is certain
    confidence = np.full((H, W), SCORE_ONE, np.uint8)
    flow = np.zeros((H, W, 2), np.float32)
    flow[:, :, 0] = -0.4  # each pixel came from 0.4 px to its left
    grey = np.zeros((H, W), np.uint8)
    for _ in range(5):
        carried = carry(scores, labels, confidence, flow, grey, grey)
        scores, labels, confidence = carried.scores, carried.labels, carried.confidence
    row = labels[H // 2]
    assert (row[:81] == 0).all() and (row[83:] == 1).all()


def reference_carry(scores, labels, confidence, flow):
    """What :func:`carry` computes, written plainly: every pixel's four sources blended in
    8-bit fixed point, a certain source one-hot in its label."""
    height, width, channels = scores.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)  # sources in float32, as carry's
    sx = np.clip(xs + flow[:, :, 0], 0, width - 1).astype(np.float64)
    sy = np.clip(ys + flow[:, :, 1], 0, height - 1).astype(np.float64)
    x0, y0 = sx.astype(np.int64), sy.astype(np.int64)
    wx = ((sx - x0) * 256 + 0.5).astype(np.int64)
    wy = ((sy - y0) * 256 + 0.5).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    one_hot = (labels[:, :, None] == np.arange(channels)) * SCORE_ONE
    full = np.where((confidence == SCORE_ONE)[:, :, None], one_hot, scores).astype(np.int64)
    blend = ((256 - wx) * (256 - wy))[:, :, None] * full[y0, x0] \
        + (wx * (256 - wy))[:, :, None] * full[y0, x1] \
        + ((256 - wx) * wy)[:, :, None] * full[y1, x0] + (wx * wy)[:, :, None] * full[y1, x1]
    blend = (blend + 32768) >> 16
    best, top = blend.argmax(axis=2), blend.max(axis=2)
    # Four certain sources of one label keep it, even one outside the classes (unlabelled).
    corners = [(y0, x0), (y0, x1), (y1, x0), (y1, x1)]
    one = np.logical_and.reduce([(confidence[c] == SCORE_ONE) & (labels[c] == labels[y0, x0])
                                 for c in corners])
    return blend, np.where(one, labels[y0, x0], best), np.where(one, SCORE_ONE, top)


def test_carry_blends_the_four_sources_of_every_pixel():
    # Labels in blobs, a few pixels uncertain with scores of their own (and a label outside
    # the classes, 255 as unlabelled ground truth, which scores nothing in a blend but stays
    # itself where all four sources hold it), moved by a smooth flow with sub-pixel parts.
    rng = np.random.default_rng(4)
    classes = 5
    labels = cv2.resize(rng.integers(0, classes, (12, 16)).astype(np.uint8), (W, H),
                        interpolation=cv2.INTER_NEAREST)
    labels[10:14, 20:30] = 255
    scores = rng.integers(0, 200, (H, W, classes)).astype(np.uint8)
    confidence = np.full((H, W), SCORE_ONE, np.uint8)
    uncertain = rng.random((H, W)) < 0.05
    confidence[uncertain] = scores[uncertain].max(axis=1)
    labels[uncertain] = scores[uncertain].argmax(axis=1)
    flow = np.dstack([cv2.resize(rng.normal(0, 3, (4, 5)).astype(np.float32), (W, H))
                      for _ in range(2)])
    grey = texture(H, W)
    carried = carry(scores, labels, confidence, flow, grey, grey)
    blend, best, top = reference_carry(scores, labels, confidence, flow)
    np.testing.assert_array_equal(carried.confidence, top)
    np.testing.assert_array_equal(carried.labels, best)
    blended = carried.confidence < SCORE_ONE
    assert blended.mean() > 0.05  # the blending path ran, not only the certain one
    assert (carried.labels == 255).sum() > 10
    np.testing.assert_array_equal(carried.scores[blended], blend[blended])


def moving_object_frames(object_shift: int, ego_shift: int, frames: int = 3):
    """Frames of a textured background panning by ``ego_shift`` px a frame, with a textured
    square (class 4) that moves ``object_shift`` px a frame against it; and the labels."""
    background = texture(H, W + 40, seed=5)
    patch = texture(32, 32, seed=9, blur=0.8)
    images, masks = [], []
    for k in range(frames):
        x = 20 + ego_shift * k
        image = background[:, x:x + W].copy()
        mask = np.zeros((H, W), np.uint8)
        ox, oy = 30 + object_shift * k, 44
        image[oy:oy + 32, ox:ox + 32] = patch
        mask[oy:oy + 32, ox:ox + 32] = 4
        images.append(image)
        masks.append(mask)
    return images, masks


def test_residual_gate_recomputes_an_object_moving_against_the_background_only():
    images, masks = moving_object_frames(object_shift=7, ego_shift=3)
    config = replace(PUBLISHED_RULE, reuse="warped", residual_theta=0.08, rows=3, cols=4, margin=8)
    gate, warped = RegionGate(config), WarpedLabels(num_classes=6)
    empty = EventBatch.empty(W, H)
    assert gate.plan(0, empty) is None  # the first frame is a keyframe
    warped.start(masks[0], images[0])
    _, unexplained = warped.advance(images[1], config.residual_level)
    changed = gate.plan(50 * MS, empty, unexplained)
    assert changed is not None
    rows, cols = region_bounds(H, W, 3, 4)
    # The square spans x 30-69 over frames 0-1 and y 44-75: regions (1, 0) and (1, 1).
    assert changed[1, 0] or changed[1, 1]
    # Regions the square never touched moved only with the ego-motion: kept.
    assert not changed[0, 3] and not changed[2, 3] and not changed[0, 2]


def test_ego_motion_alone_recomputes_nothing():
    images, masks = moving_object_frames(object_shift=0, ego_shift=3)
    # The square rides with the background: everything moves with the ego-motion.
    images = [texture(H, W + 40, seed=5)[:, 20 + 3 * k:20 + 3 * k + W] for k in range(3)]
    config = replace(PUBLISHED_RULE, reuse="warped", residual_theta=0.08, rows=3, cols=4)
    gate, warped = RegionGate(config), WarpedLabels(num_classes=6)
    empty = EventBatch.empty(W, H)
    gate.plan(0, empty)
    warped.start(np.zeros((H, W), np.uint8), images[0])
    for k in (1, 2):
        _, unexplained = warped.advance(images[k], config.residual_level)
        changed = gate.plan(k * 50 * MS, empty, unexplained)
        # Only the right-hand column sees new content entering (3 px of 40 a frame).
        assert changed is not None and not changed[:, :3].any()


def test_static_reuse_is_the_published_event_count_rule():
    # PUBLISHED_RULE is static reuse, and a map of unexplained pixels changes none of its
    # decisions.
    assert PUBLISHED_RULE.reuse == "static"
    rng = np.random.default_rng(0)
    n = 20_000
    events = EventBatch.from_arrays(np.sort(rng.integers(0, 50 * MS, n)), rng.integers(0, W, n),
                                    rng.integers(0, 60, n), rng.integers(0, 2, n),
                                    width=W, height=H)
    config = replace(PUBLISHED_RULE, theta=1.0, rows=2, cols=2, accumulate=False)
    with_map, without = RegionGate(config), RegionGate(config)
    for gate in (with_map, without):
        gate.plan(0, EventBatch.empty(W, H))
    a = with_map.plan(50 * MS, events, np.ones((H, W), np.float32))
    b = without.plan(50 * MS, events)
    np.testing.assert_array_equal(a, b)
    # Rows 0-59 got 20000 events over 80 x 60 pixels per top region: about 2 per pixel.
    np.testing.assert_array_equal(a, [[True, True], [False, False]])


def test_warped_reuse_needs_the_map_of_unexplained_pixels():
    gate = RegionGate(replace(PUBLISHED_RULE, reuse="warped"))
    gate.plan(0, EventBatch.empty(W, H))
    with pytest.raises(ValueError, match="unexplained"):
        gate.plan(50 * MS, EventBatch.empty(W, H))


def test_a_keyframe_schedule_without_the_gate_skips_the_residual(model):
    # residual_theta inf: no region can pass, so nothing reads what the motion leaves
    # unexplained; the labels are carried exactly as with the gate's inputs computed.
    scene, labels = texture(H + 40, W + 40), scene_labels(H + 40, W + 40)
    views = [scene[20 + 2 * k:20 + 2 * k + H, 20 + 3 * k:20 + 3 * k + W] for k in range(4)]
    with_map, without = WarpedLabels(num_classes=6), WarpedLabels(num_classes=6)
    for warped in (with_map, without):
        warped.start(labels[20:20 + H, 20:20 + W], views[0])
    for view in views[1:]:
        mask, unexplained = with_map.advance(view, residual_level=16)
        bare, none = without.advance(view, residual_level=None)
        np.testing.assert_array_equal(bare, mask)
        assert unexplained is not None and none is None
    schedule = GatingConfig(residual_theta=float("inf"), keyframe_interval=3,
                            keyframe_max_age_s=0.0)
    assert not schedule.reads_residual and GatingConfig().reads_residual
    gate = RegionGate(schedule)
    plans = [gate.plan(k * 50 * MS, EventBatch.empty(W, H)) for k in range(7)]
    assert [p is None for p in plans] == [True, False, False, True, False, False, True]
    assert not any(p.any() for p in plans if p is not None)
    segmenter = HybridSegmenter(model, TINY_ENCODER, schedule)
    results = [segmenter.segment(rgb(view), k * 50 * MS, EventBatch.empty(W, H))
               for k, view in enumerate(views)]
    assert [r.keyframe for r in results] == [True, False, False, True]


@pytest.mark.parametrize("bad", [{"reuse": "dynamic"}, {"residual_theta": -0.1},
                                 {"residual_theta": float("nan")}, {"residual_level": 256},
                                 {"flow_preset": "slow"}])
def test_invalid_warped_settings_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        GatingConfig(**bad).validate()


def test_touching_changed_regions_share_one_window_and_distant_ones_do_not():
    changed = np.zeros((8, 12), bool)
    changed[1, 1] = changed[1, 2] = changed[2, 2] = True  # one cluster
    changed[6, 10] = True  # far away
    windows, window_of = cluster_windows(changed, 346, 260, margin=16, stride=16, size_step=32)
    assert len(windows) == 2
    assert window_of[1, 1] == window_of[1, 2] == window_of[2, 2] != window_of[6, 10]
    assert (window_of[~changed] == -1).all()
    rows, cols = region_bounds(260, 346, 8, 12)
    for (r, c) in zip(*np.nonzero(changed), strict=True):
        x0, y0, x1, y1 = windows[window_of[r, c]]
        # The region plus its margin (where the frame has room) lies inside its window.
        assert x0 <= max(cols[c] - 16, 0) and y0 <= max(rows[r] - 16, 0)
        assert x1 >= min(cols[c + 1] + 16, 346) and y1 >= min(rows[r + 1] + 16, 260)
        assert x0 % 16 == 0 and y0 % 16 == 0 and (x1 - x0) % 32 == 0 or x1 == padded_size(346, 16)
    # Both windows together cost far less than the frame.
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in windows) < 0.35 * 352 * 272


def test_changes_spread_over_the_frame_merge_into_one_window():
    changed = np.zeros((8, 12), bool)
    changed[::2, ::2] = True
    windows, window_of = cluster_windows(changed, 346, 260, margin=16, stride=16)
    assert len(windows) == 1 and windows[0] == (0, 0, 352, 272)
    assert (window_of[changed] == 0).all()


def test_regions_inside_a_window_interior_count_as_covered():
    covered = covered_regions([(0, 0, 160, 128)], 346, 260, rows=8, cols=12, margin=32)
    rows, cols = region_bounds(260, 346, 8, 12)
    # At the frame's top-left corner no margin is needed; at the window's inner sides it is.
    expected = ((rows[1:] <= 128 - 32)[:, None]) & ((cols[1:] <= 160 - 32)[None, :])
    np.testing.assert_array_equal(covered, expected)


@pytest.fixture(scope="module")
def model() -> SegSNN:
    return tiny_segsnn()


def encoder() -> InputEncoder:
    return TINY_ENCODER


def rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[:, :, None], 3, axis=2)


EMPTY = EventBatch.empty(W, H)


def panning(model: SegSNN, gating, extra_columns: int) -> tuple[HybridSegmenter, np.ndarray]:
    """A segmenter of ``gating`` that segmented the first frame (at 50 ms) of a pan over a
    texture ``extra_columns`` wider than the frame; returns it and the texture."""
    seg = HybridSegmenter(model, encoder(), gating)
    scene = texture(H, W + extra_columns)
    seg.segment(rgb(scene[:, :W]), 50 * MS, EMPTY)
    return seg, scene


def test_hybrid_segmenter_recomputes_only_windows_around_the_moving_object(model):
    images, _ = moving_object_frames(object_shift=7, ego_shift=3, frames=3)
    gating = replace(PUBLISHED_RULE, reuse="warped", residual_theta=0.08, rows=3, cols=4, margin=16,
                          max_changed_fraction=1.0, max_window_fraction=1.0)
    seg = HybridSegmenter(model, encoder(), gating)
    empty = EventBatch.empty(W, H)
    first = seg.segment(rgb(images[0]), 50 * MS, empty)
    assert first.keyframe and seg._warped is not None and seg._warped.motion._flow is None
    shapes = []
    hook = seg.model.register_forward_hook(lambda m, args, out: shapes.append(args[0].shape))
    try:
        second = seg.segment(rgb(images[1]), 100 * MS, empty)
    finally:
        hook.remove()
    assert not second.keyframe and 0 < second.regions_recomputed < 12
    assert seg._warped.motion._flow is not None and second.stage_ms["motion"] > 0.0
    # The model ran on windows smaller than the frame, and what it computed is what is counted.
    assert shapes and all(s[-2] * s[-1] < padded_size(H, 16) * padded_size(W, 16)
                          for s in shapes)
    assert second.pixels_computed == sum(s[0] * s[-2] * s[-1] for s in shapes)


def test_windows_costing_about_a_full_pass_become_a_keyframe(model):
    seg, scene = panning(model, replace(PUBLISHED_RULE, reuse="warped", residual_theta=0.0,
                                        rows=3, cols=4, max_changed_fraction=1.0), 20)
    result = seg.segment(rgb(scene[:, 2:W + 2]), 100 * MS, EMPTY)
    # theta 0: every region changed; one full pass instead of windows over the whole frame.
    assert result.keyframe and result.regions_recomputed == 12


def test_switching_the_rule_of_reuse_starts_from_a_keyframe(model):
    seg, scene = panning(model, replace(PUBLISHED_RULE, reuse="static", theta=1e9), 20)
    assert not seg.segment(rgb(scene[:, 1:W + 1]), 100 * MS, EMPTY).keyframe
    seg.configure(replace(PUBLISHED_RULE, reuse="warped", residual_theta=1e9))
    assert seg.segment(rgb(scene[:, 2:W + 2]), 150 * MS, EMPTY).keyframe
    following = seg.segment(rgb(scene[:, 3:W + 3]), 200 * MS, EMPTY)
    assert not following.keyframe and following.pixels_computed == 0


def test_grey_frames_of_rgb_and_mono_agree():
    image = rgb(texture(H, W))
    np.testing.assert_array_equal(grey_frame(image), image[:, :, 0])
    np.testing.assert_array_equal(grey_frame(image[:, :, 0]), image[:, :, 0])
    with pytest.raises(ValueError, match="frame must be"):
        grey_frame(np.zeros((4, 4, 2), np.uint8))


def test_flow_survives_frames_changing_size():
    # DIS that refined an initial flow at one size crashed on frames of another size: the
    # estimator starts over whenever the size changes (as a camera's resolution may).
    motion = FrameMotion()
    rng = np.random.default_rng(0)
    for width, height in [(96, 64)] * 3 + [(48, 32)] * 3 + [(96, 64)] * 2:
        a, b = (rng.integers(0, 256, (height, width), dtype=np.uint8) for _ in range(2))
        assert motion.flow(a, b).shape == (height, width, 2)


@pytest.mark.parametrize("preset", FLOW_PRESET_NAMES)
def test_every_flow_preset_tracks_a_translation(preset):
    # Each named preset builds DIS with its settings (fine: small patches on ultrafast's
    # pyramid) and finds a pan of (3, 2) pixels inside the frame.
    motion = FrameMotion(preset)
    settings = FLOW_PRESETS[preset]
    dis = motion._dis
    for value, wanted in ((dis.getPatchSize(), settings.patch_size),
                          (dis.getPatchStride(), settings.patch_stride),
                          (dis.getGradientDescentIterations(), settings.descent_iterations)):
        assert wanted is None or value == wanted
    scene = texture(H + 10, W + 10, seed=5)
    flow = motion.flow(scene[2:2 + H, 3:3 + W], scene[:H, :W])
    np.testing.assert_allclose(np.median(interior(flow, 12).reshape(-1, 2), axis=0),
                               [3.0, 2.0], atol=0.25)


def test_the_default_flow_preset_is_the_nodes():
    assert set(FLOW_PRESETS) == set(FLOW_PRESET_NAMES)
    assert FrameMotion().preset == WarpedLabels(6).motion.preset == GatingConfig().flow_preset \
        == "fine"
    assert FLOW_PRESETS["fine"] == FlowPreset(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, 6, None, 6)


def test_regions_expected_to_pass_at_their_last_rate():
    gate = RegionGate(replace(PUBLISHED_RULE, reuse="warped", residual_theta=0.7, rows=2, cols=2))
    empty = EventBatch.empty(W, H)
    gate.plan(0, empty)
    assert gate.expected_changes() is None  # no rate yet
    unexplained = np.zeros((H, W), np.float32)
    unexplained[:, : W // 2] = 0.4  # the left half changes at 0.4 a frame
    assert not gate.plan(50 * MS, empty, unexplained).any()
    np.testing.assert_array_equal(gate.expected_changes(), [[True, False], [True, False]])
    gate.force_keyframe()
    assert gate.plan(100 * MS, empty) is None
    # Right after a keyframe nothing is expected until a carried frame measures the rate
    # again: a kept rate would predict keyframes for ever.
    assert gate.expected_changes() is None


def test_a_frame_expected_to_need_a_full_pass_skips_the_motion_estimate(model):
    seg, scene = panning(model, replace(PUBLISHED_RULE, reuse="warped", residual_theta=0.25,
                                        rows=3, cols=4, max_changed_fraction=0.5), 40)
    # A pan with fresh content entering at the right (6 of each right-hand region's 40
    # columns a frame): those regions will pass the threshold at the next frame, and windows
    # around them would cost more than a full pass's max_window_fraction.
    second = seg.segment(rgb(scene[:, 6:W + 6]), 100 * MS, EMPTY)
    flow = seg._warped.motion._flow
    assert not second.keyframe and seg._full_pass_expected(W, H)
    third = seg.segment(rgb(scene[:, 12:W + 12]), 150 * MS, EMPTY)
    # The full pass came without a flow estimate for it.
    assert third.keyframe and seg._warped.motion._flow is flow
