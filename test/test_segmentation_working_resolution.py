"""The working resolution: sizes chosen, events binned, frames resized and masks brought back by
one pixel rule, the same as the camera-info mapping's."""

from __future__ import annotations

import numpy as np
import pytest

from ness_ros.events.batch import EventBatch
from ness_ros.labels import IGNORE_LABEL
from ness_ros.segmentation.intrinsics import ImageMapping, map_intrinsics
from ness_ros.segmentation.working_resolution import Rescaler, WorkingResolution

MODEL = (346, 260)


@pytest.mark.parametrize(("sensor", "size", "expected"), [
    ((640, 480), "auto", (346, 260)),
    ((1280, 720), "auto", (346, 195)),
    ((346, 260), "auto", (346, 260)),
    ((240, 180), "auto", (240, 180)),       # never up
    ((1280, 720), "sensor", (1280, 720)),
    ((1280, 720), "640x360", (640, 360)),
    ((1280, 720), " 320 X 180 ", (320, 180)),
])
def test_working_size(sensor, size, expected):
    mapping = WorkingResolution(size).mapping(sensor, MODEL)
    assert mapping.size == expected and mapping.roi == (0, 0, *sensor)


def test_auto_fits_the_region_of_interest_not_the_sensor():
    working = WorkingResolution.from_params("auto", 0, 120, 1280, 480, "sensor")
    mapping = working.mapping((1280, 720), MODEL)
    assert mapping.roi == (0, 120, 1280, 480) and mapping.size == (346, 130)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"size": "big"}, "working_size"), ({"size": "0x10"}, "working_size"),
    ({"size": "10x"}, "working_size"), ({"roi": (-1, 0, 10, 10)}, "roi"),
    ({"roi": (0, 0, 0, 10)}, "roi"), ({"mask_at": "model"}, "mask_resolution"),
])
def test_bad_choices_are_refused_with_the_parameter_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorkingResolution(**kwargs)


def test_roi_offsets_without_a_size_and_a_roi_off_the_sensor_are_refused():
    with pytest.raises(ValueError, match="roi_width"):
        WorkingResolution.from_params("auto", 10, 0, 0, 0, "sensor")
    working = WorkingResolution.from_params("auto", 600, 0, 100, 100, "sensor")
    with pytest.raises(ValueError, match="inside"):
        working.mapping((640, 480), MODEL)


def random_batch(rng, width, height, n=20_000):
    t = np.sort(rng.integers(0, 50_000_000, n))
    return EventBatch.from_arrays(t, rng.integers(0, width, n), rng.integers(0, height, n),
                                  rng.integers(0, 2, n), width=width, height=height)


