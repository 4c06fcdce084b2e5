"""Semantic segmentation shared by the FCN, U-Net and benchmark code: metrics, FCN, training.

Metrics (NumPy only):

* :func:`confusion_matrix` of true and predicted masks (rows: truth, columns: prediction);
* :func:`iou_per_class`, :func:`mean_iou`, :func:`pixel_accuracy` from a confusion matrix, and
  :func:`evaluate` for a model; :func:`oracle_ceiling`, the best mean IoU a map at a given stride
  can reach once upsampled.

Models and training (Keras):

* :func:`bilinear_kernel`, the Conv2DTranspose weights of bilinear upsampling;
* :func:`build_fcn`: FCN-32s, 16s and 8s from one function on the frozen VGG16-layout backbone
  of :mod:`course_utils.backbone` (1x1 score layers, zero-initialised skip scores, bilinear
  Conv2DTranspose upsampling, fusion by addition);
* the speed path for a frozen backbone: :func:`backbone_features` computes maxp3, maxp4 and maxp5
  once, :func:`build_fcn_head` trains on them, ``build_fcn(..., head=head)`` puts the trained head
  back on the backbone;
* :func:`class_weights`, :func:`weighted_loss`, :func:`masked_loss` (partial labels) and
  :func:`fit_segmenter`, the course's training recipe, reusable for a U-Net (with
  :func:`epoch_timer` for fair timings);
* :func:`build_copied_recipe_heads`, an often-copied recipe rebuilt for comparison.

Why the FCN heads train as they do (measured on digit scenes, see notebooks/04): class weights,
or every variant predicts background; skip features of unit scale (see
``backbone.balance_feature_scales``), or Adam moves the skip score layers too slowly; linear,
zero-initialised skip scores fused before one bilinear upsampling.
"""

import time

import numpy as np

from course_utils import backbone as backbone_module

IGNORE = 255  # the label of unlabelled pixels (partial labels)
STRIDES = {"32s": 32, "16s": 16, "8s": 8}
# Foreground thresholds the oracle tries (see oracle_ceiling).
ORACLE_THRESHOLDS = tuple(np.round(np.arange(0.05, 0.65, 0.05), 2))
FEATURES = ("block3_pool", "block4_pool", "block5_pool")  # maxp3, maxp4, maxp5


# ---------------------------------------------------------------------------------------------
# Metrics


def _masks(masks, what):
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
    true_masks = _masks(true_masks, "true_masks")
    predicted_masks = _masks(predicted_masks, "predicted_masks")
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
    return np.eye(num_classes, dtype=np.float32)[_masks(masks, "masks")]


