"""Max unpooling as lecture 02 exports it: the lecture's example, the gradient of max pooling, a
network that trains. Topic 06's SegNet imports these; a wrong switch would cost it silently."""

import numpy as np
import pytest

from course_utils import config

config.setup()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from course_utils.lectures import conv2d_transpose  # noqa: E402


def pool_and_unpool(x):
    """The lecture's two layers on a batch: (pooled, unpooled)."""
    pooled, switches = conv2d_transpose.MaxPoolingWithArgmax2D()(x)
    return pooled, conv2d_transpose.MaxUnpooling2D()(pooled, switches, x)


def test_the_lectures_example():
    x = np.array([[4, 4, 6, 8], [0, 1, 7, 8], [2, 2, 7, 3], [2, 7, 2, 3]], "float32")
    pooled, unpooled = pool_and_unpool(x[None, :, :, None])
    assert pooled[0, :, :, 0].numpy().tolist() == [[4, 8], [7, 7]]
    expected = [[4, 0, 0, 8], [0, 0, 0, 0], [0, 0, 7, 0], [0, 7, 0, 0]]  # first of each tie
    assert unpooled[0, :, :, 0].numpy().tolist() == expected


@pytest.mark.parametrize("shape", [(2, 6, 6, 3), (3, 7, 5, 2), (1, 8, 8, 1)])
def test_unpooling_is_the_gradient_of_max_pooling(shape):
    rng = np.random.default_rng(sum(shape))
    x = tf.constant(rng.normal(size=shape), tf.float32)  # continuous values: no ties
    pooled, switches = conv2d_transpose.MaxPoolingWithArgmax2D()(x)
    upstream = tf.constant(rng.normal(size=pooled.shape), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(keras.layers.MaxPooling2D(2)(x) * upstream)
    expected = tape.gradient(loss, x).numpy()
    unpooled = conv2d_transpose.max_unpool(upstream, switches, x).numpy()
    assert unpooled.shape == shape  # an odd size that pooling rounded down comes back whole
    np.testing.assert_array_equal(unpooled, expected)


def test_a_segnet_stage_builds_on_any_size_and_trains():
    inputs = keras.Input(shape=(None, None, 1))
    features = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    pooled, switches = conv2d_transpose.MaxPoolingWithArgmax2D()(features)
    unpooled = conv2d_transpose.MaxUnpooling2D()(pooled, switches, features)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(unpooled))
    images = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(images, np.zeros((4, 8, 8, 2)), epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model(images[:, :7, :6]).shape == (4, 7, 6, 2)
