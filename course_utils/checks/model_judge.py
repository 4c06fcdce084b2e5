"""Checks of models a student builds: the probe that calls the student's builder, the structure
every autoencoder-like model must have, and rebuilding a recorded model for its judge.

Shared by the checks of topics 03 (:mod:`course_utils.checks.conv_autoencoder`) and 05
(:mod:`course_utils.checks.resnet_blocks`).
"""

from course_utils import checks
from course_utils.checks import plain


def probe_model(exercise, function, case):
    """The student's builder on the case's inputs: its model, or a one-line hint."""
    import keras

    args, kwargs = case.copies()
    model = checks.run(exercise, function, *args, **kwargs)
    if isinstance(model, plain.Crashed | keras.Model):
        return model
    return plain.Crashed(
        f"expected a keras.Model, got {type(model).__name__}: end with "
        f"return keras.Model(inputs, outputs)."
    )


def activation(layer):
    """The name of a layer's activation ('linear' when it has none)."""
    return getattr(getattr(layer, "activation", None), "__name__", "linear")


def activated(layers, layer, name):
    """True if ``layer`` applies activation ``name`` itself or through the layer after it."""
    if activation(layer) == name:
        return True
    position = layers.index(layer)
    following = layers[position + 1] if position + 1 < len(layers) else None
    if following is None:
        return False
    if type(following).__name__ == "ReLU":
        return name == "relu"
    return type(following).__name__ in ("Activation", "Softmax") and activation(following) == name


def common_structure(exercise, model):
    """No dense layers, pooling or fixed upsamplers: strided convs down, transposed convs up."""
    layers = list(checks.flat_layers(model))
    kinds = {type(layer).__name__ for layer in layers}
    if kinds & {"Dense", "Flatten", "Reshape"}:
        checks.fail(
            exercise,
            "no Dense/Flatten/Reshape: a convolutional autoencoder is fully convolutional, the "
            "code is a stack of small feature maps.",
        )
    if kinds & {"MaxPooling2D", "AveragePooling2D"}:
        checks.fail(
            exercise,
            "the encoder downsamples with strided convolutions (Conv2D(strides=2)), not pooling.",
        )
    if "UpSampling2D" in kinds:
        checks.fail(
            exercise,
            "the decoder upsamples with Conv2DTranspose(strides=2), not UpSampling2D.",
        )
    return layers


def each_model(judge_model, built="model", result="the builder's result"):
    """A judge of all cases from ``judge_model(exercise, case, model)`` on each rebuilt model.

    ``built`` names what the student builds in the failure message (a model, a level);
    ``result`` names the probe's output when it crashed.
    """

    def judge(exercise, cases, outputs):
        for case, output in zip(cases, outputs):
            judge_model(exercise, case, rebuilt_model(exercise, output, built, result))
        return len(cases)

    return judge


def rebuilt_model(exercise, output, built="model", result="the builder's result"):
    """The model a probe recorded, rebuilt; a crash or an unrebuildable model fails in one line."""
    if isinstance(output, plain.Unsupported):
        checks.fail(
            exercise,
            f"the grader cannot rebuild {output.type_name}: build the {built} from Keras' own "
            f"layers only (no Lambda or custom layers).",
        )
    return checks.unwrap(exercise, output, result)
