"""The slide build: cell roles, offline decks, and a real browser with the network blocked.

The browser tests build the fixture deck (tests/slides_fixtures/) executed in fast mode, and every
lecture notebook's deck unexecuted (layout, formulas, navigation: executing them all again would
double the notebooks' share of ``make test``; ``course slides --fast`` checks the executed decks).
Screenshots land in _build/slides/screenshots/test/.
"""

import argparse
import json
import pathlib
import shutil

import nbformat
import pytest

from course_tools import notebooks, slides

FIXTURES = pathlib.Path(__file__).parent / "slides_fixtures"
DEMO = FIXTURES / "slides_demo.ipynb"
SCREENSHOTS = notebooks.ROOT / "_build" / "slides" / "screenshots" / "test"
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
needs_browser = pytest.mark.skipif(slides.find_browser() is None, reason="chromium not installed")


def stream(text, name="stdout"):
    """A stream output."""
    return nbformat.v4.new_output("stream", name=name, text=text)


def display(data):
    """A display_data output."""
    return nbformat.v4.new_output("display_data", data=data)


def course_slides(*arguments):
    """Run ``course slides`` (only this subcommand: the test depends on no other module)."""
    parser = argparse.ArgumentParser(prog="course")
    slides.add_cli(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["slides", *arguments])
    return parsed.handler(parsed)


def roles(notebook):
    """The slide types that prepare() gives the cells."""
    return [cell.metadata.slideshow["slide_type"] for cell in slides.prepare(notebook).cells]


@pytest.mark.parametrize(
    "output",
    [
        stream("Epoch 1/10\n"),
        stream("32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 20ms/step - loss: 0.4\n"),
        stream("32/32 - 1s - 20ms/step - loss: 0.4\n"),
        stream("any warning\n", name="stderr"),
        display({slides.WIDGET_VIEW: {}, "text/plain": "training:  40%|████      | 2/5"}),
    ],
)
def test_logs_are_recognised(output):
    assert slides.is_log(output)


@pytest.mark.parametrize(
    "output",
    [
        stream("fcn8s_mean_iou = 0.412 (target >= 0.35)\n"),
        stream("output size 3/4 of the input\n"),
        display({"image/png": "", "text/plain": "<Figure>"}),
    ],
)
def test_results_are_not_logs(output):
    assert not slides.is_log(output)


