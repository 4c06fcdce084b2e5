"""The ``course`` command: each subcommand lives in the module that does the work.

A module joins by defining ``add_cli(subparsers)`` and being listed in ``COMMAND_MODULES``;
each parser it adds sets ``handler``, a function of the parsed arguments returning an exit code.
"""

import argparse
import importlib
import importlib.util
import sys

COMMAND_MODULES = (
    "course_utils.notebooks",  # build-assignments, tidy
    "course_utils.data",  # data (prepare datasets ahead of time)
    "course_utils.grading",  # grade
    "course_utils.slides",  # slides
    "course_utils.bench",  # bench
)


def build_parser():
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="course", description="Tools of the course.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        # A module of a later part of the course may not be written yet; an import error in a
        # module that exists is a real bug and must surface, so only absence is skipped.
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).add_cli(subparsers)
    return parser


def main(argv=None):
    """Entry point of the ``course`` console script."""
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
