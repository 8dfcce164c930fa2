"""Procedural scenes: determinism, ego motion, moving agents, rasterisation and occlusion."""

from __future__ import annotations

import numpy as np
import pytest

from ness_ros.data import kits
from ness_ros.data.agents import CROSS, LEAD, ONCOMING, PARKED, CarFleet, Crowd
from ness_ros.data.errors import DataError
from ness_ros.data.faces import MAX_VERTS, box_faces
from ness_ros.data.geometry import to_camera
from ness_ros.data.objects import M_PLAIN, GeometryBuilder, params, rect
from ness_ros.data.raster import fill_polygons
from ness_ros.data.road import MOVING_SPEED
from ness_ros.data.scene import Scene, SceneConfig
from ness_ros.labels import NUM_CLASSES

SMALL = SceneConfig(width=120, height=90, duration_s=2.0)


def test_render_is_deterministic_and_seed_dependent():
    a, b = Scene(5, SMALL), Scene(5, SMALL)
    rgb_a, lab_a = a.render(0.73)
    rgb_b, lab_b = b.render(0.73)
    np.testing.assert_array_equal(rgb_a, rgb_b)
    np.testing.assert_array_equal(lab_a, lab_b)
    np.testing.assert_array_equal(a.render(0.73)[0], rgb_a)  # no state carried between renders
    assert rgb_a.shape == (90, 120, 3) and rgb_a.dtype == np.float32
    assert lab_a.shape == (90, 120) and lab_a.dtype == np.uint8 and lab_a.max() < NUM_CLASSES
    assert np.isfinite(rgb_a).all() and 0.0 <= rgb_a.min() and rgb_a.max() < 2.0
    rgb_c, _ = Scene(6, SMALL).render(0.73)
    assert not np.array_equal(rgb_a, rgb_c)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_default_drive_moves_most_of_the_time_and_stops(seed):
    scene = Scene(seed)  # the default: 10 s at 346 x 260
    stamps = np.arange(1, 201) * 0.05
    speed = scene.ego_speed(stamps)
    assert np.mean(speed > MOVING_SPEED) >= 0.8
    assert speed.min() == 0.0 and speed.max() > 6.0
    assert len(scene.ego.stop_windows) == 1
    start, end = scene.ego.stop_windows[0]
    assert np.all(scene.ego_speed(np.linspace(start + 0.01, end - 0.01, 20)) == 0.0)


def test_road_turns_and_traffic_moves():
    headings = [np.ptp(Scene(s, SMALL).road.heading(np.linspace(0, 300, 50))) for s in range(6)]
    assert max(headings) > 0.2  # some drives have real bends
    scene = Scene(1)
    cars = scene.layout.cars
    assert {PARKED, LEAD, ONCOMING} & set(cars.kind.tolist())
    s0, s1 = cars.s_at(0.0, scene.ego), cars.s_at(2.0, scene.ego)
    moving = cars.kind != PARKED
    assert np.all(s0[cars.kind == PARKED] == s1[cars.kind == PARKED])
    assert np.all(np.abs(s1 - s0)[moving] > 1.0)
    assert np.all(s1[cars.kind == ONCOMING] < s0[cars.kind == ONCOMING])
    assert np.all(cars.reverse[cars.kind == ONCOMING]) and not cars.reverse[cars.kind == LEAD].any()
    crowd = scene.layout.crowd
    crossing = crowd.kind == CROSS
    assert crossing.any()
    d_start, d_end = crowd.state_at(-100.0)[1][crossing], crowd.state_at(100.0)[1][crossing]
    assert np.all(np.sign(d_start) != np.sign(d_end))  # they cross from one kerb to the other


def test_config_is_validated():
    with pytest.raises(DataError, match="image size"):
        SceneConfig(width=4, height=4)
    with pytest.raises(DataError, match="duration_s"):
        SceneConfig(duration_s=0)
    with pytest.raises(DataError, match="stops"):
        SceneConfig(stops=-1)


def test_fill_polygons_draws_far_to_near_and_keeps_thin_shapes():
    ids = np.zeros((2, 10, 12), np.uint16)
    # 0: big square on layer 0; 1: smaller square on top of it; 2: a 0.3 pixel wide sliver.
    u = np.array([0.5, 8.5, 8.5, 0.5, 2.5, 5.5, 5.5, 2.5, 10.1, 10.4, 10.4, 10.1])
    v = np.array([0.5, 0.5, 8.5, 8.5, 2.5, 2.5, 5.5, 5.5, 1.0, 1.0, 7.0, 7.0])
    start = np.array([0, 4, 8, 12], np.intp)
    layer = np.array([0, 0, 1], np.int8)
    fill_polygons(ids, np.array([0, 1, 2], np.intp), layer, u, v, start)
    assert ids[0, 1, 1] == 1 and ids[0, 4, 4] == 2 and ids[0, 9, 9] == 0
    assert np.all(ids[1, 1:7, 10] == 3)  # thinner than a pixel, still one pixel wide
    ids[:] = 0
    fill_polygons(ids, np.array([1, 0, 2], np.intp), layer, u, v, start)
    assert ids[0, 4, 4] == 1  # drawn in the other order, the big square covers the small


