"""Semantic segmentation's plumbing, shared by topics 03 to 06: metrics, prediction, training.

Metrics (NumPy only): :func:`confusion_matrix` of true and predicted masks (rows: truth,
columns: prediction); :func:`iou_per_class`, :func:`mean_iou` and :func:`pixel_accuracy` from it;
:func:`evaluate` for a model and :func:`predict_masks`.

Training: :func:`fit_segmenter`, the course's recipe (Adam, the class-weighted cross-entropy of
the FCN lecture, shuffled mini-batches), with :func:`epoch_timer` for fair timings;
:func:`backbone_features`, the frozen backbone's maxp3, maxp4 and maxp5 computed once (the speed
path of topic 04); :func:`partial_labels`, a few clicks per object.

The networks and the loss themselves are written in the lectures and imported from
``course_utils.lectures.fcn_vgg`` (after ``config.setup()``).
"""

import time

import numpy as np

IGNORE = 255  # the label of unlabelled pixels (partial labels), as the lecture's loss skips them


# ---------------------------------------------------------------------------------------------
# Metrics


def as_masks(masks, what):
    """Masks as an integer array, or a one-line error naming the fix."""
    masks = np.asarray(masks)
    if masks.dtype.kind == "f":
        if not np.all(masks == np.round(masks)):
            raise ValueError(
                f"{what} holds fractional values: pass class indices (e.g. "
                f"predictions.argmax(-1)), not probabilities."
            )
    elif masks.dtype.kind not in "iub":
        raise ValueError(f"{what} should hold integer class indices, got dtype {masks.dtype}.")
    return masks.astype(np.int64)


def confusion_matrix(true_masks, predicted_masks, num_classes, ignore=IGNORE):
    """(C, C) int64 pixel counts: row = true class, column = predicted class.

    Pixels whose true label is ``ignore`` (unlabelled) are left out.
    """
    true_masks = as_masks(true_masks, "true_masks")
    predicted_masks = as_masks(predicted_masks, "predicted_masks")
    if true_masks.shape != predicted_masks.shape:
        raise ValueError(
            f"true_masks {true_masks.shape} and predicted_masks {predicted_masks.shape} differ: "
            f"take argmax over the class axis of the predictions first."
        )
    labelled = true_masks != ignore
    truth, predicted = true_masks[labelled], predicted_masks[labelled]
    for name, values in (("true_masks", truth), ("predicted_masks", predicted)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"{name} holds class {values.max()}, outside 0..{num_classes - 1}: "
                f"check num_classes."
            )
    counts = np.bincount(truth * num_classes + predicted, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def iou_per_class(confusion):
    """Intersection over union of each class; NaN for a class in neither truth nor prediction."""
    confusion = np.asarray(confusion, dtype=np.float64)
    intersection = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / np.where(union > 0, union, 1), np.nan)


def mean_iou(confusion):
    """Mean IoU over the classes present in truth or prediction (as ``keras.metrics.MeanIoU``)."""
    iou = iou_per_class(confusion)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


def pixel_accuracy(confusion):
    """Fraction of pixels whose predicted class is the true one."""
    confusion = np.asarray(confusion, dtype=np.float64)
    return float(np.trace(confusion) / max(confusion.sum(), 1))


def predict_masks(model, inputs, batch_size=64):
    """Class-index masks (N, H, W) predicted by a model whose last axis scores the classes.

    Calls the model eagerly batch by batch: evaluating many models in a loop with
    ``model.predict`` would retrace a function per model and flood the notebook with warnings.
    """
    arrays = inputs if isinstance(inputs, list | tuple) else [inputs]
    count = len(arrays[0])
    masks = []
    for start in range(0, count, batch_size):
        batch = [np.asarray(a[start : start + batch_size]) for a in arrays]
        scores = model(batch if isinstance(inputs, list | tuple) else batch[0], training=False)
        masks.append(np.asarray(scores).argmax(axis=-1))
    return np.concatenate(masks) if masks else np.zeros((0,), np.int64)


def evaluate(model, images, masks, num_classes, batch_size=64):
    """Pixel accuracy, mean IoU, IoU per class and the confusion matrix of a model on masks.

    ``images`` is whatever the model takes: images, or cached backbone features for a head.
    """
    confusion = confusion_matrix(masks, predict_masks(model, images, batch_size), num_classes)
    return {
        "pixel_accuracy": pixel_accuracy(confusion),
        "mean_iou": mean_iou(confusion),
        "iou_per_class": iou_per_class(confusion),
        "confusion": confusion,
    }


