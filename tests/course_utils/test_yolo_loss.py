"""The lecture's detector and YOLO loss (course_utils.lectures.detection_yolo) against a
transcription of the formula in loops, a hand-worked case, and a step of training."""

import numpy as np
import pytest

from course_utils import config, yolo

config.setup()
from course_utils.lectures import detection_yolo  # noqa: E402 - imports Keras, after setup


def loop_cell_iou(box_a, box_b, grid_size):
    """IoU of two (x, y, w, h) YOLO boxes of one cell, in plain Python."""

    def corners(box):
        x, y, w, h = box
        return (
            x / grid_size - w / 2,
            y / grid_size - h / 2,
            x / grid_size + w / 2,
            y / grid_size + h / 2,
        )

    a, b = corners(box_a), corners(box_b)
    width = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    height = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    intersection = width * height
    return intersection / max(box_a[2] * box_a[3] + box_b[2] * box_b[3] - intersection, 1e-9)


def loop_loss(y_true, y_pred, boxes_per_cell, lambda_coord=5.0, lambda_noobj=0.5):
    """The YOLO v1 loss read off the formula: loops over images, rows, columns, slots."""
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    count, grid = y_true.shape[:2]
    losses = np.zeros(count)
    for image in range(count):
        for row in range(grid):
            for column in range(grid):
                truth, guess = y_true[image, row, column], y_pred[image, row, column]
                has_object, responsible, best = truth[4] == 1, -1, -1.0
                if has_object:
                    for slot in range(boxes_per_cell):
                        overlap = loop_cell_iou(truth[:4], guess[5 * slot : 5 * slot + 4], grid)
                        if overlap > best:
                            best, responsible = overlap, slot
                for slot in range(boxes_per_cell):
                    x, y, w, h, c = guess[5 * slot : 5 * slot + 5]
                    if slot == responsible:
                        tx, ty, tw, th = truth[:4]
                        losses[image] += lambda_coord * (
                            (tx - x) ** 2
                            + (ty - y) ** 2
                            + (np.sqrt(tw) - np.sqrt(w)) ** 2
                            + (np.sqrt(th) - np.sqrt(h)) ** 2
                        )
                        losses[image] += (best - c) ** 2
                    else:
                        losses[image] += lambda_noobj * c**2
                if has_object:
                    classes = slice(5 * boxes_per_cell, None)
                    losses[image] += np.sum((truth[classes] - guess[classes]) ** 2)
    return losses


def random_pair(seed, count=3, grid=4, boxes_per_cell=2, num_classes=5):
    """A target with a few object cells and a prediction in [0.05, 0.95] near it."""
    rng = np.random.default_rng(seed)
    y_true = np.zeros(
        (count, grid, grid, yolo.yolo_channels(boxes_per_cell, num_classes)), "float32"
    )
    objects = rng.random((count, grid, grid)) < 0.3
    objects[:, 0, 0] = True
    box = np.concatenate(
        [rng.uniform(0, 1, objects.shape + (2,)), rng.uniform(0.05, 0.6, objects.shape + (2,))], -1
    )
    for slot in range(boxes_per_cell):
        y_true[..., 5 * slot : 5 * slot + 4] = box * objects[..., None]
        y_true[..., 5 * slot + 4] = objects
    labels = rng.integers(0, num_classes, objects.shape)
    y_true[..., 5 * boxes_per_cell :] = np.eye(num_classes)[labels] * objects[..., None]
    y_pred = rng.uniform(0.05, 0.95, y_true.shape).astype("float32")
    for slot in range(boxes_per_cell):
        noisy = np.clip(box + rng.normal(0, 0.08, box.shape), 0.02, 0.98)
        y_pred[..., 5 * slot : 5 * slot + 4] = noisy
    return y_true, y_pred


@pytest.mark.parametrize(("boxes_per_cell", "num_classes"), [(2, 5), (1, 3), (3, 10)])
def test_the_loss_equals_the_formula_in_loops(boxes_per_cell, num_classes):
    """The keras.ops loss equals the loop transcription on random tensors, one value per image."""
    y_true, y_pred = random_pair(
        boxes_per_cell, boxes_per_cell=boxes_per_cell, num_classes=num_classes
    )
    loss = np.asarray(detection_yolo.yolo_loss(boxes_per_cell)(y_true, y_pred))
    assert loss.shape == (3,)
    np.testing.assert_allclose(loss, loop_loss(y_true, y_pred, boxes_per_cell), rtol=1e-5)


