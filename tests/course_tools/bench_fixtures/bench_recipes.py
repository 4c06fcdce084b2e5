"""Stand-ins for the benchmark's recipes: cheap, no TensorFlow, seeded through config alike."""

from course_utils import config


def fcn(mode, seed):
    """Figures shaped like ``baselines.compare_fcn``'s: the course ahead at every seed."""
    assert seed == config.run_seed(), "the seed must reach the child through config"
    assert mode == config.mode(), "so must the mode"
    rows = {}
    for step, variant in enumerate(("32s", "16s", "8s")):
        rows[variant] = {
            "course_mean_iou": 0.3 + 0.1 * step + 0.01 * seed,
            "kerasio_mean_iou": 0.1 + 0.05 * step,
            "course_seconds": 10.0 + seed,
            "kerasio_seconds": 8.0,
        }
    return rows


def unet(mode, seed):
    """Figures shaped like ``baselines.compare_unet``'s: the scratch U-Net collapses at seed 1."""
    return {
        "scratch": {"mean_iou": 0.8 - 0.4 * seed, "seconds": 5.0},
        "decoder": {"mean_iou": 0.82 - 0.01 * seed, "seconds": 6.0},
        "tutorial": {"mean_iou": 0.7, "seconds": 3.0},
    }


def broken(mode, seed):
    """A recipe that crashes."""
    raise ValueError(f"boom at seed {seed}")
