"""pytest anywhere in the repository (the tests, nbval over the notebooks) runs in fast mode.

Kernels that nbval starts inherit this environment, so the notebooks run in fast mode too.
"""

import os

from course_utils import config

_fast = config.environment("fast")
os.environ.clear()
os.environ.update(_fast)
config.quiet_tensorflow()
# The tests set Keras beside NumPy for every padding and output_padding; oneDNN refuses some of
# them (config.use_onednn). Notebook kernels still choose for themselves in config.setup().
config.use_onednn(False)

# Fixture notebooks (crafted submissions, slide samples, benchmark stubs) are data for tests,
# not notebooks to run under nbval, which collects every .ipynb below the paths it is given.
collect_ignore_glob = ["tests/*/*_fixtures", "tests/*/*/*_fixtures"]
