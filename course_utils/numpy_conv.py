"""NumPy reference implementations of convolution and transposed convolution.

They follow Keras exactly (cross-correlation, TensorFlow's "same" padding with the extra zero at
the end) and are written to be read: each one is a few lines of array indexing. Every function
takes either a 2-D single-channel array with a 2-D kernel, or an NHWC batch with a Keras-layout
kernel: ``(kh, kw, in_channels, out_channels)`` for ``conv2d`` and
``(kh, kw, out_channels, in_channels)`` for ``conv2d_transpose``, as the Keras layers store them.
"""

import numpy as np

from course_utils import arith


def _pair(value):
    """Turn ``2`` into ``(2, 2)`` and leave ``(2, 1)`` alone; ``None`` stays ``None``."""
    if value is None or np.ndim(value) == 0:
        value = (value, value)
    return tuple(None if item is None else int(item) for item in value)


def _as_batch(x, kernel):
    """View a 2-D image and 2-D kernel as an NHWC batch and a 4-D kernel; remember to undo it."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if x.ndim == 2 and kernel.ndim == 2:
        return x[None, :, :, None], kernel[:, :, None, None], True
    if x.ndim == 4 and kernel.ndim == 4:
        return x, kernel, False
    raise ValueError(
        f"expected a 2-D image with a 2-D kernel or an NHWC batch with a 4-D kernel, "
        f"got shapes {x.shape} and {kernel.shape}."
    )


def dilate_kernel(kernel, dilation):
    """Insert ``dilation - 1`` zeros between kernel taps (first two axes)."""
    dilation_h, dilation_w = _pair(dilation)
    kernel = np.asarray(kernel)
    height, width = kernel.shape[:2]
    dilated = np.zeros(
        ((height - 1) * dilation_h + 1, (width - 1) * dilation_w + 1) + kernel.shape[2:],
        dtype=kernel.dtype,
    )
    dilated[::dilation_h, ::dilation_w] = kernel
    return dilated


def insert_zeros(x, strides):
    """Insert ``strides - 1`` zeros between the pixels of an NHWC batch (or a 2-D image)."""
    stride_h, stride_w = _pair(strides)
    x = np.asarray(x)
    spatial = (0, 1) if x.ndim == 2 else (1, 2)
    shape = list(x.shape)
    shape[spatial[0]] = (x.shape[spatial[0]] - 1) * stride_h + 1
    shape[spatial[1]] = (x.shape[spatial[1]] - 1) * stride_w + 1
    spread = np.zeros(shape, dtype=x.dtype)
    if x.ndim == 2:
        spread[::stride_h, ::stride_w] = x
    else:
        spread[:, ::stride_h, ::stride_w] = x
    return spread


def pad_for(x_batch, kernel_span, strides, padding):
    """Zero-pad an NHWC batch as Keras does for ``padding`` (extra zero after, for "same")."""
    if padding == "valid":
        return x_batch
    pads = [
        arith.same_padding_amounts(x_batch.shape[axis], kernel_span[axis - 1], strides[axis - 1])
        for axis in (1, 2)
    ]
    return np.pad(x_batch, [(0, 0), pads[0], pads[1], (0, 0)])


def conv2d(x, kernel, strides=1, padding="valid", dilation=1):
    """Cross-correlate like ``keras.layers.Conv2D`` (no bias, no activation)."""
    arith._check_padding(padding)
    x_batch, kernel4, was_2d = _as_batch(x, kernel)
    kernel4 = dilate_kernel(kernel4, dilation)
    strides = _pair(strides)
    x_batch = pad_for(x_batch, kernel4.shape[:2], strides, padding)
    span_h, span_w = kernel4.shape[:2]
    # windows[n, i, j, c, a, b] = x[n, i + a, j + b, c]; keep every stride-th window.
    windows = np.lib.stride_tricks.sliding_window_view(x_batch, (span_h, span_w), axis=(1, 2))
    windows = windows[:, :: strides[0], :: strides[1]]
    output = np.einsum("nijcab,abco->nijo", windows, kernel4)
    return output[0, :, :, 0] if was_2d else output


def conv2d_transpose(x, kernel, strides=1, padding="valid", output_padding=None):
    """Transposed convolution like ``keras.layers.Conv2DTranspose``, by scatter-add.

    Every input pixel stamps a copy of the kernel, scaled by its value, onto the output at
    ``stride`` steps; overlapping stamps add up. The full result is then cropped to the size
    Keras computes, which undoes the padding of the convolution it is the transpose of.
    """
    arith._check_padding(padding)
    x_batch, kernel4, was_2d = _as_batch(x, kernel)
    strides = _pair(strides)
    output_padding = _pair(output_padding)
    batch, height, width, _ = x_batch.shape
    kernel_h, kernel_w, out_channels, _ = kernel4.shape
    full = np.zeros(
        (
            batch,
            (height - 1) * strides[0] + kernel_h,
            (width - 1) * strides[1] + kernel_w,
            out_channels,
        )
    )
    for i in range(height):
        for j in range(width):
            top, left = i * strides[0], j * strides[1]
            # (n, c_in) x (kh, kw, c_out, c_in) -> (n, kh, kw, c_out)
            full[:, top : top + kernel_h, left : left + kernel_w] += np.einsum(
                "nc,aboc->nabo", x_batch[:, i, j], kernel4
            )
    sizes = [
        arith.conv_transpose_output_size(n, k, s, padding, op)
        for n, k, s, op in zip((height, width), (kernel_h, kernel_w), strides, output_padding)
    ]
    output = _crop_like_gradient(
        full, sizes, (height, width), (kernel_h, kernel_w), strides, padding
    )
    return output[0, :, :, 0] if was_2d else output


def _crop_like_gradient(full, sizes, input_sizes, kernel_sizes, strides, padding):
    """Cut the scatter-add result to ``sizes``, shifted by the forward convolution's padding."""
    output = np.zeros((full.shape[0], sizes[0], sizes[1], full.shape[3]))
    offsets = []
    for size, n, k, s in zip(sizes, input_sizes, kernel_sizes, strides):
        if padding == "same":
            total = max((n - 1) * s + k - size, 0)
            offsets.append(total // 2)
        else:
            offsets.append(0)
    rows = min(sizes[0], full.shape[1] - offsets[0])
    cols = min(sizes[1], full.shape[2] - offsets[1])
    output[:, :rows, :cols] = full[
        :, offsets[0] : offsets[0] + rows, offsets[1] : offsets[1] + cols
    ]
    return output


def conv_matrix(kernel, input_shape, strides=1, padding="valid", dilation=1):
    """The matrix ``W`` with ``conv2d(x, kernel, ...).ravel() == W @ x.ravel()``.

    One row per output pixel, one column per input pixel; each row holds the kernel's weights at
    the input pixels that output pixel sees. Zero padding contributes nothing, so padded taps
    simply have no column.
    """
    arith._check_padding(padding)
    kernel = dilate_kernel(np.asarray(kernel, dtype=np.float64), dilation)
    height, width = input_shape
    stride_h, stride_w = _pair(strides)
    span_h, span_w = kernel.shape
    out_h = arith.conv_output_size(height, span_h, stride_h, padding)
    out_w = arith.conv_output_size(width, span_w, stride_w, padding)
    pad_top = arith.same_padding_amounts(height, span_h, stride_h)[0] if padding == "same" else 0
    pad_left = arith.same_padding_amounts(width, span_w, stride_w)[0] if padding == "same" else 0
    matrix = np.zeros((out_h * out_w, height * width))
    for out_row in range(out_h):
        for out_col in range(out_w):
            for a in range(span_h):
                for b in range(span_w):
                    row = out_row * stride_h + a - pad_top
                    col = out_col * stride_w + b - pad_left
                    if 0 <= row < height and 0 <= col < width:
                        matrix[out_row * out_w + out_col, row * width + col] += kernel[a, b]
    return matrix
