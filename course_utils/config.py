"""The one place that decides how big a run is, where caches live, and how runs are seeded.

Notebooks never read environment variables themselves; they ask this module.

| mode      | set by               | used for                                   |
|-----------|----------------------|--------------------------------------------|
| ``fast``  | ``COURSE_FAST=1``    | tests, CI and grading: seconds per notebook |
| ``default``| nothing             | a student's laptop CPU: minutes per notebook |
| ``full``  | ``COURSE_SCALE=full``| Colab or a GPU with internet: real datasets |

Sizes normally follow the mode. Tests run full mode's code paths on small local stand-ins for
its data and weights with fast mode's sizes: ``COURSE_SIZES=fast`` beside ``COURSE_SCALE=full``
(``environment("full", sizes="fast")``). Then ``pick`` returns fast sizes and targets are not
enforced, while ``mode()`` and ``is_full()`` still say full, so no full-mode branch is skipped.
"""

import os
import pathlib
import random
import sys

MODES = ("fast", "default", "full")
MODE_VARIABLES = ("COURSE_FAST", "COURSE_SCALE", "COURSE_SIZES")
SEED_VARIABLE = "COURSE_SEED"  # set by ``course bench --seeds N``; unset, runs use DEFAULT_SEED
DEFAULT_SEED = 0


def mode():
    """Return the current mode: ``"fast"``, ``"default"`` or ``"full"``."""
    if os.environ.get("COURSE_FAST", "").strip() not in ("", "0"):
        return "fast"
    scale = os.environ.get("COURSE_SCALE", "").strip().lower()
    if scale in ("", "default"):
        return "default"
    if scale in MODES:
        return scale
    raise ValueError(f"COURSE_SCALE={scale!r} is not a mode: set it to one of {', '.join(MODES)}.")


def sizes():
    """The mode whose sizes ``pick`` returns: ``mode()``, unless ``COURSE_SIZES`` names another."""
    chosen = os.environ.get("COURSE_SIZES", "").strip().lower()
    if not chosen:
        return mode()
    if chosen in MODES:
        return chosen
    raise ValueError(f"COURSE_SIZES={chosen!r} is not a mode: set it to one of {', '.join(MODES)}.")


def environment(mode, base=None, seed=None, sizes=None):
    """A copy of ``base`` (default: this process's environment) in which ``mode()`` is ``mode``.

    The one place that turns a mode (and a seed, default ``DEFAULT_SEED``) back into environment
    variables: every tool that starts a notebook or a kernel in a given mode (tests, benchmark,
    slides, grader) asks here. ``sizes`` (default: the mode's own) runs the mode's code with
    another mode's sizes: the full-mode tests use ``environment("full", sizes="fast")``.
    """
    for name, value in (("mode", mode), ("sizes", sizes or mode)):
        if value not in MODES:
            raise ValueError(f"{value!r} is not a {name}: use one of {', '.join(MODES)}.")
    source = os.environ if base is None else base
    unset = (*MODE_VARIABLES, SEED_VARIABLE)
    variables = {key: value for key, value in source.items() if key not in unset}
    if mode == "fast":
        variables["COURSE_FAST"] = "1"
    elif mode == "full":
        variables["COURSE_SCALE"] = "full"
    if seed is not None:
        variables[SEED_VARIABLE] = str(int(seed))
    if sizes not in (None, mode):
        variables["COURSE_SIZES"] = sizes
    return variables


def is_fast():
    """True in fast mode (tests, CI, grading)."""
    return mode() == "fast"


def is_full():
    """True in full mode (real datasets, pretrained ImageNet weights)."""
    return mode() == "full"


def pick(fast, default, full=None):
    """The value for the current sizes (see ``sizes``); ``full`` falls back to ``default``."""
    chosen = {"fast": fast, "default": default, "full": default if full is None else full}
    return chosen[sizes()]


def enforces_targets():
    """Whether runs are big enough to be held to their stated quality: not with fast sizes."""
    return sizes() != "fast"


def cache_dir():
    """Folder for generated data and downloaded files (``COURSE_CACHE`` overrides it)."""
    folder = os.environ.get("COURSE_CACHE") or pathlib.Path.home() / ".cache" / "course_utils"
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def in_colab():
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def quiet_tensorflow():
    """Silence TensorFlow's C++ start-up logs; takes effect only before TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def use_onednn(enabled=True):
    """Whether TensorFlow may use its oneDNN kernels on x86 CPUs; only before it is imported.

    TensorFlow's default is yes, and on the course's 2-core machine they train the U-Net and the
    ResNets about 1.5 times as fast. Their transposed convolutions with large kernels are slower:
    FCN-32s's 64 x 64 kernel trains at half the speed, so notebook 04 turns them off. And they
    refuse some transposed convolutions whose ``output_padding`` shrinks the output (TensorFlow
    2.21: "could not create a primitive descriptor"), which TensorFlow's own kernels compute:
    notebooks 01 and 02, which explore every padding, the tests and the grader turn them off.
    Runs stay deterministic either way (the same seed twice gives the same figures); the two
    settings differ in the last digits of their results. The caller decides: a
    ``TF_ENABLE_ONEDNN_OPTS`` inherited from the environment (a benchmark's parent process, a
    shell) is replaced. Once TensorFlow is imported this does nothing.
    """
    if "tensorflow" not in sys.modules:
        if enabled:
            os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)  # TensorFlow's own default: on
        else:
            os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"


def import_tensorflow_quietly():
    """Import TensorFlow with file descriptor 2 muted.

    Its C++ runtime writes start-up lines ("absl::InitializeLog", "cudart_stub") straight to
    the process's stderr before any log level applies, and Jupyter shows them in the cell.
    Python-level errors still surface: they are raised after stderr is restored.
    """
    quiet_tensorflow()
    if "tensorflow" in sys.modules:
        return _without_warnings(sys.modules["tensorflow"])
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return _without_warnings(tensorflow)


def _without_warnings(tensorflow):
    """TensorFlow with its Python logger at ERROR: its warnings (tf.function retracing when a
    lecture predicts on batches of several sizes) are about TensorFlow, not the lesson, and
    filled cells and slides. Errors still show."""
    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow


def run_seed():
    """This run's seed: ``DEFAULT_SEED``, or the one ``course bench --seeds`` gave the notebook.

    A cell that reseeds before training a model writes ``keras.utils.set_random_seed(
    config.run_seed())``, never a literal, so the benchmark's seeds reach every model.
    """
    text = os.environ.get(SEED_VARIABLE, "").strip()
    if not text:
        return DEFAULT_SEED
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE}={text!r} is not a whole number.") from None


def seed_everything(seed=None, onednn=True):
    """Seed Python, NumPy and Keras (default: :func:`run_seed`); ask for deterministic ops.

    ``onednn``: see :func:`use_onednn`.
    """
    seed = run_seed() if seed is None else seed
    use_onednn(onednn)
    import_tensorflow_quietly()
    import keras
    import tensorflow as tf

    random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return seed


def setup(seed=None, onednn=True):
    """Prepare a notebook: quiet logs, seeds (default: :func:`run_seed`), determinism.

    ``onednn=False`` turns TensorFlow's oneDNN kernels off (:func:`use_onednn`). Returns the mode
    in use.
    """
    seed_everything(seed, onednn)
    import matplotlib

    # Figures identical from run to run: no date stamps in saved SVG/PDF metadata.
    matplotlib.rcParams["svg.hashsalt"] = "course"
    return mode()
