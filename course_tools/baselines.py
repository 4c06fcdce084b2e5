"""Public recipes rebuilt on the course's data, so ``course bench`` can set them side by side.

* The keras.io example "Image Segmentation using Composable Fully-Convolutional Networks"
  (2023), as :func:`build_copied_recipe_heads` rebuilds it (shared ReLU'd maxp5 score, a new
  softmax 1x1 after each fusion, fixed bilinear ``UpSampling2D``), trained as the example does:
  32s, then 16s, then 8s, each scored right after its own training, with AdamW and plain
  cross-entropy. Its masks are resized bilinearly with the images; on the course's scenes images
  and masks already share a size, so that step is a no-op here. docs/fcn_copied_recipe.md
  explains why it can rank FCN-8s below FCN-32s; :func:`copied_recipe_post_mortem` measures it.
* The TensorFlow segmentation tutorial's decoder: pix2pix ``upsample`` blocks (Conv2DTranspose
  stride 2, N(0, 0.02) kernels, batch norm, ReLU) concatenated with encoder features of strides
  16, 8, 4, 2, trained with plain cross-entropy and Adam. It is set against the U-Net as
  notebooks/06 trains it (end to end, no pretrained encoder), and against the course's decoder
  (:func:`build_course_decoder`, notebooks/06's recipe) on the same frozen backbone, the
  like-for-like swap.

Each pair trains on the same scenes, split and number of epochs.
"""

import time

from course_utils import backbone, config, digit_scenes, segmentation

# course_utils.lectures.fcn_vgg (the FCN heads as the lecture writes them) is imported inside the
# functions: it loads Keras, which must wait for config.seed_everything().

TUTORIAL_SKIPS = ("block1_pool", "block2_pool", "block3_pool", "block4_pool")
# U-Net's skips: the features before each pooling, strides 1, 2, 4, 8 and 16.
COURSE_SKIPS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")


def build_copied_recipe_heads(num_classes, feature_shapes, width=256, dropout=0.3):
    """FCN-32s/16s/8s heads as the keras.io example builds them, on the course's features.

    The maxp5 score layer has a ReLU and is *shared* by the three models; after each fusion a
    new, randomly initialised 1x1 softmax layer classifies the sum; probabilities are upsampled
    by fixed bilinear ``UpSampling2D``. Returns ``{"32s": model, "16s": model, "8s": model}``.
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


def fit_kerasio(model, inputs, masks, epochs, batch_size=32):
    """keras.io's training: AdamW(1e-3, weight decay 1e-4), unweighted cross-entropy."""
    import keras

    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(),
    )
    started = time.perf_counter()
    model.fit(inputs, masks, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)
    return time.perf_counter() - started


def pix2pix_upsample(filters, size=3):
    """The tutorial's decoder block: transposed convolution x2, batch norm, ReLU."""
    import keras

    return keras.Sequential(
        [
            keras.layers.Conv2DTranspose(
                filters,
                size,
                strides=2,
                padding="same",
                kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
                use_bias=False,
            ),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
        ]
    )


def build_tutorial_decoder(num_classes, frozen_backbone, widths=(128, 64, 32, 16)):
    """The tutorial's U-Net-like model: frozen encoder, pix2pix decoder, logits out.

    Widths are the tutorial's 512-256-128-64 scaled by the course backbone's quarter width.
    """
    import keras

    encoder = backbone.feature_extractor(frozen_backbone, (*TUTORIAL_SKIPS, "block5_pool"))
    encoder.trainable = False
    inputs = keras.Input(shape=frozen_backbone.input_shape[1:])
    *skips, x = encoder(inputs)
    for filters, skip in zip(widths, reversed(skips)):
        x = pix2pix_upsample(filters)(x)
        x = keras.layers.Concatenate()([x, skip])
    logits = keras.layers.Conv2DTranspose(num_classes, 3, strides=2, padding="same")(x)
    return keras.Model(inputs, logits, name="tutorial_decoder")


def fit_tutorial(model, images, masks, epochs, batch_size=32):
    """The tutorial's training: Adam, cross-entropy on logits."""
    import keras

    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    started = time.perf_counter()
    model.fit(images, masks, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)
    return time.perf_counter() - started


