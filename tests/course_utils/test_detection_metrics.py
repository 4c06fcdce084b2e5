"""course_utils.detection_metrics against hand-worked cases, pycocotools and the VOC devkit."""

import contextlib
import io

import numpy as np
import pytest

from course_utils import detection, detection_metrics


def random_boxes(rng, count, low=0, high=50, min_size=2, max_size=20):
    """Corner boxes with positive sizes."""
    corner = rng.uniform(low, high, (count, 2))
    return np.concatenate([corner, corner + rng.uniform(min_size, max_size, (count, 2))], axis=1)


# --- precision, recall, AP, mAP -------------------------------------------------------------


def test_precision_recall_and_ap_hand_worked():
    """Five detections, hits at ranks 1, 3, 5 of 4 objects."""
    precision, recall, _ = detection_metrics.precision_recall(
        [0.5, 0.9, 0.7, 0.8, 0.6], [1, 1, 1, 0, 0], 4
    )
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3, 2 / 4, 3 / 5])
    np.testing.assert_allclose(recall, [0.25, 0.25, 0.5, 0.5, 0.75])
    # all points: 0.25 * 1 + 0.25 * (2/3) + 0.25 * (3/5)
    assert detection_metrics.average_precision(precision, recall) == pytest.approx(
        0.25 * (1 + 2 / 3 + 0.6)
    )
    # 11 points: recall 0, .1, .2 -> 1; .3, .4, .5 -> 2/3; .6, .7 -> .6; .8, .9, 1 -> 0
    assert detection_metrics.average_precision(precision, recall, "11") == pytest.approx(6.2 / 11)


def test_ap_envelope_matters():
    """A curve that rises again: the envelope lifts the dip."""
    precision = np.array([1.0, 0.5, 2 / 3, 0.75])
    recall = np.array([0.25, 0.25, 0.5, 0.75])
    # without the envelope the dip at rank 2 does not count either, yet ranks 3-4 lift rank 2
    assert detection_metrics.average_precision(precision, recall) == pytest.approx(
        0.25 + 0.25 * 0.75 + 0.25 * 0.75
    )


def test_ap_perfect_and_empty():
    """Every detection right and every object found: AP 1; nothing detected: AP 0."""
    precision, recall, _ = detection_metrics.precision_recall([0.9, 0.8], [1, 1], 2)
    for method in ("all", "11", "101"):
        assert detection_metrics.average_precision(precision, recall, method) == pytest.approx(1.0)
        assert detection_metrics.average_precision([], [], method) == 0.0
    with pytest.raises(ValueError, match="interpolation"):
        detection_metrics.average_precision(precision, recall, "voc")