def one_hot(masks, num_classes):
    """Float32 one-hot encoding (N, H, W, C) of class-index masks."""
    return np.eye(num_classes, dtype=np.float32)[as_masks(masks, "masks")]


def epoch_timer():
    """A Keras callback whose ``times`` list gets the seconds of every epoch (fair timings)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Seconds per epoch, first epoch (with its tracing) included."""

        def __init__(self):
            super().__init__()
            self.times = []
            self._started = None

        def on_epoch_begin(self, epoch, logs=None):
            """Start the clock."""
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            """Stop the clock."""
            self.times.append(time.perf_counter() - self._started)

    return EpochTimer()


# ---------------------------------------------------------------------------------------------
# Training


def partial_labels(masks, points_per_class=5, seed=0, ignore=IGNORE):
    """Keep ``points_per_class`` random labelled pixels of each class present in each mask.

    Every other pixel becomes ``ignore``: the clicks an annotator would make instead of
    painting every pixel.
    """
    masks = as_masks(masks, "masks")
    rng = np.random.default_rng(seed)
    partial = np.full(masks.shape, ignore, dtype=np.uint8)
    for index, mask in enumerate(masks):
        flat = mask.ravel()
        for label in np.unique(flat):
            where = np.flatnonzero(flat == label)
            chosen = rng.choice(where, size=min(points_per_class, len(where)), replace=False)
            partial[index].flat[chosen] = label
    return partial


def backbone_features(backbone, images, batch_size=64):
    """maxp3, maxp4 and maxp5 of a frozen backbone for every image, computed once (a list)."""
    from course_utils.lectures import fcn_vgg

    features = fcn_vgg.pooling_outputs(backbone)
    return [np.asarray(a) for a in features.predict(images, batch_size=batch_size, verbose=0)]


def _inputs_and_masks(train):
    """(inputs, masks) from a Scenes-like object or an ``(inputs, masks)`` pair."""
    if hasattr(train, "images") and hasattr(train, "masks"):
        return train.images, train.masks
    if isinstance(train, tuple | list) and len(train) == 2:
        return train
    raise ValueError(
        "pass the training data as digit_scenes.Scenes (with .images and .masks) or as a pair "
        "(inputs, masks)."
    )


def fit_segmenter(
    model,
    train_scenes,
    epochs,
    batch_size=32,
    learning_rate=1e-3,
    weights="sqrt",
    validation=None,
    num_classes=None,
    callbacks=(),
    loss=None,
    decay=False,
    crop=None,
):
    """The course's recipe: Adam, class-weighted cross-entropy, shuffled mini-batches.

    ``train_scenes`` (and ``validation``) are ``digit_scenes.Scenes`` or ``(inputs, masks)`` pairs;
    inputs may be cached features for a head. The loss is the FCN lecture's
    ``weighted_crossentropy`` with ``weights``: ``"sqrt"`` (the lecture's ``class_weights``,
    square-root inverse frequency), ``None`` (plain cross-entropy over labelled pixels) or one
    weight per class. ``loss`` overrides the loss altogether. ``crop``: train on a random
    ``crop`` x ``crop`` window of each image and its mask, a new one every epoch (the model must
    take that size; it still predicts whole images). Returns ``(history, seconds)``.
    """
    import keras

    from course_utils import progress
    from course_utils.lectures import fcn_vgg

    inputs, masks = _inputs_and_masks(train_scenes)
    num_classes = num_classes or int(model.output_shape[-1])
    if loss is None:
        if isinstance(weights, str):
            if weights != "sqrt":
                raise ValueError(f"weights must be 'sqrt', None or an array, got {weights!r}.")
            weights = fcn_vgg.class_weights(masks, num_classes)
        loss = fcn_vgg.weighted_crossentropy(weights)
    if decay:
        # Cosine decay to zero over the run: the last epochs refine instead of jittering.
        steps = epochs * int(np.ceil(len(np.asarray(masks)) / batch_size))
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    if crop is None:
        batches = {"x": inputs, "y": np.asarray(masks), "batch_size": batch_size, "shuffle": True}
    else:
        from course_utils import config, unet

        windows = unet.augmented_dataset(
            inputs, masks, batch_size, seed=config.run_seed(), max_shift=0, crop=crop
        )
        batches = {"x": windows, "shuffle": False}  # the dataset shuffles, new windows each epoch
    started = time.perf_counter()
    history = model.fit(
        **batches,
        epochs=epochs,
        validation_data=None if validation is None else tuple(_inputs_and_masks(validation)),
        verbose=0,
        callbacks=[progress.EpochBar(), *callbacks],
    )
    return history, time.perf_counter() - started
