"""The slide build without a browser: cell roles from tags and headings, the lint, the HTML.

The browser tests are in test_slides_browser.py; the tags' rules in ``course tidy`` in
test_slides_tags.py.
"""

import pathlib

import nbformat
import pytest

from course_tools import colab, notebooks
from course_tools.slides import assets, command, roles, template

FIXTURES = pathlib.Path(__file__).parent / "slides_fixtures"
DEMO = FIXTURES / "slides_demo.ipynb"
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def stream(text, name="stdout"):
    """A stream output."""
    return nbformat.v4.new_output("stream", name=name, text=text)


def display(data):
    """A display_data output."""
    return nbformat.v4.new_output("display_data", data=data)


def roles_of(notebook):
    """The slide types that prepare() gives the cells that remain."""
    return [cell.metadata.slideshow["slide_type"] for cell in roles.prepare(notebook).cells]


@pytest.mark.parametrize(
    "output",
    [
        stream("Epoch 1/10\n"),
        stream("32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 20ms/step - loss: 0.4\n"),
        stream("32/32 - 1s - 20ms/step - loss: 0.4\n"),
        stream("any warning\n", name="stderr"),
        display({roles.WIDGET_VIEW: {}, "text/plain": "training:  40%|████      | 2/5"}),
    ],
)
def test_logs_are_recognised(output):
    assert roles.is_log(output)


@pytest.mark.parametrize(
    "output",
    [
        stream("fcn8s_mean_iou = 0.412 (target >= 0.35)\n"),
        stream("output size 3/4 of the input\n"),
        display({"image/png": "", "text/plain": "<Figure>"}),
    ],
)
def test_results_are_not_logs(output):
    assert not roles.is_log(output)


