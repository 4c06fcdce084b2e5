"""Topic 02's exercise 4, the bilinear upsampling kernel: the exact kernel, mistakes, the judge.

Kept out of :mod:`course_utils.checks.conv2d_transpose` (which registers the check) so that
module stays short. A kernel is compared with the exact tent, then put into a
``Conv2DTranspose`` whose upsampling is compared with ``tf.image.resize`` away from the border.
"""

import numpy as np

from course_utils import checks
from course_utils.checks import conv_answers


def bilinear_kernel_size(factor):
    """Taps of the bilinear kernel for upsampling by ``factor``: ``2f - f % 2``."""
    return 2 * factor - factor % 2


def triangle(factor, size=None, centre=None, scale=None):
    """The 1-D tent ``1 - |t - centre| / scale``, by default the exact bilinear one."""
    size = bilinear_kernel_size(factor) if size is None else size
    centre = (size - 1) / 2 if centre is None else centre
    scale = factor if scale is None else scale
    return 1 - np.abs(np.arange(size) - centre) / scale


def bilinear_kernel(factor):
    """The exact 2-D kernel: the outer product of the tent with itself."""
    tent = triangle(factor)
    return np.outer(tent, tent)


def _bilinear_mistakes(factor):
    """The classic wrong kernels for one factor."""
    size = bilinear_kernel_size(factor)
    tent = triangle(factor)
    return {
        "the kernel is normalised to sum 1: bilinear weights peak at 1 (at the input pixel) "
        "and the stamps of neighbouring pixels add up to 1 at every output pixel, so "
        "do not divide by the sum.": bilinear_kernel(factor) / bilinear_kernel(factor).sum(),
        # size // 2 is right for odd sizes and equals size / 2 for even ones: one entry.
        "the kernel is off-centre: its centre is at (size - 1) / 2, the middle of the taps, "
        "not size / 2.": np.outer(*[triangle(factor, centre=size / 2)] * 2),
        "the tent's slope is wrong: the weight falls by 1/f per pixel (divide the distance by "
        "the factor), not by 1/size.": np.outer(*[triangle(factor, scale=size)] * 2),
        "the 2-D weight is the product of the row and column weights (np.outer), not their "
        "sum or mean.": (tent[:, None] + tent[None, :]) / 2,
        "the 2-D weight is the product of the row and column weights (np.outer), not their "
        "sum.": tent[:, None] + tent[None, :],
    }


def _bilinear_result(exercise, factor, value):
    """The student's kernel for ``factor`` as a float array of the right shape."""
    where = f"bilinear_kernel({factor})"
    result = checks.as_array(exercise, value, what=f"{where}'s result")
    size = bilinear_kernel_size(factor)
    if result.ndim == 1:
        checks.fail(
            exercise,
            f"{where} returned a 1-D array of shape {result.shape}: the 2-D kernel is the outer "
            f"product of the 1-D tent with itself, shape ({size}, {size}).",
        )
    if result.ndim == 4 and result.shape[2:] == (1, 1):
        result = result[:, :, 0, 0]
    if result.shape == (2 * factor, 2 * factor) and factor % 2:
        checks.fail(
            exercise,
            f"{where} has shape {result.shape}: for an odd factor the kernel has 2f - 1 = "
            f"{size} taps, so that its centre tap sits on an input pixel.",
        )
    if result.shape != (size, size):
        checks.fail(
            exercise,
            f"{where} should have shape ({size}, {size}) (2f - f % 2 taps), got {result.shape}.",
        )
    return result


def bilinear_case(key):
    """``bilinear_kernel(factor)``; the key also names the image used to compare upsamplings."""
    factor, _image_shape, _seed = key
    return checks.Case((factor,), {}, key)


def judge_bilinear(exercise, case, output):
    """Compare a kernel with the tent, then upsample with it and compare with tf.image.resize."""
    factor, image_shape, seed = case.key
    result = _bilinear_result(exercise, factor, output)
    checks.diagnose(
        exercise,
        result,
        bilinear_kernel(factor),
        _bilinear_mistakes(factor),
        context=f"bilinear_kernel({factor}): ",
    )
    image = np.random.default_rng(seed + factor).random(image_shape)
    upsampled = conv_answers.upsample_with_kernel(image, result, factor)
    resized = conv_answers.resize_bilinear(image, factor)
    # Borders differ: the transposed convolution sees zeros, tf.image.resize clamps.
    inner = (slice(factor, -factor), slice(factor, -factor))
    if not checks.close(upsampled[inner], resized[inner], atol=1e-5):
        checks.fail(
            exercise,
            f"a Conv2DTranspose with bilinear_kernel({factor}) does not reproduce "
            f"tf.image.resize away from the border.",
        )