def test_match_detections_each_truth_once():
    """A duplicate of a found object is a false positive."""
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    found = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]])
    matches = detection_metrics.match_detections(found, [0.9, 0.8, 0.7, 0.6], truth, 0.5)
    np.testing.assert_array_equal(matches.hits, [True, False, True, False])
    assert not matches.ignored.any()


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
    per_class = detection_metrics.average_precision_per_class(detections, truths, 3)
    # class 1: ranks 0.95 miss, 0.8 hit, 0.5 hit -> precision 0, 1/2, 2/3 at recall 0, .5, 1
    np.testing.assert_allclose(per_class[:2], [1.0, 0.5 * (2 / 3) + 0.5 * (2 / 3)])
    assert np.isnan(per_class[2])  # no truth of class 2: left out of the mean
    assert detection_metrics.mean_average_precision(detections, truths, 3) == pytest.approx(
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
    ours50 = detection_metrics.mean_average_precision(detections, truths, 3, 0.5, "101")
    ours = detection_metrics.coco_mean_average_precision(detections, truths, 3)
    assert ours50 > 0.3  # a meaningful case, not two zeros agreeing
    assert ours50 == pytest.approx(coco_ap50, abs=1e-9)
    assert ours == pytest.approx(coco_ap, abs=1e-9)


def test_coco_map_not_above_map50():
    """Stricter thresholds can only lower AP."""
    truths, detections, _, _ = coco_case(3)
    assert detection_metrics.coco_mean_average_precision(
        detections, truths, 3
    ) <= detection_metrics.mean_average_precision(detections, truths, 3, 0.5, "101")


# --- the PASCAL VOC devkit's rule and its "difficult" objects ------------------------------


def devkit_average_precision(detections, truths, difficult, threshold=0.5, plus_one=False):
    """One class's AP as the VOC devkit computes it, transcribed from py-faster-rcnn's
    voc_eval.py (itself VOCevaldet.m): best truth or false positive, difficult ones ignored,
    the all-point area. ``plus_one`` is the devkit's inclusive-pixel IoU."""
    extra = 1.0 if plus_one else 0.0
    records = [
        {"bbox": t, "difficult": d, "det": [False] * len(t)} for t, d in zip(truths, difficult)
    ]
    npos = sum(int(np.sum(~d)) for d in difficult)
    image_ids = [i for i, found in enumerate(detections) for _ in found.scores]
    confidence = np.concatenate([found.scores for found in detections])
    boxes = np.concatenate([np.reshape(found.boxes, (-1, 4)) for found in detections])
    order = np.argsort(-confidence, kind="stable")
    tp, fp = np.zeros(len(order)), np.zeros(len(order))
    for d, index in enumerate(order):
        record, bb = records[image_ids[index]], boxes[index]
        ovmax, bbgt = -np.inf, record["bbox"]
        if bbgt.size > 0:
            iw = np.maximum(
                np.minimum(bbgt[:, 2], bb[2]) - np.maximum(bbgt[:, 0], bb[0]) + extra, 0
            )
            ih = np.maximum(
                np.minimum(bbgt[:, 3], bb[3]) - np.maximum(bbgt[:, 1], bb[1]) + extra, 0
            )
            inters = iw * ih
            union = (
                (bb[2] - bb[0] + extra) * (bb[3] - bb[1] + extra)
                + (bbgt[:, 2] - bbgt[:, 0] + extra) * (bbgt[:, 3] - bbgt[:, 1] + extra)
                - inters
            )
            overlaps = inters / union
            ovmax, jmax = np.max(overlaps), np.argmax(overlaps)
        if ovmax >= threshold:
            if not record["difficult"][jmax]:
                if not record["det"][jmax]:
                    tp[d], record["det"][jmax] = 1.0, True
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    recall = tp / npos
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    steps = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def crowded_case(seed, images=30):
    """One class; truths side by side (so a duplicate's best truth is often taken), a third of
    them difficult; detections: jittered truths, duplicates shifted towards a neighbour, misses."""
    rng = np.random.default_rng(seed)
    detections, truths, difficult = [], [], []
    for _ in range(images):
        count = int(rng.integers(1, 5))
        left = np.cumsum(rng.uniform(4, 9, count))  # neighbours overlap
        boxes = np.stack([left, np.zeros(count), left + 10, np.full(count, 10.0)], axis=1)
        truths.append(boxes)
        difficult.append(rng.random(count) < 0.3)
        found = [boxes + rng.normal(0, 0.7, boxes.shape)]
        duplicates = boxes[rng.random(count) < 0.6]
        found.append(duplicates + [2.5, 0, 2.5, 0] + rng.normal(0, 0.7, duplicates.shape))
        found.append(random_boxes(rng, int(rng.integers(0, 2)), high=40, min_size=5))
        found = np.concatenate(found)
        scores = rng.permutation(len(found)) / len(found) + 0.01
        detections.append(detection.Detections(found, scores, np.zeros(len(found), int)))
    return detections, truths, difficult


def test_the_two_rules_on_issue_19s_case():
    """Truths A, B; detections A@0.9 and one nearer A than B@0.8: devkit 0.5, COCO 1.0."""
    truth = np.array([[0, 0, 10, 10], [2, 0, 12, 10]], float)
    found = detection.Detections(np.array([[0, 0, 10, 10], [0.5, 0, 10.5, 10]]), [0.9, 0.8], [0, 0])
    truths = [np.concatenate([np.zeros((2, 1)), truth], axis=1)]
    coco = detection_metrics.mean_average_precision([found], truths, 1, rule="coco")
    voc = detection_metrics.mean_average_precision([found], truths, 1, rule="voc")
    assert coco == pytest.approx(1.0)
    assert voc == pytest.approx(0.5)
    assert devkit_average_precision([found], [truth], [np.zeros(2, bool)]) == pytest.approx(0.5)
    voc_hits = detection_metrics.match_detections(found.boxes, found.scores, truth, rule="voc")
    np.testing.assert_array_equal(voc_hits.hits, [True, False])


@pytest.mark.parametrize("seed", range(4))
def test_voc_rule_with_difficult_objects_equals_the_devkit(seed):
    """rule="voc" with difficult flags gives the devkit's AP; the two rules differ here."""
    detections, truths, difficult = crowded_case(seed)
    truths5 = [np.concatenate([np.zeros((len(t), 1)), t], axis=1) for t in truths]
    ours = detection_metrics.mean_average_precision(
        detections, truths5, 1, rule="voc", difficult=difficult
    )
    assert ours == pytest.approx(devkit_average_precision(detections, truths, difficult), abs=1e-12)
    plain = detection_metrics.mean_average_precision(detections, truths5, 1, rule="voc")
    none = [np.zeros(len(t), bool) for t in truths]
    assert plain == pytest.approx(devkit_average_precision(detections, truths, none), abs=1e-12)
    coco = detection_metrics.mean_average_precision(detections, truths5, 1, rule="coco")
    assert coco > plain  # crowded: COCO's rule finds free neighbours the devkit's refuses


def test_voc_rule_with_inclusive_pixels_equals_the_devkit():
    """With ``inclusive=True`` the matching uses the devkit's + 1 pixel overlaps."""
    detections, truths, difficult = crowded_case(7, images=1)
    found, truth, flags = detections[0], truths[0], difficult[0]
    matches = detection_metrics.match_detections(
        found.boxes, found.scores, truth, rule="voc", difficult=flags, inclusive=True
    )
    precision, recall, _ = detection_metrics.precision_recall(
        found.scores[~matches.ignored], matches.hits[~matches.ignored], int(np.sum(~flags))
    )
    ours = detection_metrics.average_precision(precision, recall)
    assert ours == pytest.approx(devkit_average_precision([found], [truth], [flags], plus_one=True))


def test_difficult_objects_are_not_counted_and_their_detections_ignored():
    """A detection of a difficult object is neither hit nor miss, under either rule."""
    truth = np.array([[0, 0, 10, 10], [30, 0, 40, 10]], float)
    boxes = np.array([[0, 0, 10, 10], [30, 0, 40, 10], [31, 0, 41, 10], [60, 0, 70, 10]], float)
    scores = [0.9, 0.8, 0.7, 0.6]
    for rule in ("coco", "voc"):
        matches = detection_metrics.match_detections(
            boxes, scores, truth, rule=rule, difficult=[0, 1]
        )
        np.testing.assert_array_equal(matches.hits, [True, False, False, False])
        ignored = [False, True, rule == "voc", False]  # COCO matches a difficult truth once
        np.testing.assert_array_equal(matches.ignored, ignored)
    with pytest.raises(ValueError, match="difficult flags"):
        detection_metrics.match_detections(boxes, scores, truth, difficult=[True])
    with pytest.raises(ValueError, match="rule"):
        detection_metrics.match_detections(boxes, scores, truth, rule="pascal")
