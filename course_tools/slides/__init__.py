"""Lecture slides: one offline reveal.js deck per lecture notebook, looked at in a real browser.

The decks are generated from the same notebooks the students run; the notebook chooses what a
slide shows with headings and cell tags (docs/slides.md). One job per module:

| module     | what                                                                         |
| ---------- | ---------------------------------------------------------------------------- |
| `roles`    | what each cell becomes: tags applied, slides and sub-slides, notes; the lint |
| `template` | the deck's HTML: nbconvert's reveal.js template, local scripts, MathJax      |
| `assets`   | reveal.js and MathJax from npm, copied next to the decks; the offline check  |
| `browser`  | headless Chromium over the DevTools protocol, network blocked                |
| `review`   | every slide at 1280x720 checked and captured; contact sheets; PDF handouts   |
| `command`  | ``course slides``: execute, render, check, print                             |
"""


def add_cli(subparsers):
    """Register ``course slides`` (the command lives in :mod:`course_tools.slides.command`)."""
    from course_tools.slides import command

    command.add_cli(subparsers)
