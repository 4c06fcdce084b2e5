"""course_utils.mask_metrics: mask IoU by hand, and mask AP against pycocotools on RLE masks."""

import contextlib
import io

import numpy as np
import pytest

from course_utils import mask_metrics


def test_mask_iou_hand_worked():
    a = np.zeros((1, 4, 4), bool)
    a[0, :2, :2] = True  # 4 pixels
    b = np.zeros((2, 4, 4), bool)
    b[0, :2, 1:3] = True  # 4 pixels, 2 shared
    overlaps = mask_metrics.mask_iou(a, b)  # b[1] is empty: IoU 0, not NaN
    np.testing.assert_allclose(overlaps, [[2 / 6, 0.0]])


def test_match_masks_takes_the_best_free_truth_best_score_first():
    overlaps = np.array([[0.9, 0.6], [0.8, 0.1], [0.55, 0.7]])
    hits = mask_metrics.match_masks(overlaps, np.array([0.5, 0.9, 0.4]))
    # prediction 1 (0.9) takes truth 0; prediction 0 then takes truth 1; prediction 2 finds none
    np.testing.assert_array_equal(hits, [True, True, False])


def random_blob(rng, size):
    """A random blob: a rectangle with a tenth of its pixels knocked out."""
    mask = np.zeros((size, size), bool)
    x, y = rng.integers(0, size - 10, 2)
    w, h = rng.integers(5, 10, 2)
    mask[y : y + h, x : x + w] = True
    return mask & (rng.random((size, size)) > 0.1)


def mask_case(seed, images=20, num_classes=3, size=32):
    """Random true masks and noisy predictions, ours and in COCO's JSON format (RLE)."""
    mask_utils = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(seed)
    truths, predictions, coco_images, annotations, results = [], [], [], [], []

    def rle(mask):
        encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        encoded["counts"] = encoded["counts"].decode("ascii")
        return encoded

    for image in range(images):
        true_masks = np.array([random_blob(rng, size) for _ in range(rng.integers(1, 4))])
        true_classes = rng.integers(0, num_classes, len(true_masks))
        predicted, scores, classes = [], [], []
        for mask, label in zip(true_masks, true_classes):
            for _ in range(rng.integers(0, 3)):  # missed, found, or found twice
                noisy = mask & (rng.random(mask.shape) > rng.uniform(0, 0.4))
                predicted.append(np.roll(noisy, rng.integers(0, 2), axis=1))
                flip = rng.random() < 0.1
                classes.append((label + 1) % num_classes if flip else label)
                scores.append(rng.random())
        for _ in range(rng.integers(0, 2)):  # a false alarm
            predicted.append(random_blob(rng, size))
            classes.append(rng.integers(0, num_classes))
            scores.append(rng.random())
        predicted = np.array(predicted).reshape(-1, size, size)
        truths.append(mask_metrics.as_instances(true_masks, classes=true_classes))
        predictions.append(mask_metrics.as_instances(predicted, scores, classes))
        coco_images.append({"id": image, "width": size, "height": size})
        for mask, label in zip(true_masks, true_classes):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image,
                    "category_id": int(label),
                    "segmentation": rle(mask),
                    "area": float(mask.sum()),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle(mask))],
                    "iscrowd": 0,
                }
            )
        for mask, label, score in zip(predicted, classes, scores):
            results.append(
                {
                    "image_id": image,
                    "category_id": int(label),
                    "segmentation": rle(mask),
                    "score": float(score),
                }
            )
    dataset = {
        "images": coco_images,
        "annotations": annotations,
        "categories": [{"id": label} for label in range(num_classes)],
    }
    return truths, predictions, dataset, results


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mask_ap_matches_pycocotools(seed):
    """Mask mAP@0.5 and mAP@[0.5:0.95] (101 points) equal COCOeval's segm AP50 and AP."""
    coco_module = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    truths, predictions, dataset, results = mask_case(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = coco_module.COCO()
        ground_truth.dataset = dataset
        ground_truth.createIndex()
        evaluation = cocoeval.COCOeval(ground_truth, ground_truth.loadRes(results), "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    coco_ap, coco_ap50 = evaluation.stats[:2]
    ours50 = mask_metrics.mean_average_precision(predictions, truths, 3, 0.5, "101")
    ours = mask_metrics.coco_mean_average_precision(predictions, truths, 3)
    assert ours50 > 0.3  # a meaningful case, not two zeros agreeing
    assert ours50 == pytest.approx(coco_ap50, abs=1e-9)
    assert ours == pytest.approx(coco_ap, abs=1e-9)


def test_perfect_masks_score_one_and_the_stricter_mean_is_lower_for_noisy_ones():
    truths, predictions, _, _ = mask_case(3)
    assert mask_metrics.coco_mean_average_precision(truths, truths, 3) == pytest.approx(1.0)
    assert mask_metrics.coco_mean_average_precision(
        predictions, truths, 3
    ) <= mask_metrics.mean_average_precision(predictions, truths, 3, 0.5, "101")


def test_truth_instances_one_mask_per_box():
    instance_mask = np.array([[0, 1, 1], [2, 0, 1], [2, 2, 0]])
    boxes = np.array([[7, 1, 0, 2, 1], [3, 0, 1, 1, 2]])
    truth = mask_metrics.truth_instances(instance_mask, boxes)
    np.testing.assert_array_equal(truth.classes, [7, 3])
    np.testing.assert_array_equal(truth.masks.sum(axis=(1, 2)), [3, 3])


def test_as_instances_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one score and one class per mask"):
        mask_metrics.as_instances(np.zeros((2, 4, 4)), scores=[1.0])
