"""The public recipes of the benchmark: built as published, trained on the course's data."""

import numpy as np
import pytest

from course_tools import baselines
from course_utils import backbone, digit_scenes


def _tiny_tutorial_decoder(frozen):
    return baselines.build_tutorial_decoder(
        digit_scenes.NUM_SCENE_CLASSES, frozen, widths=(8, 8, 8, 8)
    )


def _tiny_course_decoder(frozen):
    return baselines.build_course_decoder(
        digit_scenes.NUM_SCENE_CLASSES, frozen, widths=(4, 4, 4, 4, 4, 4)
    )


@pytest.mark.parametrize(
    ("build", "fit"),
    [
        (
            _tiny_tutorial_decoder,
            lambda model, scenes: baselines.fit_tutorial(
                model, scenes.images, scenes.masks, epochs=1, batch_size=4
            ),
        ),
        (
            _tiny_course_decoder,
            lambda model, scenes: baselines.fit_course_unet(model, scenes, epochs=2),
        ),
    ],
    ids=["tutorial", "course"],
)
def test_each_decoder_keeps_the_backbone_frozen_and_learns(build, fit):
    frozen, _ = backbone.load_vgg16_backbone((64, 64, 1))
    model = build(frozen)
    assert model.output_shape == (None, 64, 64, digit_scenes.NUM_SCENE_CLASSES)
    frozen_weights = sum(w.size for w in frozen.get_weights())
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert 0 < trainable < frozen_weights  # only the decoder learns
    before = [w.copy() for w in frozen.get_weights()]
    decoder_before = [np.array(w) for w in model.trainable_weights]
    scenes = digit_scenes.make_digit_scenes(8, split="train")
    fit(model, scenes)
    assert all(np.array_equal(a, b) for a, b in zip(before, frozen.get_weights()))
    assert any(
        not np.array_equal(a, np.array(b)) for a, b in zip(decoder_before, model.trainable_weights)
    )


def test_every_comparison_row_of_the_benchmark_is_produced_in_fast_mode():
    rows = dict(baselines.bench_measures("fast"))
    for variant in ("32s", "16s", "8s"):
        assert f"FCN-{variant} mean IoU, course / keras.io recipe" in rows
        assert f"FCN-{variant} training s, course / keras.io recipe" in rows
    pairs = [value for name, value in rows.items() if "ratio" in value]
    assert len(pairs) == 10  # mean IoU and time: FCN-32s/16s/8s and two U-Net pairs
    for value in pairs:
        course, public = (float(part) for part in value.split(" (")[0].split(" / "))
        assert course >= 0 and public >= 0


def test_the_copied_recipe_post_mortem_fills_its_table():
    table = baselines.copied_recipe_post_mortem(scenes=32, epochs=1)
    assert set(table["copied recipe"]) == {"32s", "16s", "8s", "32s, scored again"}
    assert set(table["this course"]) == {"32s", "16s", "8s"}
    assert set(table["paper's skip scaling, Adam"]) == {"8s"}
    values = [value for row in table.values() for value in row.values()]
    assert all(0 <= value <= 1 for value in values)