def coarse_scores(masks, stride, num_classes):
    """Class fractions of every ``stride`` x ``stride`` cell: the best stride-s score map."""
    scores = one_hot(masks, num_classes)
    count, height, width, _ = scores.shape
    if height % stride or width % stride:
        raise ValueError(f"mask size {height}x{width} is not a multiple of stride {stride}.")
    cells = scores.reshape(count, height // stride, stride, width // stride, stride, num_classes)
    return cells.mean(axis=(2, 4))


def upsampling_matrix(size, factor):
    """(size * factor, size) matrix of 1-D bilinear upsampling as Conv2DTranspose does it.

    The same numbers as ``Conv2DTranspose(kernel 2 * factor, strides=factor, padding="same")``
    with :func:`bilinear_kernel`: input cell ``r`` stamps the 1-D ramp at ``r * factor - factor
    // 2``, so the map's borders fade (zero padding) where ``tf.image.resize`` would clamp.
    """
    kernel_size = 2 * factor
    ramp = bilinear_ramp(kernel_size)
    matrix = np.zeros((size * factor, size), dtype=np.float32)
    for cell in range(size):
        start = cell * factor - factor // 2
        rows = np.arange(start, start + kernel_size)
        inside = (rows >= 0) & (rows < size * factor)
        matrix[rows[inside], cell] = ramp[inside]
    return matrix


def upsample_bilinear(scores, factor):
    """Upsample (N, h, w, C) score maps by ``factor`` with the FCN's bilinear transposed conv."""
    scores = np.asarray(scores, dtype=np.float32)
    rows = upsampling_matrix(scores.shape[1], factor)
    cols = upsampling_matrix(scores.shape[2], factor)
    return np.einsum("ir,nrsc,js->nijc", rows, scores, cols, optimize=True)


def oracle_masks(masks, stride, num_classes, threshold):
    """The truth seen at ``stride``: cell class fractions, bilinear-upsampled, thresholded.

    Where the upsampled foreground fraction exceeds ``threshold`` the pixel takes the most
    present non-background class, elsewhere background (class 0).
    """
    upsampled = upsample_bilinear(coarse_scores(masks, stride, num_classes), stride)
    foreground = upsampled[..., 1:].sum(axis=-1)
    digit = upsampled[..., 1:].argmax(axis=-1) + 1
    return np.where(foreground > threshold, digit, 0)


def oracle(masks, stride, num_classes, thresholds=ORACLE_THRESHOLDS):
    """``(mean IoU, threshold)`` of the best oracle map at ``stride`` (see oracle_ceiling)."""
    masks = _masks(masks, "masks")
    if stride == 1:
        return mean_iou(confusion_matrix(masks, masks, num_classes)), 0.5
    scored = [
        (
            mean_iou(
                confusion_matrix(masks, oracle_masks(masks, stride, num_classes, t), num_classes)
            ),
            t,
        )
        for t in thresholds
    ]
    return max(scored)


def oracle_ceiling(masks, stride, num_classes, thresholds=ORACLE_THRESHOLDS):
    """Mean IoU of the ground truth itself seen at ``stride``: the ceiling of an FCN-``stride``s.

    The truth is averaged over each stride x stride cell (class fractions: the best score map a
    model at that stride could hold), upsampled back with the FCN's bilinear kernel, and read
    as: the most present class where the upsampled foreground fraction exceeds a threshold,
    background elsewhere (:func:`oracle_masks`). The oracle keeps the threshold (of
    ``thresholds``) with the best mean IoU: thin strokes never fill half a coarse cell, so a
    plain argmax would say "background" almost everywhere. Class 0 is the background.
    """
    return oracle(masks, stride, num_classes, thresholds)[0]


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
# Class weights and losses


def class_weights(masks, num_classes, ignore=IGNORE):
    """Square-root inverse-frequency weights, normalised so the average pixel weighs 1.

    A class absent from ``masks`` gets the largest weight of the present ones.
    """
    masks = _masks(masks, "masks")
    counts = np.bincount(masks[masks != ignore].ravel(), minlength=num_classes)[:num_classes]
    if counts.sum() == 0:
        raise ValueError("masks hold no labelled pixel: nothing to weigh.")
    frequency = counts / counts.sum()
    weights = np.where(counts > 0, 1.0 / np.sqrt(np.where(counts > 0, frequency, 1.0)), 0.0)
    weights /= np.sum(frequency * weights)
    weights[counts == 0] = weights.max()
    return weights.astype(np.float32)


def weighted_loss(weights, ignore=IGNORE):
    """Per-pixel cross-entropy weighted by the true class, averaged over the labelled pixels.

    ``weights`` is one number per class (``None`` for plain cross-entropy); pixels labelled
    ``ignore`` count for nothing, so the same loss trains on partial labels.
    """
    import keras

    table = None if weights is None else np.asarray(weights, dtype=np.float32)

    def loss(y_true, y_pred):
        """Weighted mean of the per-pixel cross-entropy over labelled pixels."""
        y_true = keras.ops.cast(keras.ops.reshape(y_true, keras.ops.shape(y_pred)[:-1]), "int32")
        labelled = keras.ops.not_equal(y_true, ignore)
        safe = keras.ops.where(labelled, y_true, 0)
        pixel_loss = keras.ops.sparse_categorical_crossentropy(safe, y_pred)
        weight = keras.ops.cast(labelled, "float32")
        if table is not None:
            weight = weight * keras.ops.take(keras.ops.convert_to_tensor(table), safe)
        return keras.ops.sum(pixel_loss * weight) / keras.ops.maximum(keras.ops.sum(weight), 1e-6)

    loss.__name__ = "weighted_crossentropy" if table is not None else "masked_crossentropy"
    return loss


def masked_loss(ignore=IGNORE):
    """Cross-entropy averaged over labelled pixels only (partial labels); no class weights."""
    return weighted_loss(None, ignore)


def partial_labels(masks, points_per_class=5, seed=0, ignore=IGNORE):
    """Keep ``points_per_class`` random labelled pixels of each class present in each mask.

    Every other pixel becomes ``ignore``: the clicks an annotator would make instead of
    painting every pixel.
    """
    masks = _masks(masks, "masks")
    rng = np.random.default_rng(seed)
    partial = np.full(masks.shape, ignore, dtype=np.uint8)
    for index, mask in enumerate(masks):
        flat = mask.ravel()
        for label in np.unique(flat):
            where = np.flatnonzero(flat == label)
            chosen = rng.choice(where, size=min(points_per_class, len(where)), replace=False)
            partial[index].flat[chosen] = label
    return partial


# ---------------------------------------------------------------------------------------------
# FCN


def bilinear_ramp(kernel_size):
    """The 1-D triangle of bilinear interpolation for a kernel of ``kernel_size`` taps."""
    factor = (kernel_size + 1) // 2
    centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    return (1 - np.abs(np.arange(kernel_size) - centre) / factor).astype(np.float32)


def bilinear_kernel(kernel_size, channels):
    """(k, k, C, C) float32 weights making Conv2DTranspose a bilinear upsampler, class by class.

    For stride ``s`` use ``kernel_size = 2 * s`` and ``padding="same"``. Channel ``c`` only feeds
    channel ``c`` (a diagonal in the last two axes), so classes are upsampled, never mixed.
    """
    ramp = bilinear_ramp(kernel_size)
    kernel = np.zeros((kernel_size, kernel_size, channels, channels), dtype=np.float32)
    kernel[:, :, np.arange(channels), np.arange(channels)] = np.outer(ramp, ramp)[..., None]
    return kernel


def upsampling_layer(num_classes, factor, init="bilinear", name=None):
    """Conv2DTranspose upsampling class scores by ``factor``, bilinear- or randomly initialised."""
    import keras

    if init == "bilinear":
        initializer = keras.initializers.Constant(bilinear_kernel(2 * factor, num_classes))
    elif init == "random":
        initializer = "glorot_uniform"
    else:
        raise ValueError(f"init must be 'bilinear' or 'random', got {init!r}.")
    return keras.layers.Conv2DTranspose(
        num_classes,
        2 * factor,
        strides=factor,
        padding="same",
        use_bias=False,
        kernel_initializer=initializer,
        name=name,
    )


def _check_variant(variant):
    """The variant's name normalised ('8s'), or a one-line error."""
    variant = str(variant).lower().removeprefix("fcn").removeprefix("-")
    if variant not in STRIDES:
        raise ValueError(f"variant must be one of '32s', '16s', '8s', got {variant!r}.")
    return variant


def build_fcn_head(
    num_classes,
    variant="8s",
    feature_shapes=((8, 8, 64), (4, 4, 128), (2, 2, 128)),
    width=256,
    dropout=0.3,
    upsample_init="bilinear",
    skip_scales=(1.0, 1.0),
):
    """The trainable part of an FCN: from (maxp3, maxp4, maxp5) features to class probabilities.

    On maxp5: a 3x3 and a 1x1 convolution (VGG's fc6/fc7, narrowed) and a 1x1 score layer;
    FCN-16s adds a zero-initialised 1x1 score of maxp4 to the x2-upsampled scores, FCN-8s then
    the same with maxp3; the fused scores are upsampled to the image by 32, 16 or 8. Every
    upsampling is a Conv2DTranspose with kernel 2 x factor, bilinear-initialised and trainable.
    ``skip_scales`` multiplies maxp4 and maxp3 before scoring (1: the course; the FCN paper used
    0.01 and 0.0001 with SGD). Shapes may have ``None`` spatial sizes (multiples of 32 at input).
    """
    import keras

    variant = _check_variant(variant)
    maxp3 = keras.Input(shape=feature_shapes[0], name="maxp3")
    maxp4 = keras.Input(shape=feature_shapes[1], name="maxp4")
    maxp5 = keras.Input(shape=feature_shapes[2], name="maxp5")
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="fc6")(maxp5)
    x = keras.layers.Dropout(dropout, name="drop6")(x)
    x = keras.layers.Conv2D(width, 1, activation="relu", name="fc7")(x)
    x = keras.layers.Dropout(dropout, name="drop7")(x)
    scores = keras.layers.Conv2D(num_classes, 1, name="score_maxp5")(x)
    skips = {"16s": [maxp4], "8s": [maxp4, maxp3]}.get(variant, [])
    for skip, name, scale in zip(skips, ("maxp4", "maxp3"), skip_scales):
        if scale != 1:
            # The FCN paper's "at once" net multiplied pool4 by 0.01 and pool3 by 0.0001.
            skip = keras.layers.Rescaling(scale, name=f"scale_{name}")(skip)
        # Zero-initialised: at the start the finer model is exactly the coarser one.
        skip_scores = keras.layers.Conv2D(
            num_classes, 1, kernel_initializer="zeros", name=f"score_{name}"
        )(skip)
        scores = upsampling_layer(num_classes, 2, upsample_init, name=f"up2_to_{name}")(scores)
        scores = keras.layers.Add(name=f"fuse_{name}")([scores, skip_scores])
    factor = STRIDES[variant]
    scores = upsampling_layer(num_classes, factor, upsample_init, name=f"up{factor}")(scores)
    outputs = keras.layers.Softmax(name="probabilities")(scores)
    return keras.Model([maxp3, maxp4, maxp5], outputs, name=f"fcn{variant}_head")


