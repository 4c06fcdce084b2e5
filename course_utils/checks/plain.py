"""Plain data: what a probe hands from the student's process to the judge, as JSON.

A probe's output is encoded here in the student's kernel and decoded in whichever process
judges it (the same kernel for feedback, the grader's own process for a grade). Only data
crosses: numbers, strings, lists, dicts with string keys, NumPy arrays (as ``.npy`` bytes,
read back without pickle), a crash's message, and Keras models as their architecture (JSON)
and weights. A model is rebuilt only from Keras' own classes: a custom or ``Lambda`` layer is
refused, since rebuilding it would run the student's code where the verdict is computed.
"""

import base64
import binascii
import io
import json
import math

import numpy as np

MAX_ARRAY_BYTES = 64 * 2**20
MAX_DEPTH = 40  # levels of nesting in one output
MAX_ITEMS = 1_000_000  # values in one output
MAX_MESSAGE = 2_000  # characters of a crash's message
MAX_MODEL_LAYERS = 500
MAX_MODEL_NUMBER = 2**24  # any integer in a model's configuration (units, filters, sizes)
ARRAY_KINDS = "biufcU"  # booleans, integers, floats, complex numbers, text
# Keras classes a rebuilt model may use are found in these modules only.
# Modules a rebuilt model's classes may come from (exactly these, or below the prefixes).
KERAS_MODULES = frozenset(
    {
        "keras",
        "keras.layers",
        "keras.initializers",
        "keras.regularizers",
        "keras.constraints",
        "keras.activations",
        "keras.models",
    }
)
KERAS_PREFIXES = (
    "keras.src.models.",
    "keras.src.layers.",
    "keras.src.ops.",  # keras.ops on symbolic tensors: add, concatenate, resize, slicing
    "keras.src.initializers.",
    "keras.src.regularizers.",
    "keras.src.constraints.",
)
# Keras' markers of plain values in a configuration (tensors' places, slices, constants).
INTERNAL_MARKERS = frozenset(
    {"__keras_tensor__", "__slice__", "__ellipsis__", "__numpy__", "__bytes__", "__tensor__"}
)
# Plain functions (not classes) may only be Keras' activations.
FUNCTION_MODULES = ("keras.activations", "keras.src.activations")
# Keras' own classes that run code or read files: the code of a Lambda, a saved model, another
# framework's module, a vocabulary file.
REFUSED_CLASSES = frozenset(
    {
        "Lambda",
        "TFSMLayer",
        "TorchModuleWrapper",
        "JaxLayer",
        "FlaxLayer",
        "StringLookup",
        "IntegerLookup",
        "TextVectorization",
        "__lambda__",
    }
)


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
    """The plain value that :func:`encode` wrote (models rebuilt from Keras' classes only).

    Safe on hostile data: nothing is unpickled, nesting and sizes are bounded, and whatever is
    malformed decodes to :class:`Unsupported` (which every judge rejects) instead of raising.
    """
    budget = [MAX_ITEMS]
    try:
        return _decode(data, 0, budget)
    except _TooLarge as error:
        return Unsupported(str(error))
    except RecursionError:
        return Unsupported("a record nested too deeply")


class _TooLarge(Exception):
    """A record over one of the decoding limits."""


def _decode(data, depth, budget):
    """:func:`decode` at nesting ``depth``, charging every item to ``budget``."""
    budget[0] -= 1
    if depth > MAX_DEPTH or budget[0] < 0:
        raise _TooLarge(f"a record over the limits ({MAX_DEPTH} levels, {MAX_ITEMS} items)")
    if data is None or isinstance(data, bool | str):
        return data
    if isinstance(data, int):
        return data if abs(data) < 2**63 else Unsupported("an integer over 64 bits")
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [_decode(item, depth + 1, budget) for item in data]
    if not isinstance(data, dict) or len(data) != 1:
        return Unsupported("malformed record")
    ((kind, content),) = data.items()
    if kind == "__float__":
        return _decode_float(content)
    if kind == "__crashed__" and isinstance(content, str):
        return Crashed(content[:MAX_MESSAGE])
    if kind == "__unsupported__" and isinstance(content, str):
        return Unsupported(content[:MAX_MESSAGE])
    if kind == "__ndarray__":
        return _decode_array(content)
    if kind == "__object_array__" and isinstance(content, list):
        array = np.empty(len(content), dtype=object)
        array[:] = [_decode(item, depth + 1, budget) for item in content]
        return array
    if kind == "__tuple__" and isinstance(content, list):
        return tuple(_decode(item, depth + 1, budget) for item in content)
    if kind == "__dict__" and isinstance(content, dict):
        return {str(key): _decode(item, depth + 1, budget) for key, item in content.items()}
    if kind == "__keras_model__" and isinstance(content, dict):
        return _decode_model(content)
    return Unsupported("malformed record")


