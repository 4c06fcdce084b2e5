"""course_utils.detection against hand-worked cases, loops, TensorFlow and pycocotools."""

import contextlib
import io

import numpy as np
import pytest

from course_utils import detection


def loop_iou(box_a, box_b, inclusive=False):
    """IoU of two corner boxes, one at a time in plain Python."""
    extra = 1 if inclusive else 0
    width = min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]) + extra
    height = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]) + extra
    intersection = max(width, 0) * max(height, 0)
    area_a = (box_a[2] - box_a[0] + extra) * (box_a[3] - box_a[1] + extra)
    area_b = (box_b[2] - box_b[0] + extra) * (box_b[3] - box_b[1] + extra)
    return intersection / (area_a + area_b - intersection)


def random_boxes(rng, count, low=0, high=50, min_size=2, max_size=20):
    """Corner boxes with positive sizes."""
    corner = rng.uniform(low, high, (count, 2))
    return np.concatenate([corner, corner + rng.uniform(min_size, max_size, (count, 2))], axis=1)


# --- IoU ------------------------------------------------------------------------------------


def test_iou_hand_worked():
    """Two 10 x 10 boxes overlapping on a 5 x 5 square: 25 / 175."""
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30]])
    matrix = detection.iou(boxes, boxes)
    assert matrix.shape == (3, 3)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert matrix[0, 1] == pytest.approx(25 / 175)
    assert matrix[0, 2] == 0.0


def test_iou_inclusive_counts_end_pixels():
    """Pixels 0..9 and 5..14: 10 x 10 boxes sharing 5 x 5 pixels under the +1 convention."""
    boxes = np.array([[0, 0, 9, 9], [5, 5, 14, 14]])
    assert detection.iou(boxes, boxes, inclusive=True)[0, 1] == pytest.approx(25 / 175)
    assert detection.iou(boxes, boxes)[0, 1] == pytest.approx(16 / (81 + 81 - 16))


@pytest.mark.parametrize("inclusive", [False, True])
def test_iou_matches_loops(inclusive):
    """The broadcast matrix equals a double loop, and is symmetric."""
    rng = np.random.default_rng(0)
    boxes_a, boxes_b = random_boxes(rng, 7), random_boxes(rng, 5)
    if inclusive:
        boxes_a, boxes_b = np.round(boxes_a), np.round(boxes_b)
    expected = [[loop_iou(a, b, inclusive) for b in boxes_b] for a in boxes_a]
    np.testing.assert_allclose(detection.iou(boxes_a, boxes_b, inclusive=inclusive), expected)
    np.testing.assert_allclose(
        detection.iou(boxes_b, boxes_a, inclusive=inclusive), np.transpose(expected)
    )


def test_iou_centre_format_and_conversions():
    """Centre boxes give the same IoU; the conversions invert each other."""
    boxes = random_boxes(np.random.default_rng(1), 6)
    centres = detection.corners_to_centres(boxes)
    np.testing.assert_allclose(detection.centres_to_corners(centres), boxes)
    np.testing.assert_allclose(
        detection.iou(centres, centres, box_format="centres"), detection.iou(boxes, boxes)
    )
    np.testing.assert_allclose(detection.corners_to_centres([[2, 4, 6, 10]]), [[4, 7, 4, 6]])


def test_iou_bad_input_is_one_line():
    """A wrong shape or format names the fix."""
    with pytest.raises(ValueError, match="shape"):
        detection.iou(np.zeros((3, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="box_format"):
        detection.iou(np.zeros((1, 4)), np.zeros((1, 4)), box_format="xywh")


# --- NMS ------------------------------------------------------------------------------------


def test_nms_hand_worked():
    """Box 1 overlaps the best box a lot and goes; box 2 overlaps little and stays."""
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [6, 6, 16, 16], [30, 30, 40, 40]])
    scores = np.array([0.9, 0.8, 0.7, 0.3])
    np.testing.assert_array_equal(detection.non_max_suppression(boxes, scores, 0.5), [0, 2, 3])
    # IoU(0, 1) = 81 / 119 = 0.68 and IoU(0, 2) = 16 / 184 = 0.087
    np.testing.assert_array_equal(detection.non_max_suppression(boxes, scores, 0.7), [0, 1, 2, 3])
    np.testing.assert_array_equal(detection.non_max_suppression(boxes, scores, 0.05), [0, 3])