def build_fcn(
    num_classes,
    variant="8s",
    input_shape=(64, 64, 3),
    backbone=None,
    head=None,
    fine_tune=False,
    **head_options,
):
    """FCN-32s, 16s or 8s on the frozen VGG16-layout backbone (see :func:`build_fcn_head`).

    ``backbone`` defaults to ``backbone.load_vgg16_backbone(input_shape)``; pass a ``head``
    trained on cached features to reuse it. ``fine_tune=True`` unfreezes the backbone.
    """
    import keras

    variant = _check_variant(variant)
    if backbone is None:
        backbone, _ = backbone_module.load_vgg16_backbone(input_shape)
    backbone.trainable = bool(fine_tune)
    features = backbone_module.feature_extractor(backbone, FEATURES)
    if head is None:
        shapes = [tuple(output.shape[1:]) for output in features.outputs]
        head = build_fcn_head(num_classes, variant, shapes, **head_options)
    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    outputs = head(features(inputs))
    return keras.Model(inputs, outputs, name=f"fcn{variant}")


def backbone_features(backbone, images, batch_size=64):
    """maxp3, maxp4 and maxp5 of a frozen backbone for every image, computed once (a list)."""
    features = backbone_module.feature_extractor(backbone, FEATURES)
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
):
    """The course's recipe: Adam, class-weighted cross-entropy, shuffled mini-batches.

    ``train_scenes`` (and ``validation``) are ``digit_scenes.Scenes`` or ``(inputs, masks)`` pairs;
    inputs may be cached features for a head. ``weights``: ``"sqrt"`` (square-root inverse
    frequency, :func:`class_weights`), ``None`` (plain cross-entropy) or one weight per class.
    ``loss`` overrides the loss altogether. Returns ``(history, seconds)``.
    """
    import keras

    from course_utils import progress

    inputs, masks = _inputs_and_masks(train_scenes)
    num_classes = num_classes or int(model.output_shape[-1])
    if loss is None:
        if isinstance(weights, str):
            if weights != "sqrt":
                raise ValueError(f"weights must be 'sqrt', None or an array, got {weights!r}.")
            weights = class_weights(masks, num_classes)
        loss = weighted_loss(weights)
    if decay:
        # Cosine decay to zero over the run: the last epochs refine instead of jittering.
        steps = epochs * int(np.ceil(len(np.asarray(masks)) / batch_size))
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    started = time.perf_counter()
    history = model.fit(
        inputs,
        np.asarray(masks),
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        validation_data=None if validation is None else tuple(_inputs_and_masks(validation)),
        verbose=0,
        callbacks=[progress.EpochBar(), *callbacks],
    )
    return history, time.perf_counter() - started