def _scenes(mode):
    """The train and test scenes of the comparison (the FCN and U-Net topics' default sizes)."""
    count = {"fast": 256, "default": 4000, "full": 4000}[mode]
    train = digit_scenes.make_digit_scenes(count, split="train")
    test = digit_scenes.make_digit_scenes(max(count // 4, 64), split="test")
    return train, test


def _mean_iou(model, inputs, masks):
    """Mean IoU of a model on the test scenes."""
    return segmentation.evaluate(model, inputs, masks, digit_scenes.NUM_SCENE_CLASSES)["mean_iou"]


def compare_fcn(mode=None, epochs=None, seed=None):
    """Course FCN vs the keras.io recipe, 32s/16s/8s heads on the same cached features.

    ``seed`` defaults to the run's seed (``config.run_seed()``), as in the notebooks.
    """
    mode = mode or config.mode()
    epochs = epochs or {"fast": 1, "default": 12, "full": 12}[mode]
    # the same seeds, deterministic ops and kernels (oneDNN off) as notebook 04
    config.seed_everything(seed, onednn=False)
    train, test = _scenes(mode)
    frozen, _ = backbone.load_vgg16_backbone(train.images.shape[1:])
    train_features = segmentation.backbone_features(frozen, train.images)
    test_features = segmentation.backbone_features(frozen, test.images)
    shapes = [feature.shape[1:] for feature in train_features]
    from course_utils.lectures import fcn_vgg

    rows = {}
    copied = build_copied_recipe_heads(digit_scenes.NUM_SCENE_CLASSES, shapes)
    for variant in ("32s", "16s", "8s"):  # the example's order: its heads share layers
        course = fcn_vgg.fcn_head(digit_scenes.NUM_SCENE_CLASSES, variant, shapes)
        _, course_seconds = segmentation.fit_segmenter(
            course, (train_features, train.masks), epochs
        )
        public_seconds = fit_kerasio(copied[variant], train_features, train.masks, epochs)
        rows[variant] = {
            "course_mean_iou": _mean_iou(course, test_features, test.masks),
            "kerasio_mean_iou": _mean_iou(copied[variant], test_features, test.masks),
            "course_seconds": course_seconds,
            "kerasio_seconds": public_seconds,
        }
    return rows


def copied_recipe_post_mortem(scenes=600, epochs=8):
    """The table of docs/fcn_copied_recipe.md: mean IoU of each head on the same cached features.

    Rows: the copied recipe (trained 32s, 16s, 8s in turn, as the example does, plus its FCN-32s
    scored again after the others trained its shared layers), the course's FCN-8s head with the
    FCN paper's skip scaling (maxp4 x 0.01, maxp3 x 0.0001) under Adam, and the course's heads.
    Notebook 04's side budget: ``scenes`` training scenes, ``epochs`` epochs, 500 test scenes.
    """
    import keras

    from course_utils.lectures import fcn_vgg

    config.seed_everything()
    train = digit_scenes.make_digit_scenes(scenes, split="train")
    test = digit_scenes.make_digit_scenes(500 if scenes >= 500 else 64, split="test")
    frozen, _ = backbone.load_vgg16_backbone(train.images.shape[1:])
    train_features = segmentation.backbone_features(frozen, train.images)
    test_features = segmentation.backbone_features(frozen, test.images)
    shapes = [feature.shape[1:] for feature in train_features]
    table = {"copied recipe": {}, "paper's skip scaling, Adam": {}, "this course": {}}
    copied = build_copied_recipe_heads(digit_scenes.NUM_SCENE_CLASSES, shapes)
    keras.utils.set_random_seed(config.run_seed())
    for variant in ("32s", "16s", "8s"):  # in sequence: the maxp5 layers are shared
        fit_kerasio(copied[variant], train_features, train.masks, epochs)
        table["copied recipe"][variant] = _mean_iou(copied[variant], test_features, test.masks)
    table["copied recipe"]["32s, scored again"] = _mean_iou(
        copied["32s"], test_features, test.masks
    )
    scaled = [train_features[0] * 1e-4, train_features[1] * 1e-2, train_features[2]]
    scaled_test = [test_features[0] * 1e-4, test_features[1] * 1e-2, test_features[2]]
    for variant in ("32s", "16s", "8s"):
        for row, (inputs, tests) in (
            ("this course", (train_features, test_features)),
            ("paper's skip scaling, Adam", (scaled, scaled_test)),
        ):
            if row != "this course" and variant != "8s":
                continue
            keras.utils.set_random_seed(config.run_seed())
            head = fcn_vgg.fcn_head(digit_scenes.NUM_SCENE_CLASSES, variant, shapes)
            segmentation.fit_segmenter(
                head, (inputs, train.masks), epochs, learning_rate=6e-3, decay=True
            )
            table[row][variant] = _mean_iou(head, tests, test.masks)
    return table


def build_course_decoder(num_classes, frozen_backbone, widths=None):
    """The U-Net lecture's decoder on the frozen backbone, for the like-for-like comparison.

    As in ``course_utils.lectures.unet.build_unet``: the skips are the features just before each
    pooling (strides 1 to 16), a trainable ``conv_block`` bottleneck on the last pooling (stride
    32), then one ``decoder_level`` per skip (transposed convolution x2, concatenation, two
    convolutions).
    """
    import keras

    from course_utils.lectures import unet

    # The lecture's widths, the bottleneck's repeated: one more skip here than in its U-Net.
    widths = widths or (*unet.UNET_WIDTHS, unet.UNET_WIDTHS[-1])
    if len(widths) != len(COURSE_SKIPS) + 1:
        raise ValueError(f"give {len(COURSE_SKIPS) + 1} widths, one per skip and the bottleneck.")
    encoder = backbone.feature_extractor(frozen_backbone, (*COURSE_SKIPS, "block5_pool"))
    encoder.trainable = False
    inputs = keras.Input(shape=frozen_backbone.input_shape[1:])
    *skips, x = encoder(inputs)
    x = unet.conv_block(x, widths[-1], "bottleneck")
    for level in reversed(range(len(skips))):
        x = unet.decoder_level(x, skips[level], widths[level], f"up{level + 1}")
    outputs = keras.layers.Conv2D(num_classes, 1, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="course_decoder")


def fit_course_unet(model, scenes, epochs, crop=None):
    """notebooks/06's exported recipe (``unet.fit_scenes``): cross-entropy plus Dice, warm-up
    and cosine, its batch size; on ``crop`` x ``crop`` windows when given (a model of any input
    size). Returns the training seconds."""
    from course_utils.lectures import unet

    _, seconds = unet.fit_scenes(model, scenes.images, scenes.masks, epochs, crop=crop)
    return seconds


def compare_unet(mode=None, epochs=None, seed=None):
    """The TF tutorial's decoder on the frozen backbone against two course models.

    ``scratch``: the U-Net of notebooks/06, built and trained by its exported code
    (``course_utils.lectures.unet``) on its scenes for its epochs; ``decoder``: the lecture's
    decoder on the tutorial's frozen backbone, the like-for-like swap. Returns
    ``{model: {"mean_iou", "seconds"}}`` for ``scratch``, ``decoder``, ``tutorial``. ``seed``
    defaults to the run's seed (``config.run_seed()``), and each model starts from it, as in the
    notebook.
    """
    from course_utils.lectures import unet

    if mode not in (None, config.mode()):
        raise ValueError(f"run compare_unet in {mode} mode: set it with config.environment.")
    train_count, test_count, budget_epochs = unet.scene_budget()  # notebooks/06's budget
    epochs = epochs or budget_epochs
    seed = config.seed_everything(seed)
    train = digit_scenes.make_digit_scenes(train_count, split="train")
    test = digit_scenes.make_digit_scenes(test_count, split="test")
    frozen, _ = backbone.load_vgg16_backbone(train.images.shape[1:])
    builders = {
        "scratch": lambda: unet.build_unet(digit_scenes.NUM_SCENE_CLASSES, (None, None, 1)),
        "decoder": lambda: build_course_decoder(digit_scenes.NUM_SCENE_CLASSES, frozen),
        "tutorial": lambda: build_tutorial_decoder(digit_scenes.NUM_SCENE_CLASSES, frozen),
    }
    rows = {}
    for name, build in builders.items():
        config.seed_everything(seed)
        model = build()
        if name == "tutorial":
            seconds = fit_tutorial(model, train.images, train.masks, epochs)
        else:
            crop = unet.TRAINING_CROP if name == "scratch" else None  # the notebook's windows
            seconds = fit_course_unet(model, train, epochs, crop=crop)
        rows[name] = {"mean_iou": _mean_iou(model, test.images, test.masks), "seconds": seconds}
    return rows


def _ratio(numerator, denominator):
    """A ratio printed for a table, safe when the denominator is zero."""
    return f"{numerator / denominator:.2f}" if denominator else "n/a"


def bench_measures(mode):
    """Rows for ``course bench``: each pair's mean IoU and training time, and their ratios."""
    rows = []
    fcn = compare_fcn(mode)
    for variant in ("32s", "16s", "8s"):
        row = fcn[variant]
        rows += [
            (
                f"FCN-{variant} mean IoU, course / keras.io recipe",
                f"{row['course_mean_iou']:.3f} / {row['kerasio_mean_iou']:.3f} "
                f"(ratio {_ratio(row['course_mean_iou'], row['kerasio_mean_iou'])})",
            ),
            (
                f"FCN-{variant} training s, course / keras.io recipe",
                f"{row['course_seconds']:.0f} / {row['kerasio_seconds']:.0f} "
                f"(ratio {_ratio(row['course_seconds'], row['kerasio_seconds'])})",
            ),
        ]
    rows.append(
        (
            "FCN-8s minus FCN-32s mean IoU, course / keras.io recipe",
            f"{fcn['8s']['course_mean_iou'] - fcn['32s']['course_mean_iou']:+.3f} / "
            f"{fcn['8s']['kerasio_mean_iou'] - fcn['32s']['kerasio_mean_iou']:+.3f}",
        )
    )
    unets = compare_unet(mode)
    tutorial = unets["tutorial"]
    for name, label in (
        ("scratch", "U-Net as notebook 06 trains it"),
        ("decoder", "U-Net decoder on the same frozen backbone"),
    ):
        course = unets[name]
        rows += [
            (
                f"{label}, mean IoU, course / TF tutorial decoder",
                f"{course['mean_iou']:.3f} / {tutorial['mean_iou']:.3f} "
                f"(ratio {_ratio(course['mean_iou'], tutorial['mean_iou'])})",
            ),
            (
                f"{label}, training s, course / TF tutorial decoder",
                f"{course['seconds']:.0f} / {tutorial['seconds']:.0f} "
                f"(ratio {_ratio(course['seconds'], tutorial['seconds'])})",
            ),
        ]
    return rows