def test_nms_per_class_keeps_overlaps_of_other_classes():
    """Two nearly identical boxes of different classes both survive per-class NMS."""
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 11]])
    scores = np.array([0.9, 0.8, 0.7])
    classes = np.array([3, 5, 3])
    kept = detection.non_max_suppression_per_class(boxes, scores, classes, 0.5)
    np.testing.assert_array_equal(kept, [0, 1])
    np.testing.assert_array_equal(detection.non_max_suppression(boxes, scores, 0.5), [0])


@pytest.mark.parametrize("seed", range(5))
def test_nms_matches_tensorflow(seed):
    """Per-class NMS agrees with tf.image.non_max_suppression run per class."""
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 40, high=30)
    scores = rng.permutation(40) / 40 + 0.01  # distinct scores: no ties to break
    classes = rng.integers(0, 3, 40)
    for threshold in (0.3, 0.5, 0.7):
        ours = detection.non_max_suppression_per_class(boxes, scores, classes, threshold)
        theirs = detection.tf_non_max_suppression_per_class(boxes, scores, classes, threshold)
        np.testing.assert_array_equal(ours, theirs)


# --- precision, recall, AP, mAP -------------------------------------------------------------


def test_precision_recall_and_ap_hand_worked():
    """Five detections, hits at ranks 1, 3, 5 of 4 objects."""
    precision, recall, _ = detection.precision_recall([0.5, 0.9, 0.7, 0.8, 0.6], [1, 1, 1, 0, 0], 4)
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3, 2 / 4, 3 / 5])
    np.testing.assert_allclose(recall, [0.25, 0.25, 0.5, 0.5, 0.75])
    # all points: 0.25 * 1 + 0.25 * (2/3) + 0.25 * (3/5)
    assert detection.average_precision(precision, recall) == pytest.approx(0.25 * (1 + 2 / 3 + 0.6))
    # 11 points: recall 0, .1, .2 -> 1; .3, .4, .5 -> 2/3; .6, .7 -> .6; .8, .9, 1 -> 0
    assert detection.average_precision(precision, recall, "11") == pytest.approx(6.2 / 11)


def test_ap_envelope_matters():
    """A curve that rises again: the envelope lifts the dip."""
    precision = np.array([1.0, 0.5, 2 / 3, 0.75])
    recall = np.array([0.25, 0.25, 0.5, 0.75])
    # without the envelope the dip at rank 2 does not count either, yet ranks 3-4 lift rank 2
    assert detection.average_precision(precision, recall) == pytest.approx(
        0.25 + 0.25 * 0.75 + 0.25 * 0.75
    )


def test_ap_perfect_and_empty():
    """Every detection right and every object found: AP 1; nothing detected: AP 0."""
    precision, recall, _ = detection.precision_recall([0.9, 0.8], [1, 1], 2)
    for method in ("all", "11", "101"):
        assert detection.average_precision(precision, recall, method) == pytest.approx(1.0)
        assert detection.average_precision([], [], method) == 0.0
    with pytest.raises(ValueError, match="interpolation"):
        detection.average_precision(precision, recall, "voc")


def test_match_detections_each_truth_once():
    """A duplicate of a found object is a false positive."""
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    found = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]])
    hits = detection.match_detections(found, [0.9, 0.8, 0.7, 0.6], truth, 0.5)
    np.testing.assert_array_equal(hits, [True, False, True, False])


def test_map_hand_worked():
    """Two images, two classes: AP 1 for class 0, AP 0.5 for class 1, mAP 0.75."""
    truths = [
        np.array([[0, 0, 0, 10, 10], [1, 20, 20, 30, 30]]),
        np.array([[1, 0, 0, 10, 10]]),
    ]
    detections = [
        detection.Detections(
            np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0.9, 0.8]), np.array([0, 1])
        ),
        # class 1 in image 1: a miss (wrong place) scored above the hit
        detection.Detections(
            np.array([[40, 40, 50, 50], [0, 0, 10, 10]]), np.array([0.95, 0.5]), np.array([1, 1])
        ),
    ]
    per_class = detection.average_precision_per_class(detections, truths, 3)
    # class 1: ranks 0.95 miss, 0.8 hit, 0.5 hit -> precision 0, 1/2, 2/3 at recall 0, .5, 1
    np.testing.assert_allclose(per_class[:2], [1.0, 0.5 * (2 / 3) + 0.5 * (2 / 3)])
    assert np.isnan(per_class[2])  # no truth of class 2: left out of the mean
    assert detection.mean_average_precision(detections, truths, 3) == pytest.approx(
        np.mean([1.0, 2 / 3])
    )


