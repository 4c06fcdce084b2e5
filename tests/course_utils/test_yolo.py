"""Tests of course_utils.yolo: YOLO targets from boxes and back."""

import numpy as np
import pytest

from course_utils import digit_scenes, yolo

# ---------------------------------------------------------------------------------------------
# YOLO targets


def test_yolo_encoding_of_one_worked_box():
    # 10 pixels wide (10..19), 16 high (20..35): centre (15, 28), in cell (row 3, column 1)
    targets = yolo.encode_yolo_targets([np.array([[3, 10, 20, 19, 35]])], image_size=64)
    assert targets.shape == (1, 8, 8, 5 * 2 + 10) and targets.dtype == np.float32
    cell = targets[0, 3, 1]
    np.testing.assert_allclose(cell[:5], [15 / 8 - 1, 28 / 8 - 3, 10 / 64, 16 / 64, 1.0])
    np.testing.assert_allclose(cell[5:10], cell[:5])  # both slots hold the box
    np.testing.assert_array_equal(cell[10:], np.eye(10)[3])
    targets[0, 3, 1] = 0
    assert not targets.any(), "cells without a centre must be all zeros"


def test_yolo_shares_a_cell_with_the_larger_box():
    small, large = [5, 2, 2, 5, 5], [7, 0, 0, 9, 9]  # centres (4, 4) and (5, 5): one cell
    for boxes in ([small, large], [large, small]):
        targets = yolo.encode_yolo_targets([np.array(boxes)], 64, grid_size=4, num_classes=10)
        (decoded,) = yolo.decode_yolo_targets(targets, 64, num_classes=10)
        np.testing.assert_allclose(decoded, [large])


def test_yolo_round_trip_on_scenes(cache):
    scenes = digit_scenes.make_digit_scenes(80, max_digits=4)
    for grid_size, boxes_per_cell in ((8, 2), (4, 1), (16, 3)):
        targets = yolo.encode_yolo_targets(
            scenes.boxes, 64, grid_size=grid_size, boxes_per_cell=boxes_per_cell
        )
        decoded = yolo.decode_yolo_targets(targets, 64, grid_size, boxes_per_cell)
        kept = 0
        for truth, found in zip(scenes.boxes, decoded):
            np.testing.assert_allclose(found, np.round(found), atol=1e-3)
            found = np.round(found).astype(int)
            # every decoded box is one of the true boxes
            assert {tuple(row) for row in found} <= {tuple(row) for row in truth}
            kept += len(found)
            cell = 64 / grid_size
            cells = {
                ((y0 + y1 + 1) / 2 // cell, (x0 + x1 + 1) / 2 // cell)
                for _, x0, y0, x1, y1 in truth
            }
            assert len(found) == len(cells)  # one box per occupied cell
        assert kept >= 0.9 * sum(len(boxes) for boxes in scenes.boxes)


def test_yolo_decoding_is_exact_before_rounding():
    boxes = [np.array([[1, 3, 7, 30, 12], [4, 40, 41, 63, 63]]), np.zeros((0, 5), int)]
    decoded = yolo.decode_yolo_targets(yolo.encode_yolo_targets(boxes, 64), 64)
    np.testing.assert_allclose(decoded[0], boxes[0], atol=1e-4)
    assert decoded[1].shape == (0, 5)


@pytest.mark.parametrize(
    "boxes, message",
    [
        ([np.array([1, 2, 3, 4, 5])], r"shape \(5,\)"),
        ([np.array([[10, 0, 0, 5, 5]])], "classes must lie in 0..9"),
        ([np.array([[1, 0, 0, 64, 5]])], "0..63"),
        ([np.array([[1, 5, 0, 2, 5]])], "x_max < x_min"),
    ],
)
def test_yolo_encoding_rejects_bad_boxes(boxes, message):
    with pytest.raises(ValueError, match=message):
        yolo.encode_yolo_targets(boxes, 64)


def test_yolo_decoding_rejects_a_wrong_depth_or_grid():
    with pytest.raises(ValueError, match="5B \\+ C"):
        yolo.decode_yolo_targets(np.zeros((1, 8, 8, 15)), 64)
    with pytest.raises(ValueError, match="8 x 8 grid, not grid_size=7"):
        yolo.decode_yolo_targets(np.zeros((1, 8, 8, 20)), 64, grid_size=7)


def test_show_yolo_grid_shades_the_cells_holding_centres():
    from matplotlib import pyplot

    boxes = np.array([[3, 10, 20, 19, 35], [7, 40, 4, 60, 20]])
    figure = yolo.show_yolo_grid(np.zeros((64, 64)), boxes, grid_size=8)
    grid, confidence = figure.axes
    written = sorted(text.get_text() for text in confidence.texts if text.get_text().strip())
    assert written == ["3", "7"]
    shaded = [patch for patch in grid.patches if patch.get_alpha() == 0.35]
    assert sorted((patch.get_x(), patch.get_y()) for patch in shaded) == [(7.5, 23.5), (47.5, 7.5)]
    pyplot.close(figure)


def test_decode_predictions_recovers_boxes():
    """A prediction equal to an encoded target decodes to its boxes (continuous pixels)."""
    y = np.zeros((1, 4, 4, 5 * 2 + 3), np.float32)
    # a class-2 box centred at (40, 24) in a 64-pixel image: cell row 1, column 2 (16 pixels each)
    y[0, 1, 2, 0:5] = [0.5, 0.5, 0.25, 0.125, 0.9]
    y[0, 1, 2, 5:10] = [0.5, 0.5, 0.25, 0.125, 0.6]  # the same box again: NMS removes it
    y[0, 1, 2, 12] = 1.0
    found = yolo.decode_predictions(y, 64, 2, 3, score_threshold=0.1)
    assert len(found) == 1
    np.testing.assert_allclose(found[0].boxes, [[32, 20, 48, 28]])
    np.testing.assert_allclose(found[0].scores, [0.9])
    np.testing.assert_array_equal(found[0].classes, [2])
    with pytest.raises(ValueError, match="shape"):
        yolo.decode_predictions(y, 64, 3, 3)
