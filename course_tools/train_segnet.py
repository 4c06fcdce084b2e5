"""Train the lecture's SegNet with the lecture's recipe and ship it in course_utils/assets/.

    .venv/bin/python -m course_tools.train_segnet          # 2 to 3 minutes on 2 CPU cores

Notebook 06 compares U-Net, SegNet and FCN-8s trained on the same scenes with the same recipe.
A laptop has time for one network trained from scratch in default mode, not two: default mode
trains the U-Net and loads this SegNet, trained here by the lecture's own code
(``course_utils.lectures.unet``: ``build_segnet``, ``fit_scenes``, ``scene_budget``, the
windows) at seed 0. Fast and full mode train SegNet in the notebook.

The saved file carries a fingerprint of that code (``shipped_segnet.segnet_fingerprint``): when
the lecture's SegNet or recipe changes, the notebook refuses the stale weights and trains SegNet
itself, and ``tests/course_utils/test_shipped_segnet.py`` fails until this script is run again.
"""

import argparse
import pathlib
import time

import numpy as np

from course_utils import config, digit_scenes, segmentation, shipped_segnet


def main(argv=None):
    """Train at the default-mode budget, evaluate on the test scenes, save the weights."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    parser.add_argument("--out", type=pathlib.Path, default=shipped_segnet.SHIPPED_SEGNET)
    arguments = parser.parse_args(argv)
    if config.sizes() != "default":
        raise SystemExit(
            f"the shipped SegNet is trained at default-mode sizes, not {config.sizes()}: "
            f"unset COURSE_FAST, COURSE_SCALE and COURSE_SIZES and run it again."
        )
    config.setup()
    import keras

    from course_utils.lectures import unet as lecture

    num_train, num_test, epochs = lecture.scene_budget()
    num_classes = digit_scenes.NUM_SCENE_CLASSES
    train_scenes = digit_scenes.make_digit_scenes(num_train, split="train")
    test_scenes = digit_scenes.make_digit_scenes(num_test, split="test")
    keras.utils.set_random_seed(arguments.seed)
    model = lecture.build_segnet(num_classes, input_shape=(None, None, 1))
    history, seconds = lecture.fit_scenes(
        model, train_scenes.images, train_scenes.masks, epochs, crop=lecture.TRAINING_CROP
    )
    # Score what is shipped: the weights as the file stores them (float16), then save them once.
    for weight in model.weights:
        weight.assign(np.asarray(weight).astype(np.float16).astype(np.float32))
    scores = segmentation.evaluate(model, test_scenes.images, test_scenes.masks, num_classes)
    shipped_segnet.save_shipped_segnet(
        model, history, seconds, scores["mean_iou"], arguments.seed, arguments.out
    )
    fresh = lecture.build_segnet(num_classes, input_shape=(None, None, 1))
    if shipped_segnet.load_shipped_segnet(fresh, arguments.out) is None:
        raise SystemExit(f"{arguments.out} does not load back into build_segnet: see above.")
    print(
        f"SegNet, seed {arguments.seed}, {num_train} scenes x {epochs} epochs: test mean IoU "
        f"{scores['mean_iou']:.3f}, trained in {seconds:.0f} s; saved {arguments.out}"
    )


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"{time.perf_counter() - started:.0f} s in all")
