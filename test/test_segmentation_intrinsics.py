"""Intrinsics of a cropped and resized image: a 3-D point projected with them lands on the output
pixel that holds the input pixel it lands on with the sensor's intrinsics."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ness_ros.segmentation.intrinsics import ImageMapping, map_intrinsics

# A 640 x 480 sensor: K, plumb_bob distortion, and P of a stereo right camera (Tx != 0).
K = np.array([[520.0, 0.4, 321.7], [0.0, 515.0, 242.3], [0.0, 0.0, 1.0]])
D = np.array([-0.28, 0.09, 0.001, -0.002, 0.0])
P = np.array([[500.0, 0.0, 318.2, -60.0], [0.0, 500.0, 240.9, 0.0], [0.0, 0.0, 1.0, 0.0]])


def points(n: int = 5000, seed: int = 0) -> np.ndarray:
    """``n`` 3-D points in front of the camera, (n, 3) float64, metres."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(1.0, 30.0, n)
    return np.stack([rng.uniform(-0.6, 0.6, n) * z, rng.uniform(-0.45, 0.45, n) * z, z], 1)


def project(k: np.ndarray, d: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """Raw (distorted) pixel coordinates, (n, 2)."""
    uv, _ = cv2.projectPoints(xyz, np.zeros(3), np.zeros(3), k, d)
    return uv.reshape(-1, 2)


def project_p(p: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """Rectified pixel coordinates with a projection matrix, (n, 2)."""
    h = np.c_[xyz, np.ones(len(xyz))] @ p.T
    return h[:, :2] / h[:, 2:]


def pixel(uv: np.ndarray) -> np.ndarray:
    """The pixel a coordinate falls in (pixel centres on integer coordinates)."""
    return np.floor(uv + 0.5).astype(np.int64)


def test_binned_crop_puts_each_point_on_the_mask_pixel_of_its_sensor_pixel():
    """Crop (100, 40, 320, 240), then bin 2 x 2 to 160 x 120: mask pixel (i, j) holds sensor
    pixels (100 + 2i .. 101 + 2i, 40 + 2j .. 41 + 2j). Every point inside the crop projects,
    with the mapped K and the same D, onto the mask pixel of its sensor pixel."""
    mapping = ImageMapping((640, 480), roi=(100, 40, 320, 240), size=(160, 120))
    assert mapping.scale == (0.5, 0.5)
    k2, p2 = map_intrinsics(K.reshape(-1), P.reshape(-1), mapping)
    xyz = points()
    sensor = pixel(project(K, D, xyz))
    inside = (sensor[:, 0] >= 100) & (sensor[:, 0] < 420) & (sensor[:, 1] >= 40) & \
        (sensor[:, 1] < 280)
    assert inside.sum() > 1000
    expected = (sensor[inside] - (100, 40)) // 2
    np.testing.assert_array_equal(pixel(project(k2, D, xyz[inside])), expected)
    rect = pixel(project_p(P, xyz))
    keep = (rect[:, 0] >= 100) & (rect[:, 0] < 420) & (rect[:, 1] >= 40) & (rect[:, 1] < 280)
    np.testing.assert_array_equal(pixel(project_p(p2, xyz[keep])), (rect[keep] - (100, 40)) // 2)


def test_principal_point_scaled_as_image_pipeline_would_misplaces_many_points():
    """The reason for the pixel-centre alignment: ``cx * sx`` (image_pipeline's resize) puts
    many points (a quarter per axis) in the neighbouring mask pixel under a 2 x 2 binning."""
    mapping = ImageMapping((640, 480), size=(320, 240))
    naive = K * [[0.5], [0.5], [1.0]]
    xyz = points()
    expected = pixel(project(K, D, xyz)) // 2
    assert (pixel(project(naive, D, xyz)) != expected).any(axis=1).mean() > 0.3
    k2, _ = map_intrinsics(K, P, mapping)
    np.testing.assert_array_equal(pixel(project(k2, D, xyz)), expected)


def test_any_scale_and_crop_moves_projections_as_the_mapping_moves_pixels():
    """1280 x 720 cropped to (64, 8, 1152, 704), resized to 344 x 210 (sx != sy, not integer):
    projections with the mapped K and P are the sensor's projections mapped, to 1e-9 pixel."""
    k = K * [[2.0], [1.5], [1.0]]
    p = P * [[2.0], [1.5], [1.0]]
    mapping = ImageMapping((1280, 720), roi=(64, 8, 1152, 704), size=(344, 210))
    k2, p2 = map_intrinsics(k, p, mapping)
    xyz = points(500, seed=1)
    for got, sensor in ((project(k2, D, xyz), project(k, D, xyz)),
                        (project_p(p2, xyz), project_p(p, xyz))):
        u, v = mapping.to_output(sensor[:, 0], sensor[:, 1])
        np.testing.assert_allclose(got, np.c_[u, v], atol=1e-9)
    # Focal lengths and the stereo baseline term scale like resize's; the last rows stay.
    sx, sy = mapping.scale
    assert k2[0, 0] == pytest.approx(k[0, 0] * sx) and k2[1, 1] == pytest.approx(k[1, 1] * sy)
    assert p2[0, 3] == pytest.approx(p[0, 3] * sx)
    np.testing.assert_array_equal(k2[2], k[2])
    np.testing.assert_array_equal(p2[2], p[2])


def test_identity_mapping_leaves_k_and_p_as_they_are():
    mapping = ImageMapping((640, 480))
    assert mapping.is_identity and mapping.roi == (0, 0, 640, 480)
    k2, p2 = map_intrinsics(K, P, mapping)
    np.testing.assert_allclose(k2, K, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p2, P, rtol=0, atol=1e-12)
    assert not ImageMapping((640, 480), roi=(0, 0, 640, 240)).is_identity
    assert not ImageMapping((640, 480), size=(320, 240)).is_identity


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"input_size": (0, 480)}, "input size must be positive"),
    ({"input_size": (640, 480), "roi": (600, 0, 100, 480)}, r"roi .* inside the 640 x 480"),
    ({"input_size": (640, 480), "roi": (-1, 0, 10, 10)}, "roi"),
    ({"input_size": (640, 480), "roi": (0, 0, 0, 10)}, "non-empty"),
    ({"input_size": (640, 480), "size": (320, 0)}, "output size must be positive"),
])
def test_bad_mappings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImageMapping(**kwargs)


def test_matrices_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match="K needs 9 values and P 12, got 9 and 9"):
        map_intrinsics(K, K, ImageMapping((640, 480)))
