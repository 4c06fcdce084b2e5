"""course_utils.roi: RoIAlign equals explicit bilinear sampling; RoI pooling rounds."""

import numpy as np

from course_utils import roi


def test_roi_align_equals_explicit_bilinear_sampling():
    """crop_and_resize samples where the explicit bilinear formula says."""
    feature_map = np.random.default_rng(0).random((8, 8))
    box = (1.3, 2.1, 6.4, 5.9)
    xs, ys = roi.roi_align_points(box, 2, 2)
    samples = np.array([[roi.bilinear_sample(feature_map, x, y) for x in xs] for y in ys])
    expected = samples.reshape(2, 2, 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(roi.roi_align(feature_map, box, 2, 2), expected, rtol=1e-5)


def test_roi_pool_is_blind_to_subpixel_shifts():
    """A shift of 0.3 cells leaves RoI pooling unchanged but moves RoIAlign."""
    feature_map = np.arange(64, dtype=float).reshape(8, 8)
    box, shifted = (1.0, 1.0, 5.0, 5.0), (1.3, 1.0, 5.3, 5.0)
    np.testing.assert_array_equal(roi.roi_pool(feature_map, box), [[18, 20], [34, 36]])
    np.testing.assert_array_equal(
        roi.roi_pool(feature_map, box), roi.roi_pool(feature_map, shifted)
    )
    moved = roi.roi_align(feature_map, shifted) - roi.roi_align(feature_map, box)
    np.testing.assert_allclose(moved, 0.3, rtol=1e-5)  # the map rises by 1 per column