def test_the_loss_of_the_case_worked_by_hand():
    """One object cell of a 2 x 2 grid, B = 1, C = 2, every term worked by hand: 0.6636."""
    y_true, y_pred = np.zeros((1, 2, 2, 7), "float32"), np.zeros((1, 2, 2, 7), "float32")
    y_true[0, 0, 1] = [0.5, 0.5, 0.25, 0.25, 1, 0, 1]
    y_pred[0, 0, 1] = [0.5, 0.5, 0.25, 0.09, 0.8, 0.3, 0.6]
    y_pred[0, 1, 0, 4] = 0.2
    expected = {
        "coordinates": 5 * 0.2**2,  # sqrt(0.25) - sqrt(0.09) = 0.2
        "object": (0.36 - 0.8) ** 2,  # the IoU of the two boxes is 0.09 / 0.25 = 0.36
        "no_object": 0.5 * 0.2**2,
        "classes": 0.3**2 + 0.4**2,
    }
    terms = detection_yolo.yolo_loss_terms(y_true, y_pred, boxes_per_cell=1)
    for name, value in expected.items():
        assert float(terms[name][0]) == pytest.approx(value, rel=1e-5), name
    total = float(detection_yolo.yolo_loss(1)(y_true, y_pred)[0])
    assert total == pytest.approx(sum(expected.values()), rel=1e-5) == pytest.approx(0.6636)


def test_the_weights_are_those_the_lecture_names():
    """lambda_coord 5, lambda_noobj 0.5, lambda_obj and lambda_class 1."""
    assert (detection_yolo.LAMBDA_COORD, detection_yolo.LAMBDA_NOOBJ) == (5.0, 0.5)
    assert (detection_yolo.LAMBDA_OBJ, detection_yolo.LAMBDA_CLASS) == (1.0, 1.0)


def test_only_the_responsible_slot_is_pulled_to_the_truth():
    """The slot whose box overlaps the truth best pays the object terms; the other, no-object."""
    y_true = np.zeros((1, 1, 1, 11), "float32")
    y_true[0, 0, 0] = [0.5, 0.5, 0.4, 0.4, 1, 0.5, 0.5, 0.4, 0.4, 1, 1]
    y_pred = np.zeros_like(y_true)
    y_pred[0, 0, 0, :10] = [0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.4, 0.4, 0.5]
    y_pred[0, 0, 0, 10] = 1.0
    terms = detection_yolo.yolo_loss_terms(y_true, y_pred, boxes_per_cell=2)
    assert float(terms["coordinates"][0]) == pytest.approx(0.0, abs=1e-6)
    assert float(terms["object"][0]) == pytest.approx(0.25, rel=1e-5)
    assert float(terms["no_object"][0]) == pytest.approx(0.5 * 0.25, rel=1e-5)


def test_the_loss_has_gradients_and_the_detector_trains():
    """Finite gradients; the compiled detector's loss falls over a few steps on one batch."""
    import tensorflow as tf

    y_true, y_pred = random_pair(5)
    prediction = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(detection_yolo.yolo_loss(2)(y_true, prediction))
    gradient = tape.gradient(value, prediction).numpy()
    assert np.all(np.isfinite(gradient)) and np.any(gradient != 0)

    model = detection_yolo.build_detector(32, 4, 2, 5, width=8)
    detection_yolo.compile_detector(model, steps=20, learning_rate=1e-2)
    images = np.random.default_rng(0).random((8, 32, 32, 1)).astype("float32")
    targets, _ = random_pair(6, count=8, grid=4)
    history = model.fit(images, targets, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_the_detector_maps_images_to_the_grid():
    """64 x 64 images to an 8 x 8 x (5B + C) grid in [0, 1]; the blocks are named for reuse."""
    model = detection_yolo.build_detector(64, 8, 2, 10, width=8)
    output = np.asarray(model(np.zeros((2, 64, 64, 1), "float32")))
    assert output.shape == (2, 8, 8, 20)
    assert output.min() >= 0 and output.max() <= 1
    names = [layer.name for layer in model.layers]
    assert names[:6] == ["image", "down0", "down1", "down2", "grid0", "grid1"]
    assert model.get_layer("grid1").output.shape == (None, 8, 8, 32)
