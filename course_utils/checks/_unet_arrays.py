"""Topic 06's checks of arrays (exercises 3 and 4): cropping a skip, the soft Dice loss.

The crop is judged against NumPy slicing of the central window; the Dice loss's value and its
gradient with respect to the probabilities, both probed as arrays, against the formula worked
in NumPy (the squared-denominator variant of V-Net is accepted too).
"""

import numpy as np

from course_utils import checks

# TensorFlow is imported inside functions: a solutions notebook imports this module before
# config.setup(), which must run before TensorFlow loads.


# ---- Exercise 3: cropping a skip ----


def crop_case(key):
    """``key = (skip shape, height, width, seed)``: a random skip and the target size."""
    shape, height, width, seed = key
    skip = np.random.default_rng(seed).normal(0, 1, shape).astype("float32")
    return checks.Case((skip, height, width), {}, key)


def _crop_mistakes(skip, height, width):
    """Wrong crops, each with its hint (None where that mistake is impossible)."""
    h, w = skip.shape[1:3]
    top, left = (h - height) // 2, (w - width) // 2
    late_top, late_left = h - height - top, w - width - left
    swapped = None
    if left + height <= h and top + width <= w:
        swapped = skip[:, left : left + height, top : top + width]
    return {
        "the crop starts at the corner: cut (skip - target) // 2 from the top and left, the "
        "rest from the bottom and right.": skip[:, :height, :width],
        "off by one: with an odd difference the extra row and column go at the bottom and "
        "right; start at (skip - target) // 2.": skip[
            :, late_top : late_top + height, late_left : late_left + width
        ],
        "height and width swapped: crop the height by the height difference and the width by "
        "the width difference.": swapped,
    }


def judge_crop(exercise, case, output):
    """One crop, compared with NumPy slicing of the central window."""
    skip, height, width = case.args
    call = f"center_crop(<skip {skip.shape}>, {height}, {width})"
    answer = checks.as_array(exercise, output, call)
    wanted = (skip.shape[0], height, width, skip.shape[3])
    if answer.shape != wanted:
        hint = "crop axes 1 and 2 (height and width) of the NHWC batch, to exactly the target."
        if answer.shape[1:3] in ((height - 1, width - 1), (height + 1, width + 1)):
            hint = "the window is off by one in size: slice [top : top + height]."
        checks.fail(exercise, f"{call} should have shape {wanted}, got {answer.shape}: {hint}")
    top, left = (skip.shape[1] - height) // 2, (skip.shape[2] - width) // 2
    expected = skip[:, top : top + height, left : left + width]
    checks.diagnose(
        exercise, answer, expected, _crop_mistakes(skip, height, width), context=f"{call}: "
    )


CROP_KEYS = [((1, 136, 136, 2), 104, 104, 3), ((2, 9, 9, 3), 6, 6, 4)]
CROP_KEYS_HIDDEN = [((2, 11, 8, 1), 6, 5, 13), ((1, 7, 7, 2), 7, 7, 14), ((1, 10, 13, 1), 3, 8, 15)]


# ---- Exercise 4: the soft Dice loss ----


def dice_case(key):
    """``key = (kind, seed, smooth)``: masks in which the last of 4 classes never occurs, and
    random or perfect probabilities."""
    kind, seed, smooth = key
    rng = np.random.default_rng(seed)
    classes = 4
    masks = rng.integers(0, classes - 1, (2, 6, 5))
    if kind == "random":
        logits = rng.normal(0, 2, (2, 6, 5, classes))
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    else:  # a perfect one-hot prediction: the absent class is absent from both
        probabilities = np.eye(classes)[masks]
    return checks.Case((masks.astype(np.int32), probabilities.astype(np.float32)), {}, key)


def probe_dice(exercise, function, case):
    """The student's loss and its gradient with respect to the probabilities, as arrays."""
    import tensorflow as tf

    (masks, probabilities), smooth = case.copies()[0], case.key[2]
    variable = tf.Variable(probabilities)
    with tf.GradientTape() as tape:
        value = checks.run(exercise, function, tf.constant(masks), variable, smooth=smooth)
    gradient = None
    if tf.is_tensor(value):
        gradient = tape.gradient(value, variable)
    return {"value": value, "gradient": gradient}