def test_roles_come_from_the_notebook_structure():
    long_code = "\n".join(f"x{i} = {i}" for i in range(slides.LONG_INPUT_LINES + 1))
    cells = [
        md("# 01 · Title\n\nOverview."),
        code("# Setup\nimport numpy"),
        md("## First section\n\ntext"),
        md("a note", metadata={"tags": ["notes"]}),
        code("model.fit(...)", outputs=[stream("Epoch 1/2\n"), stream("bar", name="stderr")]),
        code("result", outputs=[stream("3\n"), stream("warning", name="stderr")]),
        code(long_code, outputs=[stream("shown\n")]),
        code(long_code),
        code("import os", metadata={"tags": ["setup"]}),
        md("### A subheading stays on the slide"),
        md("## Summary"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    expected = ["slide", "skip", "slide", "notes", "skip", "-", "-", "skip", "skip", "-", "slide"]
    assert roles(notebook) == expected
    prepared = slides.prepare(notebook)
    assert [output.text for output in prepared.cells[5].outputs] == ["3\n"]  # stderr dropped
    assert prepared.cells[6].metadata.transient == {"remove_source": True}
    assert "slideshow" not in notebook.cells[2].metadata  # the input is left alone


def test_first_visible_cell_starts_a_slide_and_badge_goes():
    badge = notebooks.colab_badge("notebooks", "01_x.ipynb")
    notebook = nbformat.v4.new_notebook(cells=[md(f"Intro without heading. {badge}"), md("## A")])
    prepared = slides.prepare(notebook)
    assert roles(notebook) == ["slide", "slide"]
    assert "colab" not in prepared.cells[0].source.lower()


def test_widgets_are_dropped():
    widget = display({slides.WIDGET_VIEW: {"model_id": "1"}, "text/plain": "interactive(...)"})
    outputs = [widget, display({"text/plain": "kept"})]
    notebook = nbformat.v4.new_notebook(
        cells=[md("# T"), code("setup"), code("explore()", outputs=outputs)]
    )
    notebook.metadata["widgets"] = {"state": {}}
    prepared = slides.prepare(notebook)
    assert len(prepared.cells[2].outputs) == 1
    assert "widgets" not in prepared.metadata


def test_fixture_summary():
    prepared = slides.prepare(notebooks.read(DEMO))
    summary = slides.summary(prepared, "slides_demo")
    # Unexecuted: no figure yet. Formulas: inline and display on a slide, two in the notes.
    assert summary == {
        "name": "slides_demo",
        "title": "99 · Slides fixture",
        "slides": 5,
        "notes": 1,
        "formulas": 4,
        "images": 0,
    }


@pytest.mark.parametrize("folder", ["notebooks", "solutions"])
def test_notebooks_carry_no_slideshow_metadata(folder):
    for path in sorted((notebooks.ROOT / folder).glob("*.ipynb")):
        for cell in notebooks.read(path).cells:
            assert "slideshow" not in cell.metadata, f"{path.name}: roles are assigned on the fly"


def test_remote_references_are_found():
    html = (
        '<script src="https://unpkg.com/reveal.js"></script><link rel="stylesheet" '
        'href="//cdn.example/x.css"><style>@import url(https://fonts.googleapis.com/x);</style>'
        "<script type=module>import m from 'https://cdn/mermaid.mjs';</script>"
    )
    assert len(slides.remote_references(html)) == 4
    local = '<script src="lib/reveal.js/dist/reveal.js"></script><a href="https://x.org">x</a>'
    assert slides.remote_references(local) == []


def test_rendered_deck_is_self_contained(tmp_path):
    prepared = slides.prepare(notebooks.read(DEMO))
    html = slides.render(prepared, DEMO.parent)
    assert slides.remote_references(html) == []
    slides.copy_assets(tmp_path)
    for reference in ("lib/reveal.js/dist/reveal.js", "lib/mathjax/es5/tex-svg-full.js"):
        assert reference in html
        assert (tmp_path / reference).is_file()
    theme = (tmp_path / "lib/reveal.js/dist/theme/white.css").read_text(encoding="utf-8")
    assert slides.remote_references(theme) == []
    for package in slides.ASSETS:
        assert (tmp_path / "lib" / package / "LICENSE").is_file()


def test_only_rejects_unknown_names():
    with pytest.raises(ValueError, match="matches 0 notebooks"):
        slides.lecture_paths(["no_such_lecture"])


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module's browser tests."""
    with slides.Browser() as running:
        yield running


@pytest.mark.slow
@pytest.mark.browser
@needs_browser
def test_fixture_deck_builds_and_works_offline(tmp_path, capsys):
    status = course_slides("--only", str(DEMO), "--fast", "--out", str(tmp_path))
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "[1/1] slides_demo: 5 slides in" in printed
    assert "checked slides_demo in Chromium offline: ok" in printed
    manifest = json.loads((tmp_path / "decks.json").read_text(encoding="utf-8"))
    deck = manifest["decks"][0]
    assert deck["mode"] == "fast"
    assert (deck["slides"], deck["notes"], deck["formulas"], deck["images"]) == (5, 1, 4, 1)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="slides_demo.html">99 · Slides fixture</a>' in index
    assert "5 slides, fast mode" in index
    html = (tmp_path / "slides_demo.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in html
    assert "<pre>final loss 0.25" in html
    assert "Epoch 1/2" not in html and "<pre>warning: shown only" not in html
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html
    assert html.count("long_helper") == 1  # the call is shown, not the long definition
    assert "COURSE_PACKAGE" not in html  # the Setup cell
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "screenshots" / "slides_demo.png", SCREENSHOTS / "slides_demo.png")


@pytest.mark.browser
@needs_browser
def test_speaker_view_shows_the_notes(tmp_path, browser):
    prepared = slides.prepare(notebooks.read(DEMO))
    slides.copy_assets(tmp_path)
    (tmp_path / "demo.html").write_text(slides.render(prepared, DEMO.parent), encoding="utf-8")
    session = browser.open_page((tmp_path / "demo.html").as_uri())
    browser.evaluate(session, slides.INSPECT)  # waits for reveal.js and MathJax
    shown, problems = slides.speaker_notes(browser, session, 1)
    assert shown is not None and shown["text"].startswith("Say: padding"), shown
    # Both formulas arrive typeset and drawn, and no hidden MathML copy shows up as text.
    assert "$" not in shown["text"] and "=" not in shown["text"], shown
    assert shown["formulas"] == shown["drawn"] == 2, shown
    assert problems == []


@pytest.mark.browser
@needs_browser
def test_tall_slides_shrink_to_fit_then_scroll(tmp_path, browser):
    lines = lambda count: "\n".join(f"- point {i}" for i in range(count))  # noqa: E731
    cells = [md("# Fits\n\n" + lines(5)), md("## A bit tall\n\n" + lines(22))]
    cells.append(md("## Far too tall\n\n" + lines(80)))
    prepared = slides.prepare(nbformat.v4.new_notebook(cells=cells))
    slides.copy_assets(tmp_path)
    (tmp_path / "tall.html").write_text(slides.render(prepared, tmp_path), encoding="utf-8")
    found = slides.check_deck(browser, tmp_path / "tall.html", slides.summary(prepared, "t"))
    assert found["errors"] == []
    assert found["tall"] == 1  # the bit-tall slide shrank; the far-too-tall one scrolls


@pytest.mark.browser
@needs_browser
def test_broken_deck_is_reported(tmp_path, browser):
    cells = [
        md("# Broken\n\n$\\frac{1}{$ and <img src='https://example.com/x.png'>"),
        md("## Second"),
    ]
    prepared = slides.prepare(nbformat.v4.new_notebook(cells=cells))
    slides.copy_assets(tmp_path)
    (tmp_path / "broken.html").write_text(slides.render(prepared, tmp_path), encoding="utf-8")
    found = slides.check_deck(browser, tmp_path / "broken.html", slides.summary(prepared, "b"))
    text = "\n".join(found["errors"])
    assert "formulas failed" in text
    assert "images did not load" in text
    assert "network request: https://example.com/x.png" in text


@pytest.mark.slow
@pytest.mark.browser
@needs_browser
def test_lecture_decks_work_offline(tmp_path):
    paths = slides.lecture_paths()
    if not paths:
        pytest.skip("no lecture notebooks yet")
    decks, failures = slides.build(paths, tmp_path, run=False)
    assert failures == []
    assert slides.check(decks, tmp_path, screenshots=SCREENSHOTS) == []