def test_headings_and_tags_decide_the_roles():
    figure = display({"image/png": "iVBOR", "text/plain": "<Figure>"})
    cells = [
        md("# 01 · Title\n\nOverview."),
        code("# Setup\nimport numpy", metadata={"tags": ["remove-cell"]}),
        md("## First section\n\ntext"),
        md("a note", metadata={"tags": ["notes"]}),
        code("plot()", outputs=[figure], metadata={"tags": ["remove-input"]}),
        code("model = build()", outputs=[stream("3\n")], metadata={"tags": ["remove-output"]}),
        md("### A sub-slide"),
        md("- on the next click", metadata={"tags": ["fragment"]}),
        code("fit()", outputs=[stream("Epoch 1/2\n"), stream("bar", name="stderr")]),
        code("print(1)", outputs=[stream("1\n")], metadata={"tags": ["remove-input"]}),
        code("setup()", metadata={"tags": ["remove-input"]}),  # nothing left to show
        md("#### A small heading stays on its slide"),
        md("## Summary"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    expected = ["slide", "slide", "notes", "-", "-", "subslide", "fragment", "-", "-", "skip"]
    assert roles_of(notebook) == expected + ["-", "slide"]
    prepared = roles.prepare(notebook)
    assert prepared.cells[3].metadata.transient == {"remove_source": True}  # figure, no code
    assert prepared.cells[4].outputs == [] and "model" in prepared.cells[4].source
    assert prepared.cells[7].outputs == []  # log and stderr dropped
    assert "slideshow" not in notebook.cells[2].metadata  # the input is left alone
    assert roles.summary(prepared, "x")["slides"] == 4  # title, First, sub-slide, Summary


def test_first_visible_cell_starts_a_slide_and_the_colab_link_goes():
    badge = colab.colab_badge("notebooks", "01_x.ipynb")
    notebook = nbformat.v4.new_notebook(cells=[md(f"Intro without heading. {badge}"), md("## A")])
    prepared = roles.prepare(notebook)
    assert roles_of(notebook) == ["slide", "slide"]
    assert "colab" not in prepared.cells[0].source.lower()


def test_widgets_are_dropped():
    widget = display({roles.WIDGET_VIEW: {"model_id": "1"}, "text/plain": "interactive(...)"})
    outputs = [widget, display({"text/plain": "kept"})]
    notebook = nbformat.v4.new_notebook(cells=[md("# T"), code("explore()", outputs=outputs)])
    notebook.metadata["widgets"] = {"state": {}}
    prepared = roles.prepare(notebook)
    assert len(prepared.cells[1].outputs) == 1
    assert "widgets" not in prepared.metadata


def test_fixture_summary():
    prepared = roles.prepare(notebooks.read(DEMO))
    summary = roles.summary(prepared, "slides_demo")
    # Unexecuted: no figure yet. Formulas: inline and display on a slide, two in the notes.
    assert summary == {
        "name": "slides_demo",
        "title": "99 · Slides fixture",
        "slides": 6,
        "notes": 1,
        "formulas": 4,
        "images": 0,
    }


def test_lint_names_long_code_plain_formulas_and_short_decks():
    long_code = "\n".join(f"x{i} = {i}" for i in range(roles.MAX_CODE_LINES + 1))
    cells = [
        md("# 01 · T"),
        md("## Sizes\n\nThe matrix W^T, and $W^T$ as LaTeX, and `x^2` as code."),
        code(long_code),
        code(long_code, metadata={"tags": ["remove-input"]}),  # not shown: fine
        md("The square x^2 in the notes.", metadata={"tags": ["notes"]}),
    ]
    problems = roles.lint(nbformat.v4.new_notebook(cells=cells), "01")
    assert len(problems) == 4, problems
    assert "slide 'Sizes': a code cell of 16 lines is shown" in problems[1]
    assert "formula in plain text ... matrix W^T, and" in problems[0]
    assert "x^2" in problems[2]
    assert problems[3] == f"01: 2 slides; a lecture's deck needs at least {roles.MIN_SLIDES}"


def test_notebooks_carry_no_slideshow_metadata():
    for folder in ("notebooks", "solutions"):
        for path in sorted((notebooks.ROOT / folder).glob("*.ipynb")):
            for cell in notebooks.read(path).cells:
                assert "slideshow" not in cell.metadata, f"{path.name}: roles come from tags"


@pytest.mark.parametrize("path", command.lecture_paths(), ids=lambda path: path.stem)
def test_lecture_follows_the_deck_conventions(path):
    """At least 25 slides, no code cell over 15 lines shown, formulas in LaTeX."""
    assert roles.lint(notebooks.read(path), path.stem) == []


def test_remote_references_are_found():
    html = (
        '<script src="https://unpkg.com/reveal.js"></script><link rel="stylesheet" '
        'href="//cdn.example/x.css"><style>@import url(https://fonts.googleapis.com/x);</style>'
        "<script type=module>import m from 'https://cdn/mermaid.mjs';</script>"
    )
    assert len(assets.remote_references(html)) == 4
    local = '<script src="lib/reveal.js/dist/reveal.js"></script><a href="https://x.org">x</a>'
    assert assets.remote_references(local) == []


def test_rendered_deck_is_self_contained(tmp_path):
    prepared = roles.prepare(notebooks.read(DEMO))
    html = template.render(prepared, DEMO.parent)
    assert assets.remote_references(html) == []
    assets.copy_assets(tmp_path)
    for reference in ("lib/reveal.js/dist/reveal.js", "lib/mathjax/es5/tex-svg-full.js"):
        assert reference in html
        assert (tmp_path / reference).is_file()
    theme = (tmp_path / "lib/reveal.js/dist/theme/white.css").read_text(encoding="utf-8")
    assert assets.remote_references(theme) == []
    for package in assets.ASSETS:
        assert (tmp_path / "lib" / package / "LICENSE").is_file()
    assert html.count('class="fragment"') == 1
    assert "printed in the notebook, not on the slide" not in html  # remove-output
    assert '<span class="n">long_helper</span>' in html and "def long_helper" not in html


def test_only_rejects_unknown_names():
    with pytest.raises(ValueError, match="matches 0 notebooks"):
        command.lecture_paths(["no_such_lecture"])