def dice_reference(masks, probabilities, smooth, axes=(0, 1, 2), squared=False):
    """Soft Dice loss and its gradient, worked in NumPy: sums over ``axes``, mean of the rest."""
    p = np.asarray(probabilities, dtype=np.float64)
    g = np.eye(p.shape[-1])[np.asarray(masks, dtype=int)]
    overlap = np.sum(g * p, axis=axes, keepdims=True)
    total = np.sum(g**2 if squared else g, axis=axes, keepdims=True)
    total = total + np.sum(p**2 if squared else p, axis=axes, keepdims=True)
    coefficient = (2 * overlap + smooth) / (total + smooth)
    d_total = 2 * p if squared else np.ones_like(p)
    d_coefficient = (2 * g * (total + smooth) - (2 * overlap + smooth) * d_total) / (
        total + smooth
    ) ** 2
    return float(1.0 - np.mean(coefficient)), -d_coefficient / coefficient.size


def _dice_mistakes(masks, probabilities, smooth):
    """Wrong Dice losses, each with its hint."""
    right, _ = dice_reference(masks, probabilities, smooth)
    g = np.eye(probabilities.shape[-1])[masks]
    overlap = np.sum(g * probabilities, axis=(0, 1, 2))
    total = np.sum(g, axis=(0, 1, 2)) + np.sum(probabilities, axis=(0, 1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        unsmoothed = 1 - np.mean(2 * overlap / total)
    return {
        "you returned the Dice coefficient: the loss is 1 - Dice.": 1 - right,
        "no smoothing: add `smooth` to the numerator and the denominator (a class absent from "
        "both truth and prediction is then a perfect 1, not 0/0).": unsmoothed,
        "`smooth` only in the denominator: add it to the numerator too, so a perfect "
        "prediction gives a loss of 0.": 1 - np.mean((2 * overlap) / (total + smooth)),
        "Dice computed per image (axes 1, 2): sum over the batch too, axes (0, 1, 2), then "
        "average over classes.": dice_reference(masks, probabilities, smooth, axes=(1, 2))[0],
        "the classes were summed together (axes 0, 1, 2, 3): compute one Dice per class "
        "(axes 0, 1, 2), then average.": dice_reference(
            masks, probabilities, smooth, axes=(0, 1, 2, 3)
        )[0],
        "Dice computed per pixel (over the class axis): sum over the batch and the pixels, "
        "axes (0, 1, 2).": dice_reference(masks, probabilities, smooth, axes=(3,))[0],
    }


def judge_dice(exercise, case, output):
    """One Dice case: the value (plain or squared denominator), then its gradient."""
    masks, probabilities = case.args
    kind, _, smooth = case.key
    if not isinstance(output, dict):
        checks.fail(exercise, "the recorded outputs do not match the check's cases.")
    value = checks.unwrap(exercise, output.get("value"), "the loss")
    loss = checks.as_array(exercise, value, "the loss")
    if loss.size != 1:
        checks.fail(
            exercise,
            f"the loss should be one number, got shape {loss.shape}: average the per-class Dice "
            f"over classes.",
        )
    loss = float(loss.reshape(()))
    answers = [dice_reference(masks, probabilities, smooth, squared=s) for s in (False, True)]
    matching = [gradient for value, gradient in answers if np.isclose(loss, value, atol=1e-5)]
    if not matching:
        if not np.isfinite(loss):
            checks.fail(
                exercise,
                f"the loss is {loss} on a prediction where one class is absent from truth and "
                f"prediction: 0/0; add `smooth` to the numerator and the denominator.",
            )
        checks.diagnose(
            exercise,
            loss,
            answers[0][0],
            _dice_mistakes(masks, probabilities, smooth),
            context=f"on {kind} probabilities, ",
            atol=1e-5,
        )
    gradient = output.get("gradient")
    if kind == "random" and (gradient is None or not np.any(np.asarray(gradient))):
        checks.fail(
            exercise,
            "the loss has no gradient with respect to the probabilities: use keras.ops (not "
            "NumPy, not argmax) on y_pred.",
        )
    if gradient is not None:
        gradient = checks.as_array(exercise, gradient, "the gradient")
        # On a perfect prediction both denominators give the same value, not the same gradient.
        if any(
            gradient.shape == expected.shape and np.allclose(gradient, expected, 1e-3, 1e-5)
            for expected in matching
        ):
            return
        checks.diagnose(
            exercise,
            gradient,
            matching[0],
            {},
            context=f"the gradient on {kind} probabilities (keep every step in keras.ops): ",
            atol=1e-5,
            rtol=1e-3,
        )


DICE_KEYS = [("random", 4, 1.0), ("perfect", 5, 1.0)]
DICE_KEYS_HIDDEN = [("random", 14, 0.5), ("perfect", 15, 2.0), ("random", 16, 1.0)]
