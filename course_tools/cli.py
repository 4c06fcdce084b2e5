"""The ``course`` command: each subcommand lives in the module that does the work.

A module joins by defining ``add_cli(subparsers)`` and being listed in ``COMMAND_MODULES``;
each parser it adds sets ``handler``, a function of the parsed arguments returning an exit code.
"""

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "course_tools.notebooks",  # build-assignments, tidy
    "course_tools.lectures",  # export-lectures
    "course_tools.grading",  # grade, references, grade-bench
    "course_tools.slides",  # slides
    "course_tools.bench",  # bench
    "course_tools.export",  # export nbgrader|gradescope|lms
)


def add_data_cli(subparsers):
    """``course data pets``: the same as ``python -m course_utils.data pets``."""
    parser = subparsers.add_parser("data", help="download and prepare a full-mode dataset")
    parser.add_argument("dataset", choices=["pets"])
    parser.set_defaults(handler=_cli_data)


def _cli_data(arguments):
    """Prepare a dataset with the students' own loader module."""
    from course_utils import data

    return data.main([arguments.dataset])


def build_parser():
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="course", description="Tools of the course.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_data_cli(subparsers)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_cli(subparsers)
    return parser


def main(argv=None):
    """Entry point of the ``course`` console script."""
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
