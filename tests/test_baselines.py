"""The public recipes of the benchmark: built as published, trained on the course's data."""

import numpy as np

from course_utils import backbone, baselines, data


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