def test_two_to_one_binning_is_exact_and_keeps_times_and_polarity():
    rng = np.random.default_rng(0)
    batch = random_batch(rng, 640, 480)
    rescaler = WorkingResolution("320x240").rescaler((640, 480), MODEL)
    binned = rescaler.events(batch)
    assert (binned.width, binned.height) == (320, 240)
    np.testing.assert_array_equal(binned.x, batch.x // 2)
    np.testing.assert_array_equal(binned.y, batch.y // 2)
    np.testing.assert_array_equal(binned.t, batch.t)
    np.testing.assert_array_equal(binned.polarity, batch.polarity)


def test_events_outside_the_roi_are_dropped_and_the_rest_land_in_their_working_pixel():
    rng = np.random.default_rng(1)
    batch = random_batch(rng, 1280, 720)
    rescaler = WorkingResolution.from_params("auto", 100, 50, 1000, 600, "sensor").rescaler(
        (1280, 720), MODEL)
    binned = rescaler.events(batch)
    inside = ((batch.x >= 100) & (batch.x < 1100) & (batch.y >= 50) & (batch.y < 650))
    assert len(binned) == int(inside.sum()) and 0 < len(binned) < len(batch)
    # The continuous mapping of each event's pixel centre, rounded to the nearest working pixel.
    u, v = rescaler.mapping.to_output(batch.x[inside], batch.y[inside])
    np.testing.assert_array_equal(binned.x, np.floor(u + 0.5).astype(int))
    np.testing.assert_array_equal(binned.y, np.floor(v + 0.5).astype(int))
    assert binned.x.max() < rescaler.size[0] and binned.y.max() < rescaler.size[1]


def test_a_mask_at_the_sensor_resolution_takes_each_pixel_s_working_label():
    rescaler = WorkingResolution.from_params("auto", 40, 30, 600, 400, "sensor").rescaler(
        (640, 480), MODEL)
    working = np.random.default_rng(2).integers(0, 6, rescaler.size[::-1]).astype(np.uint8)
    mask = rescaler.mask(working)
    assert mask.shape == (480, 640)
    assert (mask[:30] == IGNORE_LABEL).all() and (mask[:, :40] == IGNORE_LABEL).all()
    assert (mask[430:] == IGNORE_LABEL).all() and (mask[:, 640:] == IGNORE_LABEL).all()
    ys, xs = np.mgrid[30:430, 40:640]
    u, v = rescaler.mapping.to_output(xs, ys)
    expected = working[np.floor(v + 0.5).astype(int), np.floor(u + 0.5).astype(int)]
    np.testing.assert_array_equal(mask[30:430, 40:640], expected)
    assert WorkingResolution(mask_at="working").rescaler((640, 480), MODEL).mask(
        working) is working


def test_frames_are_area_averaged_to_the_working_size():
    frame = np.random.default_rng(3).integers(0, 256, (480, 640, 3)).astype(np.uint8)
    small = WorkingResolution("320x240").rescaler((640, 480), MODEL).frame(frame)
    assert small.shape == (240, 320, 3)
    expected = frame.reshape(240, 2, 320, 2, 3).astype(float).mean(axis=(1, 3))
    assert np.abs(small - expected).max() <= 0.5 + 1e-9


def test_the_sensor_size_is_the_model_size_nothing_changes():
    rescaler = WorkingResolution().rescaler((346, 260), MODEL)
    batch = random_batch(np.random.default_rng(4), 346, 260)
    assert rescaler.is_identity and rescaler.events(batch) is batch
    assert rescaler.output_mapping.is_identity


def test_inputs_of_another_sensor_are_refused():
    rescaler = WorkingResolution().rescaler((640, 480), MODEL)
    with pytest.raises(ValueError, match="640 x 480"):
        rescaler.events(random_batch(np.random.default_rng(5), 1280, 720, 10))
    with pytest.raises(ValueError, match="640 x 480"):
        rescaler.frame(np.zeros((720, 1280, 3), np.uint8))


def test_a_point_projects_into_the_working_pixel_that_holds_its_sensor_pixel():
    """~/camera_info of a working-resolution mask: the mapped intrinsics put a 3-D point in
    the working pixel whose labels came from the sensor pixel the camera's intrinsics put it."""
    rng = np.random.default_rng(6)
    k = np.array([[900.0, 0.0, 641.3], [0.0, 905.0, 359.8], [0.0, 0.0, 1.0]])
    p = np.hstack([k, np.zeros((3, 1))])
    rescaler = WorkingResolution.from_params("auto", 64, 40, 1152, 640, "working").rescaler(
        (1280, 720), MODEL)
    k2, p2 = map_intrinsics(k, p, rescaler.output_mapping)
    points = np.column_stack([rng.uniform(-5, 5, 2000), rng.uniform(-3, 3, 2000),
                              rng.uniform(5, 50, 2000)])
    sensor = (k @ points.T).T
    us, vs = sensor[:, 0] / sensor[:, 2], sensor[:, 1] / sensor[:, 2]
    working = (p2 @ np.column_stack([points, np.ones(len(points))]).T).T
    uw, vw = working[:, 0] / working[:, 2], working[:, 1] / working[:, 2]
    # Sensor pixel (nearest centre), inside the roi and away from a bin's edge.
    x, y = np.floor(us + 0.5).astype(int), np.floor(vs + 0.5).astype(int)
    inside = (x >= 64) & (x < 64 + 1152) & (y >= 40) & (y < 40 + 640)
    binned = rescaler.events(EventBatch.from_arrays(
        np.zeros(inside.sum(), np.int64), x[inside], y[inside], np.zeros(inside.sum()),
        width=1280, height=720))
    # A sensor pixel spans sx working pixels: a point within sx / 2 of a working pixel's edge
    # may sit in a sensor pixel whose centre is across it.
    sx, sy = rescaler.mapping.scale

    def edge_distance(w):
        frac = (w + 0.5) % 1
        return np.minimum(frac, 1 - frac)

    near_edge = (edge_distance(uw[inside]) < sx / 2) | (edge_distance(vw[inside]) < sy / 2)
    got_u, got_v = np.floor(uw[inside] + 0.5).astype(int), np.floor(vw[inside] + 0.5).astype(int)
    agree = (got_u == binned.x) & (got_v == binned.y)
    assert inside.sum() > 500 and (~near_edge).sum() > 500 and agree[~near_edge].all()
    np.testing.assert_allclose(k2[0, 0], 900.0 * rescaler.size[0] / 1152)


def test_rescaler_refuses_an_unknown_mask_resolution():
    with pytest.raises(ValueError, match="mask_at"):
        Rescaler(ImageMapping((640, 480)), "model")


def test_binned_counts_weigh_as_the_mean_count_of_the_sensor_pixels_they_cover():
    """The model's event tensor of binned events, with the rescaler's encoder, is the 2 x 2
    mean of the sensor's tensor (below the clip), and the clip acts on that mean."""
    from ness_ros.segmentation.inputs import InputEncoder

    rng = np.random.default_rng(7)
    batch = random_batch(rng, 64, 48, 30_000)
    base = InputEncoder(num_steps=2, event_window_ns=50_000_000, event_clip=None,
                        event_scale=0.5)
    rescaler = WorkingResolution("32x24").rescaler((64, 48), MODEL)
    assert rescaler.event_density == 0.25
    binned = rescaler.encoder(base).event_tensor(rescaler.events(batch), 50_000_000)
    sensor = base.event_tensor(batch, 50_000_000)
    np.testing.assert_allclose(binned, sensor.reshape(2, 2, 24, 2, 32, 2).mean(axis=(3, 5)),
                               rtol=1e-6)
    clipped = InputEncoder(2, 50_000_000, event_clip=3.0, event_scale=0.5)
    assert rescaler.encoder(clipped).event_clip == 12.0  # 3 events per sensor pixel
    assert WorkingResolution().rescaler((346, 260), MODEL).encoder(clipped) is clipped


@pytest.mark.parametrize(("sensor", "expected"), [((640, 480), (277, 208)),
                                                  ((1280, 720), (320, 180)),
                                                  ((200, 150), (200, 150))])
def test_auto_keeps_under_a_pixel_cap_with_the_aspect(sensor, expected):
    mapping = WorkingResolution(max_pixels=57_600).mapping(sensor, MODEL)
    assert mapping.size == expected and expected[0] * expected[1] <= 57_600 + 300
    with pytest.raises(ValueError, match="working_max_pixels"):
        WorkingResolution(max_pixels=-1)


@pytest.mark.parametrize("sensor", [(640, 480), (1280, 720), (1000, 300)])
def test_frames_are_sampled_at_the_working_pixels_centres(sensor):
    """A ramp survives block averaging and bilinear sampling unchanged (both are exact on
    linear images): every working pixel holds the ramp's value at its centre's position in the
    sensor image, as the mapping of the masks and the camera info puts it. Float images, so that
    no rounding hides a shift (OpenCV samples at 1/32 pixel: 0.1 grey level at most here)."""
    width, height = sensor
    ramp_x = np.linspace(0.0, 250.0, width)
    ramp_y = np.linspace(0.0, 250.0, height)
    rescaler = WorkingResolution().rescaler(sensor, MODEL)
    images = ((np.tile(ramp_x, (height, 1)), 1), (np.tile(ramp_y[:, None], (1, width)), 0))
    for image, axis in images:
        small = rescaler.frame(image.astype(np.float32)).astype(float)
        along = 0 if axis == 1 else 1  # (width, height) index of the ramp's direction
        u = np.arange(rescaler.size[along])
        scale = rescaler.mapping.scale[along]
        source = (u + 0.5) / scale - 0.5  # the working pixel centre in sensor pixels
        expected = source * 250.0 / ((width if axis == 1 else height) - 1)
        got = small[small.shape[0] // 2] if axis == 1 else small[:, small.shape[1] // 2]
        inner = slice(2, -2)  # the borders replicate the last pixels
        np.testing.assert_allclose(got[inner], expected[inner], atol=0.1)