def test_box_faces_are_culled_and_clipped_at_the_near_plane():
    # A 10 m long box beside the camera, from 5 m behind to 5 m ahead: its inner side face
    # is seen (clipped at the near plane), its outer side and far end are not.
    geom = np.array([[3.0, 0.0, 0.0, 10.0, 2.0, 0.0, 3.0]])
    n_max = 5
    out = (np.empty((n_max, MAX_VERTS, 3)), np.empty(n_max, np.int64), np.empty((n_max, 12)),
           np.empty((n_max, 2)), np.empty(n_max, np.int64), np.empty(n_max, np.int64),
           np.empty(n_max), np.empty(n_max))
    cam = np.array([100.0, 50.0, 40.0, 101.0, 81.0, 1.4, 0.3, 300.0])
    n = box_faces(geom, np.ones(1), np.zeros(4), cam, np.array([0.0, 0.0, 1.0, 0.5, 0.5]),
                  *out)
    verts, count, plane, zr, _, face, shade, _ = out
    assert n == 1 and face[0] == 3  # the left face (normal -x) looks at the camera
    poly = verts[0, :count[0]]
    assert count[0] == 4 and poly[:, 2].min() == pytest.approx(0.3)
    assert zr[0, 0] == pytest.approx(0.3) and zr[0, 1] == pytest.approx(5.0)
    np.testing.assert_allclose(plane[0, 9:12], [-1.0, 0.0, 0.0], atol=1e-12)
    assert shade[0] == pytest.approx(0.5)  # ambient only: the sun is overhead


def test_occlusion_is_decided_per_pixel_by_depth_across_layers():
    """A wall 30 m ahead hides a pole 40 m ahead although sprites are drawn after buildings;
    a person 10 m ahead is in front of the wall; a car 20 m ahead hides the wall too."""
    scene = Scene(0, SceneConfig(width=160, height=120, duration_s=1.0))
    rng = np.random.default_rng(0)
    road, pose = scene.road, scene.ego.pose(0.0)
    heading = float(road.heading(pose.s))

    def world(ahead: float, lateral: float) -> tuple[float, float]:
        x, z = road.point(pose.s + ahead, scene.ego.d[0] + lateral)
        return float(x), float(z)

    b = GeometryBuilder()
    kits.add_building(b, rng, *world(30.0, 0.0), heading + np.pi / 2, 60.0, 1.0, 40.0, 1.0)
    far = b.add_sprite(*world(40.0, 0.0), radius=1.0)
    b.add_part(far, rect(-0.5, 0.5, 0.0, 30.0), cls=kits.OBJECT, mat=M_PLAIN,
               par=params((0.5, 0.5, 0.5), rng), order=0)
    near = b.add_sprite(*world(10.0, -1.0), radius=1.0)
    b.add_part(near, rect(-0.3, 0.3, 0.0, 1.8), cls=kits.HUMAN, mat=M_PLAIN,
               par=params((0.5, 0.5, 0.5), rng), order=0)
    lay = scene.layout
    lay.boxes, lay.sprites, lay.signals = b.boxes(), b.sprites(), []
    lay.box_s, lay.sprite_s = np.full(1, pose.s), np.full(2, pose.s)
    lay.cars = CarFleet.build(rng, [(PARKED, scene.ego.d[0] + 1.5, (pose.s + 20.0, 0, 1, 0),
                                     False)], 1.0)
    lay.crowd = Crowd.build(rng, [])
    _, label = scene.render(0.0)
    cam = scene.camera

    def pixel(ahead: float, lateral: float, height: float) -> int:
        x, z = world(ahead, lateral)
        p = to_camera(pose, cam, np.array(x), np.array(z), np.array(height))
        u, v = cam.cx + cam.f * p[0] / p[2], cam.cy + cam.f * p[1] / p[2]
        return int(label[int(round(v)), int(round(u))])

    assert pixel(40.0, 0.0, 6.0) == kits.BACKGROUND  # the far pole is hidden by the wall
    assert pixel(10.0, -1.0, 1.0) == kits.HUMAN  # the person stands in front of the wall
    assert pixel(20.0, 1.5, 1.0) == kits.VEHICLE  # the car in front of the wall
    assert pixel(30.0, -6.0, 10.0) == kits.BACKGROUND
