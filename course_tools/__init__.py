"""The instructors' and maintainers' tools of the course: never imported by a notebook.

The ``course`` command (:mod:`course_tools.cli`), notebook formatting and assignment building
(:mod:`course_tools.notebooks`), grading (:mod:`course_tools.grading`), slides, the benchmark
and its public baselines, and the script that pretrains the course's backbone. Students need
only :mod:`course_utils`; a graded answer that imports this package is flagged as tampering.
"""