def coco_case(seed=1, images=25, num_classes=3):
    """Random truths and noisy detections, in our format and in COCO's JSON format."""
    rng = np.random.default_rng(seed)
    truths, detections, coco_images, annotations, results = [], [], [], [], []
    for image in range(images):
        count = int(rng.integers(0, 5))
        boxes = random_boxes(rng, count, min_size=5)
        classes = rng.integers(0, num_classes, count)
        truths.append(np.concatenate([classes[:, None], boxes], axis=1))
        coco_images.append({"id": image, "width": 80, "height": 80})
        for label, (x0, y0, x1, y1) in zip(classes, boxes):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image,
                    "category_id": int(label) + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
        extra = int(rng.integers(0, 4))
        jittered = boxes + rng.normal(0, 1.5, boxes.shape)
        found = np.concatenate([jittered, random_boxes(rng, extra, min_size=5)])
        found = np.concatenate(
            [np.minimum(found[:, :2], found[:, 2:]), np.maximum(found[:, :2], found[:, 2:])], 1
        )
        labels = np.concatenate(
            [
                np.where(rng.random(count) < 0.8, classes, rng.integers(0, num_classes, count)),
                rng.integers(0, num_classes, extra),
            ]
        ).astype(int)
        scores = rng.random(len(found))
        detections.append(detection.Detections(found, scores, labels))
        for box, score, label in zip(found, scores, labels):
            results.append(
                {
                    "image_id": image,
                    "category_id": int(label) + 1,
                    "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    "score": float(score),
                }
            )
    dataset = {
        "images": coco_images,
        "annotations": annotations,
        "categories": [{"id": index + 1} for index in range(num_classes)],
    }
    return truths, detections, dataset, results


