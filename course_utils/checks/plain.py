"""Plain data: what a probe hands from the student's process to the judge, as JSON.

A probe's output is encoded here in the student's kernel and decoded in whichever process
judges it (the same kernel for feedback, the grader's own process for a grade). Only data
crosses: numbers, strings, lists, dicts with string keys, NumPy arrays (as ``.npy`` bytes,
read back without pickle), a crash's message, and Keras models as their architecture (JSON)
and weights. A model is rebuilt only from Keras' own classes: a custom or ``Lambda`` layer is
refused, since rebuilding it would run the student's code where the verdict is computed.
"""

import base64
import io
import json
import math

import numpy as np

MAX_ARRAY_BYTES = 64 * 2**20
# Keras classes a rebuilt model may use are found in these modules only.
KERAS_MODULES = (
    "keras",
    "keras.layers",
    "keras.initializers",
    "keras.regularizers",
    "keras.constraints",
    "keras.activations",
    "keras.src.",
)
REFUSED_CLASSES = frozenset({"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer"})


class Crashed:
    """What a probe returns when the student's function raised: the one-line hint."""

    def __init__(self, message):
        self.message = str(message)

    def __repr__(self):
        return f"Crashed({self.message!r})"

    def __eq__(self, other):
        return isinstance(other, Crashed) and other.message == self.message


class Unsupported:
    """A returned value that is not plain data (a generator, an object of the student's)."""

    def __init__(self, type_name):
        self.type_name = str(type_name)

    def __repr__(self):
        return f"Unsupported({self.type_name!r})"

    def __eq__(self, other):
        return isinstance(other, Unsupported) and other.type_name == self.type_name


class ModelRefused(ValueError):
    """A recorded model that cannot be rebuilt from Keras' own classes."""


def encode(value):
    """``value`` as JSON-compatible plain data (a Keras model as architecture and weights)."""
    if isinstance(value, Crashed):
        return {"__crashed__": value.message}
    if isinstance(value, Unsupported):
        return {"__unsupported__": value.type_name}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _float(float(value))
    if isinstance(value, np.bool_):
        return bool(value)
    if _is_model(value):
        return {"__keras_model__": _encode_model(value)}
    if isinstance(value, np.ndarray) and value.dtype == object:
        return {"__object_array__": encode(value.tolist())}  # elements encoded one by one
    if isinstance(value, np.ndarray) or _is_tensor(value):
        return {"__ndarray__": _encode_array(value)}
    if isinstance(value, list | tuple):
        items = [encode(item) for item in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {"__dict__": {key: encode(item) for key, item in value.items()}}
    return {"__unsupported__": type(value).__name__}


def decode(data):
    """The plain value that :func:`encode` wrote (models rebuilt from Keras' classes only)."""
    if data is None or isinstance(data, bool | int | str):
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [decode(item) for item in data]
    if not isinstance(data, dict) or len(data) != 1:
        return Unsupported("malformed record")
    ((kind, content),) = data.items()
    if kind == "__float__":
        return float(content)
    if kind == "__crashed__":
        return Crashed(content)
    if kind == "__unsupported__":
        return Unsupported(content)
    if kind == "__ndarray__":
        return _decode_array(content)
    if kind == "__object_array__":
        array = np.empty(len(content), dtype=object) if isinstance(content, list) else None
        if array is None:
            return Unsupported("malformed record")
        array[:] = [decode(item) for item in content]
        return array
    if kind == "__tuple__" and isinstance(content, list):
        return tuple(decode(item) for item in content)
    if kind == "__dict__" and isinstance(content, dict):
        return {str(key): decode(item) for key, item in content.items()}
    if kind == "__keras_model__" and isinstance(content, dict):
        return _decode_model(content)
    return Unsupported("malformed record")


def roundtrip(value):
    """``decode(encode(value))`` through JSON text: exactly what the grader would see."""
    return decode(json.loads(json.dumps(encode(value))))


def _float(number):
    """A float JSON can hold (NaN and infinities spelled out)."""
    return number if math.isfinite(number) else {"__float__": repr(number)}


def _is_tensor(value):
    """A TensorFlow or Keras eager tensor (anything with ``.numpy()`` and a shape)."""
    return hasattr(value, "numpy") and callable(value.numpy) and hasattr(value, "shape")


def _is_model(value):
    """A Keras model (checked by class name: this module never imports Keras itself)."""
    return any(
        cls.__name__ in ("Model", "Functional", "Sequential") and cls.__module__.startswith("keras")
        for cls in type(value).__mro__
    )


def _encode_array(value):
    """An array as base64 ``.npy`` bytes."""
    array = np.asarray(value.numpy() if _is_tensor(value) else value)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _decode_array(content):
    """An array from base64 ``.npy`` bytes, never unpickling anything."""
    if not isinstance(content, str) or len(content) > MAX_ARRAY_BYTES * 4 // 3 + 4:
        return Unsupported("malformed array")
    try:
        return np.load(io.BytesIO(base64.b64decode(content)), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return Unsupported("malformed array")


def _encode_model(model):
    """A Keras model as its serialised architecture and its weights."""
    import keras

    return {
        "config": keras.saving.serialize_keras_object(model),
        "weights": [_encode_array(weight) for weight in model.get_weights()],
    }


def refused_classes(config):
    """Names of the classes in a serialised model that are not Keras' own (empty when fine).

    Every serialised object names its class and module; Keras' internal markers
    (``__keras_tensor__``, ``__slice__``) name no module. Anything else from outside Keras (a
    custom layer, whose module is missing or the student's), and ``Lambda`` layers with their
    marshalled code, are refused.
    """
    refused = set()
    if isinstance(config, dict):
        name, module = config.get("class_name"), config.get("module")
        if isinstance(name, str) and "config" in config:
            internal = name.startswith("__") and name != "__lambda__" and module is None
            keras_own = isinstance(module, str) and module.startswith(KERAS_MODULES)
            if name in REFUSED_CLASSES or not (internal or keras_own):
                refused.add(name)
        for value in config.values():
            refused |= refused_classes(value)
    elif isinstance(config, list):
        for value in config:
            refused |= refused_classes(value)
    return refused


def _decode_model(content):
    """Rebuild a recorded model from Keras' own classes, or say which classes were refused."""
    import keras

    config, weights = content.get("config"), content.get("weights")
    refused = refused_classes(config)
    if refused or not isinstance(weights, list):
        return Unsupported(f"a model with custom layers ({', '.join(sorted(refused))})")
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        model.set_weights([_decode_array(weight) for weight in weights])
    except Exception as error:  # noqa: BLE001 - any failure to rebuild is the record's fault
        return Unsupported(f"a model that could not be rebuilt ({type(error).__name__})")
    return model
