"""The grader's fixture notebooks are inputs of tests/test_grading*.py, not notebooks to run."""

collect_ignore_glob = ["*.ipynb", "**/*.ipynb"]
