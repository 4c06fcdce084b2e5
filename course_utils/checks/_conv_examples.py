"""The lecture's worked convolution examples, in one module the checks of 01 and 02 share.

Kept apart from :mod:`course_utils.checks.conv2d_padding_stride` and
:mod:`course_utils.checks.conv2d_transpose` so that their helper modules can read the examples
without importing the check modules that import them (a cycle).
"""

import numpy as np

# The lecture's worked example (shared/seeds/001): 3x3 input, 2x2 kernel, its 4x9 matrix.
LECTURE_INPUT = np.array([[1, 2, 3], [6, 5, 3], [1, 4, 1]])
LECTURE_KERNEL = np.array([[1, 2], [2, 1]])
LECTURE_OUTPUT = np.array([[22, 21], [22, 20]])
LECTURE_MATRIX = np.array(
    [
        [1, 2, 0, 2, 1, 0, 0, 0, 0],
        [0, 1, 2, 0, 2, 1, 0, 0, 0],
        [0, 0, 0, 1, 2, 0, 2, 1, 0],
        [0, 0, 0, 0, 1, 2, 0, 2, 1],
    ]
)
# The 3x3 kernel on a 4x4 input whose transposed matrix shared/seeds/004 writes out (16x4).
SEED_KERNEL = np.array([[1, 4, 1], [1, 4, 3], [3, 3, 1]])

# The context module of Yu & Koltun (shared/seeds/003): (kernel, stride, dilation) per layer and
# the receptive field after each layer.
CONTEXT_MODULE = [(3, 1, 1), (3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8), (3, 1, 16), (3, 1, 1)]
CONTEXT_FIELDS = [3, 5, 9, 17, 33, 65, 67]

# The lecture's worked examples: (input, kernel, output) of a stride-1 transposed convolution.
LECTURE_EXAMPLES = [
    # shared/seeds/001: every input pixel stamps a weighted copy of the kernel.
    ([[0, 1], [2, 3]], [[0, 1], [2, 3]], [[0, 0, 1], [0, 4, 6], [4, 12, 9]]),
    # shared/seeds/001: W^T of the 2x2 kernel on a 3x3 input applied to a 2x2 input.
    ([[1, 2], [2, 4]], [[1, 2], [2, 1]], [[1, 4, 4], [4, 13, 10], [4, 10, 4]]),
    # shared/seeds/004: the 16x4 matrix U^T of a 3x3 kernel on a 4x4 input.
    (
        [[2, 1], [4, 4]],
        [[1, 4, 1], [1, 4, 3], [3, 3, 1]],
        [[2, 9, 6, 1], [6, 29, 30, 7], [10, 29, 33, 13], [12, 24, 16, 4]],
    ),
]