def _decode_float(content):
    """A NaN or an infinity spelled out by :func:`_float`; anything else is malformed."""
    if content in ("nan", "inf", "-inf"):
        return float(content)
    return Unsupported("malformed number")


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
    """An array from base64 ``.npy`` bytes: header checked first, never unpickling anything.

    The header's shape and dtype are read and bounded before NumPy allocates anything, so a
    header that claims a terabyte costs nothing; only numbers, booleans and text are accepted.
    """
    if not isinstance(content, str) or len(content) > MAX_ARRAY_BYTES * 4 // 3 + 4:
        return Unsupported("malformed array")
    try:
        raw = base64.b64decode(content, validate=True)
        stream = io.BytesIO(raw)
        version = np.lib.format.read_magic(stream)
        readers = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }
        if version not in readers:
            return Unsupported("malformed array")
        shape, _, dtype = readers[version](stream, max_header_size=10_000)
        if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype:
            return Unsupported(f"an array of {dtype} (only numbers, booleans and text)")
        size = math.prod(shape) * dtype.itemsize
        if size > MAX_ARRAY_BYTES or size > len(raw):
            return Unsupported("malformed array")
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError, SyntaxError, binascii.Error):
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
    (``__keras_tensor__``, ``__slice__``) name no module. Anything else from outside Keras' layer,
    model, initializer, regularizer and constraint modules (a custom layer, whose module is
    missing or the student's), functions other than Keras' activations, and the classes that run
    code or read files (``Lambda`` with its marshalled code, ``TFSMLayer``, lookups with a
    vocabulary file) are refused.
    """
    refused = set()
    if isinstance(config, dict):
        name, module = config.get("class_name"), config.get("module")
        if "class_name" in config:
            if not isinstance(name, str):
                refused.add(repr(name)[:40])
            elif not _keras_own(name, module, config.get("registered_name", name)):
                refused.add(name)
            elif config.get("compile_config"):
                refused.add(f"{name} (compiled)")
        for value in config.values():
            refused |= refused_classes(value)
    elif isinstance(config, list):
        for value in config:
            refused |= refused_classes(value)
    return refused


def _keras_own(name, module, registered_name):
    """True for a class (or activation function) of Keras' own that rebuilds no code."""
    if name in REFUSED_CLASSES:
        return False
    if name in INTERNAL_MARKERS:
        return module is None
    if not isinstance(module, str) or registered_name not in (None, name):
        return False  # a registered name finds registered (custom) objects first
    if name == "function":
        return module in FUNCTION_MODULES
    return module in KERAS_MODULES or module.startswith(KERAS_PREFIXES)


def _over_limits(config, depth=0):
    """Why a serialised model is too big to rebuild (an integer or a nesting over the limits)."""
    if depth > 4 * MAX_DEPTH:
        return "nested too deeply"
    if isinstance(config, bool):
        return None
    if isinstance(config, int) and abs(config) > MAX_MODEL_NUMBER:
        return f"a size of {config}"
    values = config.values() if isinstance(config, dict) else config
    if isinstance(config, dict | list):
        for value in values:
            reason = _over_limits(value, depth + 1)
            if reason:
                return reason
    return None


def _decode_model(content):
    """Rebuild a recorded model from Keras' own classes, or say why it was refused."""
    config, weights = content.get("config"), content.get("weights")
    refused = refused_classes(config)
    if refused:
        return Unsupported(f"a model with custom layers ({', '.join(sorted(refused))})")
    if not isinstance(config, dict) or not isinstance(weights, list):
        return Unsupported("malformed model")
    too_big = _over_limits(config)
    if (
        too_big
        or len(weights) > 4 * MAX_MODEL_LAYERS
        or json.dumps(config).count("class_name") > (8 * MAX_MODEL_LAYERS)
    ):
        return Unsupported(f"a model over the grader's limits ({too_big or 'too many layers'})")
    arrays = [_decode_array(weight) for weight in weights]
    if any(isinstance(array, Unsupported) for array in arrays):
        return Unsupported("a model with malformed weights")
    if sum(array.nbytes for array in arrays) > MAX_ARRAY_BYTES:
        return Unsupported("a model over the grader's limits (weights)")
    import keras

    try:
        # Keras consumes parts of the configuration it is given: rebuild from a copy.
        config = json.loads(json.dumps(config))
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        if not _is_model(model):
            return Unsupported("malformed model")
        model.set_weights(arrays)
    except Exception as error:  # noqa: BLE001 - any failure to rebuild is the record's fault
        return Unsupported(f"a model that could not be rebuilt ({type(error).__name__})")
    return model
