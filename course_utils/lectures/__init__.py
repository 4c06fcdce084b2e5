"""Code exported from the lecture notebooks: one generated module per lecture.

``course_utils.lectures.<topic>`` holds the networks and losses that
``notebooks/NN_<topic>.ipynb`` writes in its cells marked ``#| export``. Edit the notebook, then
run ``make lectures``. These modules import Keras: import them after ``config.setup()``.
"""
