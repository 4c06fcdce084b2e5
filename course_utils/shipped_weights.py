"""The file format of the weights the course ships in ``course_utils/assets/``.

One compressed ``.npz`` per trained network: its weights as float16 (half the size in the wheel;
the networks score the same, and the trainers measure them after the rounding), any other arrays
as they are (a loss curve, the backbone's widths), and the facts about its training (seed, task,
accuracy, a fingerprint of the code) under ``info/<fact>``. ``course_utils.backbone`` and
``course_utils.shipped_segnet`` read and write their files through here; what each file holds
and when it is refused is theirs to say.
"""

import pathlib
import zipfile

import numpy as np

ASSETS = pathlib.Path(__file__).resolve().parent / "assets"
FACTS = "info/"


def save_weights(path, weights, facts, others=None):
    """Write ``weights`` (name -> array) as float16, ``others`` unchanged, ``facts`` as info/."""
    arrays = {name: np.asarray(value).astype(np.float16) for name, value in weights.items()}
    arrays.update({name: np.asarray(value) for name, value in (others or {}).items()})
    arrays.update({FACTS + name: np.asarray(value) for name, value in facts.items()})
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def load_weights(path):
    """Read a file :func:`save_weights` wrote: ``(arrays, facts)``, float16 arrays as float32.

    Raises OSError for a missing file and ValueError, naming the file, for one that is not such
    an ``.npz`` (truncated, overwritten, not a zip), so a caller can catch both in one place.
    """
    try:
        with np.load(path) as stored:
            facts = {
                name.removeprefix(FACTS): stored[name].item()
                for name in stored.files
                if name.startswith(FACTS)
            }
            arrays = {
                name: _widened(stored[name]) for name in stored.files if not name.startswith(FACTS)
            }
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise ValueError(f"{pathlib.Path(path).name} is not a readable .npz: {error}") from error
    return arrays, facts


def _widened(array):
    return array.astype(np.float32) if array.dtype == np.float16 else array
