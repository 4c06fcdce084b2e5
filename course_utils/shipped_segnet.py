"""Notebook 06's SegNet as ``course_tools/train_segnet.py`` trained it, for default mode.

A laptop has time in notebook 06's budget to train one network from scratch, not two: default
mode trains the U-Net and loads SegNet's weights from ``assets/segnet_digit_scenes.npz``, trained
by the lecture's own code (``course_utils.lectures.unet``) at seed 0. The file carries a
fingerprint of that code; :func:`load_shipped_segnet` refuses weights trained on older code (or a
missing, corrupt or mismatched file) in one line, and the notebook then trains SegNet itself.
"""

import hashlib
import inspect
import pathlib

import numpy as np

from course_utils import digit_scenes, segmentation, shipped_weights, unet

SHIPPED_SEGNET = shipped_weights.ASSETS / "segnet_digit_scenes.npz"
RETRAIN_SEGNET = "python -m course_tools.train_segnet"


def segnet_fingerprint():
    """A hash of the code that decides what the shipped SegNet learns.

    The lecture's SegNet and recipe, topic 02's pooling and unpooling, topic 04's loss and class
    weights, the training loop, the windows and the scene generator. Weights trained before any
    of these changed no longer show what the lecture teaches: :func:`load_shipped_segnet`
    refuses them and the notebook trains SegNet itself.
    """
    from course_utils.lectures import conv2d_transpose, fcn_vgg
    from course_utils.lectures import unet as lecture

    parts = (
        lecture.scene_budget,
        lecture.conv_block,
        lecture.segnet_encoder_stage,
        lecture.segnet_decoder_stage,
        lecture.build_segnet,
        lecture.dice_loss,
        lecture.warmup_cosine,
        lecture.crossentropy_plus_dice,
        lecture.fit_scenes,
        conv2d_transpose.MaxPoolingWithArgmax2D,
        conv2d_transpose.MaxUnpooling2D,
        fcn_vgg.weighted_crossentropy,
        fcn_vgg.class_weights,
        segmentation.fit_segmenter,
        unet.augment_pair,
        unet.augmented_dataset,
        digit_scenes.make_digit_scenes,
    )
    constants = (lecture.SEGNET_WIDTHS, lecture.LEARNING_RATE, lecture.TRAINING_CROP)
    text = "\n".join(inspect.getsource(part) for part in parts) + repr(constants)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_shipped_segnet(model, history, seconds, mean_iou, seed, path=SHIPPED_SEGNET):
    """Save a trained lecture SegNet (float16 weights by path), its loss curve and facts."""
    weights = {f"weights/{weight.path}": np.asarray(weight) for weight in model.weights}
    loss = {"history/loss": np.asarray(history.history["loss"], np.float32)}
    facts = {
        "fingerprint": segnet_fingerprint(),
        "seconds": seconds,
        "mean_iou": mean_iou,
        "seed": seed,
    }
    return shipped_weights.save_weights(path, weights, facts, others=loss)


def load_shipped_segnet(model, path=SHIPPED_SEGNET):
    """Give the lecture's SegNet ``model`` the weights ``course_tools/train_segnet.py`` trained.

    Returns ``(history, info)``: the training's loss per epoch as a dict (for
    ``plots.plot_history``) and its facts (seed, seconds, mean IoU when saved). Returns None, and
    says why in one line, when the file is missing or unreadable or was trained on code that has
    changed since: then train the model instead (the notebook does).
    """
    path = pathlib.Path(path)
    try:
        arrays, info = shipped_weights.load_weights(path)
        loss = arrays["history/loss"].tolist()
    except (OSError, ValueError, KeyError) as error:
        print(f"No usable shipped SegNet ({path.name}: {error}); training it here instead.")
        return None
    weights = {key[len("weights/") :]: arrays[key] for key in arrays if key.startswith("weights/")}
    if info.get("fingerprint") != segnet_fingerprint():
        print(
            f"The shipped SegNet was trained before the lecture's SegNet or recipe changed; "
            f"training it here instead ({RETRAIN_SEGNET} refreshes the shipped weights)."
        )
        return None
    missing = [weight.path for weight in model.weights if weight.path not in weights]
    wrong = [
        weight.path
        for weight in model.weights
        if weight.path in weights and tuple(weights[weight.path].shape) != tuple(weight.shape)
    ]
    if missing or wrong or len(weights) != len(model.weights):
        print(
            f"The shipped SegNet does not fit this model ({len(missing)} weights missing, "
            f"{len(wrong)} of another shape): pass the lecture's build_segnet(NUM_CLASSES); "
            f"training it here instead."
        )
        return None
    for weight in model.weights:
        weight.assign(weights[weight.path])
    return {"loss": loss}, info
