"""The public recipes of the benchmark: built as published, trained on the course's data."""

import numpy as np
import pytest

from course_utils import backbone, baselines, data

SHAPES = [(8, 8, 64), (4, 4, 128), (2, 2, 128)]


@pytest.mark.parametrize("variant, fusions", [("32s", 0), ("16s", 1), ("8s", 2)])
def test_kerasio_head_has_the_published_structure(variant, fusions):
    head = baselines.build_kerasio_fcn_head(data.NUM_SCENE_CLASSES, variant, SHAPES, width=16)
    assert head.output_shape == (None, 64, 64, data.NUM_SCENE_CLASSES)
    kinds = [type(layer).__name__ for layer in head.layers]
    assert kinds.count("Add") == fusions
    assert "Conv2DTranspose" not in kinds  # fixed bilinear upsampling, nothing learned
    relu_scores = [
        layer
        for layer in head.layers
        if type(layer).__name__ == "Conv2D"
        and layer.filters == data.NUM_SCENE_CLASSES
        and layer.get_config()["activation"] == "relu"
    ]
    assert len(relu_scores) == 1  # the ReLU on the maxp5 score layer


def test_tutorial_decoder_keeps_the_backbone_frozen_and_outputs_logits():
    frozen, _ = backbone.load_vgg16_backbone((64, 64, 1))
    model = baselines.build_tutorial_decoder(data.NUM_SCENE_CLASSES, frozen, widths=(8, 8, 8, 8))
    assert model.output_shape == (None, 64, 64, data.NUM_SCENE_CLASSES)
    frozen_weights = sum(w.size for w in frozen.get_weights())
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable < frozen_weights  # only the decoder learns
    before = [w.copy() for w in frozen.get_weights()]
    scenes = data.make_digit_scenes(8, split="train")
    baselines.fit_tutorial(model, scenes.images, scenes.masks, epochs=1, batch_size=4)
    assert all(np.array_equal(a, b) for a, b in zip(before, frozen.get_weights()))
