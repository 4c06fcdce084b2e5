"""Shared helpers of the dense-prediction course.

Importing this package has no side effects: it neither imports TensorFlow nor touches the
environment. Import the submodule you need, e.g. ``from course_utils import config, plots``.
"""

# The one version number: pyproject.toml reads it, and every notebook's Colab Setup cell installs
# the release tagged v<version> (course_tools.colab.COLAB_SETUP). Bump it, tag, `make format`.
__version__ = "0.2.0"
