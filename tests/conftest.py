"""Shared test settings: fast mode and quiet TensorFlow for every test process."""

import os

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# Fixture notebooks (crafted submissions, slide samples) are data for tests, not notebooks to run
# under nbval, which collects every .ipynb below the paths it is given.
collect_ignore_glob = ["*_fixtures/*"]
