"""Convolution arithmetic: output sizes and receptive fields, exactly as Keras computes them.

All functions work on one spatial dimension; apply them to height and width separately.
"""

import math

PADDINGS = ("valid", "same")


def _check_padding(padding):
    """Reject anything but Keras' two padding modes with a message that names them."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")


def effective_kernel_size(kernel_size, dilation=1):
    """Span of a dilated kernel: ``k + (k - 1)(d - 1)``."""
    return kernel_size + (kernel_size - 1) * (dilation - 1)


def conv_output_size(input_size, kernel_size, strides=1, padding="valid", dilation=1):
    """Output length of ``Conv2D`` along one axis.

    valid: ``floor((n - k_eff) / s) + 1``; same: ``ceil(n / s)`` (zeros fill in as needed).
    """
    _check_padding(padding)
    if padding == "same":
        return math.ceil(input_size / strides)
    span = effective_kernel_size(kernel_size, dilation)
    return max((input_size - span) // strides + 1, 0)


def same_padding_amounts(input_size, kernel_size, strides=1, dilation=1):
    """Zeros that ``padding="same"`` adds before and after: the extra one goes after."""
    output_size = math.ceil(input_size / strides)
    span = effective_kernel_size(kernel_size, dilation)
    total = max((output_size - 1) * strides + span - input_size, 0)
    return total // 2, total - total // 2


def pool_output_size(input_size, pool_size, strides=None, padding="valid"):
    """Output length of ``MaxPooling2D``/``AveragePooling2D``; strides default to the pool size."""
    strides = pool_size if strides is None else strides
    return conv_output_size(input_size, pool_size, strides, padding)


def conv_transpose_output_size(
    input_size, kernel_size, strides=1, padding="valid", output_padding=None, dilation=1
):
    """Output length of ``Conv2DTranspose`` along one axis, as Keras computes it.

    Without ``output_padding``: valid gives ``n*s + max(k - s, 0)``, same gives ``n*s``.
    With it: ``(n - 1)*s + k - 2*pad + output_padding``, with ``pad = k // 2`` for same.
    """
    _check_padding(padding)
    span = effective_kernel_size(kernel_size, dilation)
    if output_padding is None:
        if padding == "valid":
            return input_size * strides + max(span - strides, 0)
        return input_size * strides
    pad = span // 2 if padding == "same" else 0
    return (input_size - 1) * strides + span - 2 * pad + output_padding


def receptive_field(layers):
    """Receptive field of a stack of layers, each ``(kernel_size, strides, dilation)``.

    Each layer widens the field by ``(k_eff - 1)`` times the product of the strides before it.
    Returns the size in input pixels seen by one output unit of the last layer.
    """
    size, jump = 1, 1
    for layer in layers:
        kernel_size, strides, dilation = (tuple(layer) + (1, 1))[:3]
        size += (effective_kernel_size(kernel_size, dilation) - 1) * jump
        jump *= strides
    return size


def receptive_fields(layers):
    """Receptive field after each layer of the stack (see :func:`receptive_field`)."""
    return [receptive_field(layers[: index + 1]) for index in range(len(layers))]