@pytest.mark.parametrize("seed", [1, 2])
def test_map_matches_pycocotools(seed):
    """mAP@0.5 and mAP@[0.5:0.95] with COCO's 101 points equal COCOeval's AP50 and AP."""
    coco_module = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    truths, detections, dataset, results = coco_case(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = coco_module.COCO()
        ground_truth.dataset = dataset
        ground_truth.createIndex()
        evaluation = cocoeval.COCOeval(ground_truth, ground_truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    coco_ap, coco_ap50 = evaluation.stats[:2]
    ours50 = detection.mean_average_precision(detections, truths, 3, 0.5, "101")
    ours = detection.coco_mean_average_precision(detections, truths, 3)
    assert ours50 > 0.3  # a meaningful case, not two zeros agreeing
    assert ours50 == pytest.approx(coco_ap50, abs=1e-9)
    assert ours == pytest.approx(coco_ap, abs=1e-9)


def test_coco_map_not_above_map50():
    """Stricter thresholds can only lower AP."""
    truths, detections, _, _ = coco_case(3)
    assert detection.coco_mean_average_precision(
        detections, truths, 3
    ) <= detection.mean_average_precision(detections, truths, 3, 0.5, "101")


# --- YOLO -----------------------------------------------------------------------------------


def random_yolo_pair(rng, count=3, grid=4, boxes_per_cell=2, num_classes=5, object_rate=0.3):
    """A target tensor (a few object cells) and a prediction in [0.05, 0.95] near it."""
    channels = detection.yolo_channels(boxes_per_cell, num_classes)
    y_true = np.zeros((count, grid, grid, channels), np.float32)
    objects = rng.random((count, grid, grid)) < object_rate
    objects[:, 0, 0] = True  # every image has at least one object
    box = np.concatenate(
        [rng.uniform(0, 1, (count, grid, grid, 2)), rng.uniform(0.05, 0.6, (count, grid, grid, 2))],
        axis=-1,
    )
    for slot in range(boxes_per_cell):
        y_true[..., 5 * slot : 5 * slot + 4] = box * objects[..., None]
        y_true[..., 5 * slot + 4] = objects
    labels = rng.integers(0, num_classes, (count, grid, grid))
    y_true[..., 5 * boxes_per_cell :] = np.eye(num_classes)[labels] * objects[..., None]
    y_pred = rng.uniform(0.05, 0.95, y_true.shape).astype(np.float32)
    for slot in range(boxes_per_cell):
        # predicted boxes near the truth, so every slot overlaps it and the best one is clear
        y_pred[..., 5 * slot : 5 * slot + 4] = np.clip(
            box + rng.normal(0, 0.08, box.shape), 0.02, 0.98
        )
    return y_true, y_pred


@pytest.mark.parametrize(("boxes_per_cell", "num_classes"), [(2, 5), (1, 3), (3, 10)])
def test_yolo_loss_matches_loops(boxes_per_cell, num_classes):
    """The vectorised loss equals the explicit-loop NumPy version on random tensors."""
    rng = np.random.default_rng(boxes_per_cell)
    y_true, y_pred = random_yolo_pair(rng, boxes_per_cell=boxes_per_cell, num_classes=num_classes)
    loss = detection.yolo_loss(boxes_per_cell, num_classes)(y_true, y_pred)
    expected = detection.yolo_loss_reference(y_true, y_pred, boxes_per_cell, num_classes)
    assert np.asarray(loss).shape == (3,)
    np.testing.assert_allclose(np.asarray(loss), expected, rtol=1e-5)


def test_yolo_loss_hand_worked():
    """One object cell of a 2 x 2 grid, B = 1, C = 2, every term worked by hand."""
    y_true = np.zeros((1, 2, 2, 7), np.float32)
    y_true[0, 0, 1] = [0.5, 0.5, 0.25, 0.25, 1, 0, 1]  # a class-1 box, a quarter of the image
    y_pred = np.zeros((1, 2, 2, 7), np.float32)
    y_pred[0, 0, 1] = [0.5, 0.5, 0.25, 0.09, 0.8, 0.3, 0.6]  # same centre and width, lower
    y_pred[0, 1, 0, 4] = 0.2  # an empty cell that claims an object
    # IoU: same centre, widths equal, heights 0.25 vs 0.09 -> 0.09 / 0.25 = 0.36
    coordinates = 5 * (0.5 - 0.3) ** 2
    obj = (0.36 - 0.8) ** 2
    no_object = 0.5 * 0.2**2
    classes = 0.3**2 + 0.4**2
    terms = detection.yolo_loss_terms(y_true, y_pred, 1, 2)
    assert float(terms["coordinates"][0]) == pytest.approx(coordinates, rel=1e-5)
    assert float(terms["object"][0]) == pytest.approx(obj, rel=1e-5)
    assert float(terms["no_object"][0]) == pytest.approx(no_object, rel=1e-5)
    assert float(terms["classes"][0]) == pytest.approx(classes, rel=1e-5)
    expected = coordinates + obj + no_object + classes
    assert float(detection.yolo_loss(1, 2)(y_true, y_pred)[0]) == pytest.approx(expected, rel=1e-5)
    assert detection.yolo_loss_reference(y_true, y_pred, 1, 2)[0] == pytest.approx(expected)


def test_yolo_loss_picks_responsible_box_by_iou():
    """Only the slot that overlaps the truth best is pulled towards it."""
    y_true = np.zeros((1, 1, 1, 11), np.float32)
    y_true[0, 0, 0] = [0.5, 0.5, 0.4, 0.4, 1, 0.5, 0.5, 0.4, 0.4, 1, 1]
    y_pred = np.zeros_like(y_true)
    y_pred[0, 0, 0, :10] = [0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.4, 0.4, 0.5]
    y_pred[0, 0, 0, 10] = 1.0
    terms = detection.yolo_loss_terms(y_true, y_pred, 2, 1)
    # slot 2 is exact: no coordinate error; slot 1 only pays the no-object term
    assert float(terms["coordinates"][0]) == pytest.approx(0.0, abs=1e-6)
    assert float(terms["object"][0]) == pytest.approx(0.25, rel=1e-5)
    assert float(terms["no_object"][0]) == pytest.approx(0.5 * 0.25, rel=1e-5)


def test_yolo_loss_has_gradients():
    """The loss trains: finite gradients with respect to the prediction."""
    import tensorflow as tf

    y_true, y_pred = random_yolo_pair(np.random.default_rng(5))
    prediction = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(detection.yolo_loss(2, 5)(y_true, prediction))
    gradient = tape.gradient(value, prediction).numpy()
    assert np.all(np.isfinite(gradient)) and np.any(gradient != 0)


def test_decode_predictions_recovers_boxes():
    """A prediction equal to an encoded target decodes to its boxes (continuous pixels)."""
    y = np.zeros((1, 4, 4, 5 * 2 + 3), np.float32)
    # a class-2 box centred at (40, 24) in a 64-pixel image: cell row 1, column 2 (16 pixels each)
    y[0, 1, 2, 0:5] = [0.5, 0.5, 0.25, 0.125, 0.9]
    y[0, 1, 2, 5:10] = [0.5, 0.5, 0.25, 0.125, 0.6]  # the same box again: NMS removes it
    y[0, 1, 2, 12] = 1.0
    found = detection.decode_predictions(y, 64, 2, 3, score_threshold=0.1)
    assert len(found) == 1
    np.testing.assert_allclose(found[0].boxes, [[32, 20, 48, 28]])
    np.testing.assert_allclose(found[0].scores, [0.9])
    np.testing.assert_array_equal(found[0].classes, [2])
    with pytest.raises(ValueError, match="shape"):
        detection.decode_predictions(y, 64, 3, 3)


def test_build_detector_shape():
    """The detector maps 64 x 64 images to an 8 x 8 x (5B + C) grid in [0, 1]."""
    model = detection.build_detector(64, 8, 2, 10, width=8)
    output = model(np.zeros((2, 64, 64, 1), np.float32))
    assert tuple(output.shape) == (2, 8, 8, 20)
    with pytest.raises(ValueError, match="multiple"):
        detection.build_detector(60, 8)


# --- RoI pooling and RoIAlign ---------------------------------------------------------------


def test_roi_align_equals_explicit_bilinear_sampling():
    """crop_and_resize samples where the explicit bilinear formula says."""
    feature_map = np.random.default_rng(0).random((8, 8))
    box = (1.3, 2.1, 6.4, 5.9)
    xs, ys = detection.roi_align_points(box, 2, 2)
    samples = np.array([[detection.bilinear_sample(feature_map, x, y) for x in xs] for y in ys])
    expected = samples.reshape(2, 2, 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(detection.roi_align(feature_map, box, 2, 2), expected, rtol=1e-5)


def test_roi_pool_is_blind_to_subpixel_shifts():
    """A shift of 0.3 cells leaves RoI pooling unchanged but moves RoIAlign."""
    feature_map = np.arange(64, dtype=float).reshape(8, 8)
    box, shifted = (1.0, 1.0, 5.0, 5.0), (1.3, 1.0, 5.3, 5.0)
    np.testing.assert_array_equal(detection.roi_pool(feature_map, box), [[18, 20], [34, 36]])
    np.testing.assert_array_equal(
        detection.roi_pool(feature_map, box), detection.roi_pool(feature_map, shifted)
    )
    moved = detection.roi_align(feature_map, shifted) - detection.roi_align(feature_map, box)
    np.testing.assert_allclose(moved, 0.3, rtol=1e-5)  # the map rises by 1 per column


def test_continuous_inclusive_round_trip_and_drawing():
    """Conversions invert each other; figures draw a continuous box exactly on its pixels."""
    import matplotlib

    matplotlib.use("Agg")
    boxes = np.array([[2, 3, 5, 8], [0, 0, 0, 0]])
    np.testing.assert_array_equal(
        detection.continuous_to_inclusive(detection.inclusive_to_continuous(boxes)), boxes
    )
    figure = detection.show_detections([np.zeros((16, 16))], [np.array([[1, 2, 3, 6, 9]])])
    patch = figure.axes[0].patches[0]
    # continuous [2, 6) covers pixels 2..5, whose edges imshow puts at 1.5 and 5.5
    assert (patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height()) == (1.5, 2.5, 4, 6)
