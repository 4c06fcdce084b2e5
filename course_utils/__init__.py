"""Shared helpers of the dense-prediction course.

Importing this package has no side effects: it neither imports TensorFlow nor touches the
environment. Import the submodule you need, e.g. ``from course_utils import config, plots``.
"""

__version__ = "0.1.0"
