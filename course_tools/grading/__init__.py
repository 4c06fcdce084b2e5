"""Auto-grading that a student cannot fool, in stages that each run once (see ``pipeline``).

A submission contributes only the sources of its answer cells (by cell id, from the raw JSON);
setup, checks and hidden tests come from the instructor's executed reference. The assembled
notebook runs under nbval in a sandbox (another user, its own namespaces and root file system,
no network, limits, a guard in the kernel) where the checks only record what the student's
functions return; the grader judges those records in worker processes of its own, where no
student code runs, and a check scores only on a clean pass. Before any student, the instructor's
solution is graded the same way and must score full marks.

Modules, in the order a grading uses them: ``reference`` (build, cache and self-judge the
references), ``pipeline`` (the stages), ``inputs`` (the submissions folder, answers by id),
``screen`` (flags and shortcuts), ``assemble`` (the graded notebook), ``sandbox`` and ``jail``
(the isolated run, outside and inside), ``kernel``, ``guard`` and ``guard_paths`` (the kernel's
side), ``plugin`` (the pytest side), ``judge`` (the judge workers), ``verdict`` (points and
feedback), ``gradebook`` (the CSV and feedback files), ``bench`` (throughput).
"""

# Submodules are imported where used: the sandboxed kernel imports ``grading.kernel`` and must
# not pay for (or expose) the grader's own machinery.


def grade(assignment, submissions, out, **options):
    """Grade a folder of submissions into ``out`` (gradebook.csv, feedback/); return the rows.

    Raises ``pipeline.SelfTestFailed`` (nothing graded) when the instructor's solution does not
    score full marks in the sandbox.
    """
    from course_tools.grading import pipeline

    return pipeline.grade(assignment, submissions, out, **options)


def benchmark(assignment, count=100, jobs=None, **options):
    """Grade ``count`` generated submissions; print and return submissions per minute."""
    from course_tools.grading import bench

    return bench.benchmark(assignment, count=count, jobs=jobs, **options)


def add_cli(subparsers):
    """Register ``course grade``, ``course references`` and ``course grade-bench``."""
    grade_parser = subparsers.add_parser("grade", help="grade a folder of submissions")
    grade_parser.add_argument("assignment", help="e.g. 01_conv2d_padding_stride, or a path")
    grade_parser.add_argument(
        "submissions",
        help="folder of submitted notebooks (one per student, one folder per student, or "
        "nbgrader's submitted/ folder)",
    )
    grade_parser.add_argument("--out", required=True, help="where gradebook.csv and feedback/ go")
    _add_run_options(grade_parser)
    grade_parser.set_defaults(handler=_cli_grade)
    references = subparsers.add_parser(
        "references",
        help="build the grading references in _build/grading (runs each stale solution)",
    )
    references.add_argument("--check", action="store_true", help="only list stale references")
    references.set_defaults(handler=_cli_references)
    bench = subparsers.add_parser("grade-bench", help="grading throughput on this machine")
    bench.add_argument("assignment", help="e.g. 01_conv2d_padding_stride, or a path")
    bench.add_argument("--count", type=int, default=100, help="generated submissions")
    bench.add_argument("--jobs", type=int, default=None, help="parallel gradings (default: cores)")
    bench.set_defaults(handler=_cli_bench)


def _add_run_options(parser):
    """Options shared by the grading commands."""
    parser.add_argument("--jobs", type=int, default=None, help="parallel gradings (default: cores)")
    parser.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per submission")
    parser.add_argument(
        "--memory", type=float, default=None, help="GiB of address space per kernel"
    )


def _cli_grade(arguments):
    """``course grade ASSIGNMENT SUBMISSIONS --out DIR``: exit 1, saying why, when it cannot."""
    from course_tools.grading import pipeline, reference, sandbox

    try:
        _, manifest = reference.load(arguments.assignment)
    except (FileNotFoundError, reference.BuildError) as error:
        print(f"error: {error}")
        return 1
    jobs = arguments.jobs or pipeline.default_jobs()
    limits = pipeline.default_limits(
        manifest, jobs, arguments.cell_timeout, arguments.timeout, arguments.memory
    )
    if sandbox.isolation() == "none":
        print(
            "warning: not root or no unshare: grading without namespaces or another user; the "
            "guard alone keeps submissions from the solutions (see docs/instructor.md)."
        )
    try:
        rows = pipeline.grade(
            arguments.assignment, arguments.submissions, arguments.out, jobs=jobs, limits=limits
        )
    except (pipeline.SelfTestFailed, FileNotFoundError) as error:
        print(f"error: {error}")
        return 1
    flagged = sum(bool(row.flags) for row in rows)
    failed = sum(bool(row.errors) for row in rows)
    print(
        f"graded {len(rows)} submissions: {arguments.out}/gradebook.csv, feedback in "
        f"{arguments.out}/feedback/ ({flagged} flagged for review, {failed} with errors)."
    )
    return 0


def _cli_references(arguments):
    """``course references [--check]``: executing each stale solution takes a while."""
    from course_tools.grading import reference

    try:
        names = reference.stale() if arguments.check else reference.build_all()
    except reference.BuildError as error:
        print(f"error: {error}")
        return 1
    if arguments.check and names:
        print(f"grading references are stale for {', '.join(names)}: run 'course references'.")
        return 1
    print(f"grading references: {len(names)} {'stale' if arguments.check else 'built'}.")
    return 0


def _cli_bench(arguments):
    """``course grade-bench ASSIGNMENT [--count N]``."""
    from course_tools.grading import bench

    bench.benchmark(arguments.assignment, count=arguments.count, jobs=arguments.jobs)
    return 0
