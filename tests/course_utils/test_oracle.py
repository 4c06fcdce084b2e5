"""The oracle ceiling: the truth seen at a stride, upsampled as the FCN does."""

import numpy as np

from course_utils import oracle


def test_oracle_ceiling_rises_with_resolution():
    """Stride 1 is perfect; coarser strides lose thin structures."""
    masks = np.zeros((2, 64, 64), np.uint8)
    masks[:, 10:50, 20:23] = 3  # a thin vertical stroke
    masks[:, 30:33, 5:60] = 5
    ceilings = [oracle.oracle_ceiling(masks, s, 11) for s in (32, 16, 8, 4, 1)]
    assert ceilings[-1] == 1.0
    assert all(a <= b + 1e-9 for a, b in zip(ceilings, ceilings[1:]))
    assert ceilings[0] < 0.6


def test_oracle_says_which_threshold_won():
    """oracle() returns the ceiling and the threshold that reached it."""
    masks = np.zeros((1, 32, 32), np.uint8)
    masks[0, 4:28, 10:13] = 2
    value, threshold = oracle.oracle(masks, 8, 3)
    assert value == oracle.oracle_ceiling(masks, 8, 3)
    assert threshold in oracle.THRESHOLDS


def test_coarse_scores_are_class_fractions():
    """Each cell holds the share of each class among its pixels."""
    masks = np.zeros((1, 4, 4), np.uint8)
    masks[0, :2, :1] = 1  # 2 of the 4 pixels of the top-left 2x2 cell
    scores = oracle.coarse_scores(masks, 2, 2)
    np.testing.assert_allclose(scores[0, 0, 0], [0.5, 0.5])
    np.testing.assert_allclose(scores[0, 1, 1], [1.0, 0.0])
