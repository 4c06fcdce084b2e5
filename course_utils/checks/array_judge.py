"""A judge of array answers that names the catalogued mistake behind a wrong one, choosing,
when several reproduce it, the mistake that reproduces most of the student's answers.

Like :func:`course_utils.checks.tables.arrays`, but each case may carry its own expected answer
(a hand-worked value named by the case's key) and its own check of the output's form.
"""

from course_utils import checks


def closest_mistake(expected_of, mistakes_of, prepare, context_of, atol=1e-4, rtol=1e-4):
    """A judge of array answers, case by case, that names the mistake behind a wrong one.

    ``expected_of(case)``: the right answer; ``mistakes_of(case)``: ``{hint: wrong answer or a
    function giving it}``; ``prepare(exercise, case, output)``: the output as an array (or a
    one-line failure); ``context_of(case)``: the failure's prefix. When several mistakes
    reproduce a wrong answer, the one that reproduces most of the student's answers is named.
    """

    def reproduces(case, result, hint):
        """True when the mistake ``hint`` gives the student's answer to ``case``."""
        wrong = mistakes_of(case).get(hint)
        wrong = wrong() if callable(wrong) else wrong
        return result is not None and wrong is not None and checks.close(result, wrong, atol, rtol)

    def judge(exercise, cases, outputs):
        """Fail on the first wrong case, naming its likeliest mistake; else count the cases."""
        results = []
        for case, output in zip(cases, outputs):
            try:
                results.append(prepare(exercise, case, checks.unwrap(exercise, output)))
            except checks.CheckFailed as failure:
                results.append(failure)
        for case, result in zip(cases, results):
            if isinstance(result, checks.CheckFailed):
                raise result
            expected = expected_of(case)
            if checks.close(result, expected, atol, rtol):
                continue
            matching = [hint for hint in mistakes_of(case) if reproduces(case, result, hint)]
            answered = [
                (other, answer)
                for other, answer in zip(cases, results)
                if not isinstance(answer, checks.CheckFailed)
            ]
            matching.sort(key=lambda hint: -sum(reproduces(*pair, hint) for pair in answered))
            if matching:
                checks.fail(exercise, f"{context_of(case)}{matching[0]}")
            checks.diagnose(exercise, result, expected, {}, context_of(case), atol, rtol)
        return len(cases)

    return judge