def build_copied_recipe_heads(num_classes, feature_shapes, width=256, dropout=0.3):
    """FCN-32s/16s/8s heads as an often-copied Keras example builds them, for comparison.

    The recipe of keras.io's "Image Segmentation using Composable Fully-Convolutional Networks"
    (2023), on our features: the maxp5 score layer has a ReLU and is *shared* by the three
    models; after each fusion a new, randomly initialised 1x1 softmax layer classifies the sum;
    probabilities are upsampled by fixed bilinear ``UpSampling2D``. The example trains them one
    after the other with AdamW and plain cross-entropy. Returns ``{"32s": model, ...}``.
    """
    import keras

    maxp3, maxp4, maxp5 = (keras.Input(shape=shape) for shape in feature_shapes)
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(maxp5)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Conv2D(width, 1, activation="relu")(x)
    x = keras.layers.Dropout(dropout)(x)
    scores = keras.layers.Conv2D(num_classes, 1, activation="relu")(x)
    outputs = {}
    fused, factor = scores, 32
    for variant, skip in (("32s", None), ("16s", maxp4), ("8s", maxp3)):
        if skip is not None:
            skip_scores = keras.layers.Conv2D(num_classes, 1, kernel_initializer="zeros")(skip)
            upsampled = keras.layers.UpSampling2D(2, interpolation="bilinear")(fused)
            fused, factor = keras.layers.Add()([skip_scores, upsampled]), factor // 2
        probabilities = keras.layers.Conv2D(num_classes, 1, activation="softmax")(fused)
        outputs[variant] = keras.layers.UpSampling2D(factor, interpolation="bilinear")(
            probabilities
        )
    inputs = [maxp3, maxp4, maxp5]
    return {
        variant: keras.Model(inputs, output, name=f"copied_fcn{variant}")
        for variant, output in outputs.items()
    }
