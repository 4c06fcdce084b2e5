"""Topic 01's exercise 4, the receptive field of a stack of layers: its cases and mistakes.

Kept out of :mod:`course_utils.checks.conv2d_padding_stride` (which registers the check) so
that module stays short. The answer is :func:`course_utils.arith.receptive_field`; the cases
start with the context module of Yu & Koltun, layer by layer.
"""

import numpy as np

from course_utils import arith
from course_utils.checks import _conv_examples as examples


def _field(step):
    """A receptive-field rule given by how one layer updates ``(size, jump)``."""

    def field(layers):
        size, jump = 1, 1
        for kernel_size, strides, dilation in layers:
            size, jump = step(size, jump, kernel_size, strides, dilation)
        return size

    return field


FIELD_MISTAKES = {
    "strides are ignored: after a stride-s layer, each further tap is s input pixels apart, "
    "so later layers add (k_eff - 1) times the product of the earlier strides.": _field(
        lambda r, j, k, s, d: (r + arith.effective_kernel_size(k, d) - 1, 1)
    ),
    "dilation is ignored: a dilated 3x3 kernel with dilation d spans 2d + 1 pixels.": _field(
        lambda r, j, k, s, d: (r + (k - 1) * j, j * s)
    ),
    "a dilated kernel spans k + (k - 1)(d - 1) pixels, not k * d.": _field(
        lambda r, j, k, s, d: (r + (k * d - 1) * j, j * s)
    ),
    "a layer's own stride does not widen its own window: multiply by the strides of the "
    "layers before it only.": _field(
        lambda r, j, k, s, d: (r + (arith.effective_kernel_size(k, d) - 1) * j * s, j * s)
    ),
    "each layer adds k_eff - 1 pixels (times the jump), not k_eff: two 3x3 layers see "
    "5x5, not 6x6.": lambda layers: (
        _field(lambda r, j, k, s, d: (r + arith.effective_kernel_size(k, d) * j, j * s))(layers) - 1
    ),
    "receptive fields add up, they do not multiply: two 3x3 layers see 5x5, not 9x9.": _field(
        lambda r, j, k, s, d: (r * arith.effective_kernel_size(k, d), j * s)
    ),
}


def _as_layers(layers):
    """Lists of lists (not tuples) to pass, so a student's code must not rely on tuples."""
    return [list(layer) for layer in layers]


FIELD_CASES = [((_as_layers(examples.CONTEXT_MODULE[:depth]),), {}) for depth in range(1, 8)] + [
    ((_as_layers(examples.CONTEXT_MODULE + [(1, 1, 1)]),), {}),
    (([[3, 1, 1], [3, 1, 1], [2, 2, 1], [3, 1, 1], [3, 1, 1], [2, 2, 1]],), {}),
    (([[7, 2, 1], [3, 2, 1], [3, 1, 1]],), {}),
    (([[3, 2, 1], [3, 1, 2], [3, 2, 3]],), {}),
]


def field_cases_hidden():
    """Random stacks of 1 to 6 layers."""
    rng = np.random.default_rng(404)
    cases = []
    for _ in range(30):
        depth = int(rng.integers(1, 7))
        layers = [
            [int(rng.integers(1, 8)), int(rng.integers(1, 4)), int(rng.integers(1, 5))]
            for _ in range(depth)
        ]
        cases.append(((layers,), {}))
    return cases
