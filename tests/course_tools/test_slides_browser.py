"""The decks in a real browser with the network blocked: every slide looked at, printed, noted.

The fixture deck (slides_fixtures/) is executed in fast mode, checked slide by slide, its
contact sheet written and printed to PDF. The lecture decks are rendered unexecuted and checked
without screenshots (layout, formulas, navigation): executing them all again would double the
notebooks' share of ``make test``; ``course slides --fast`` checks the executed decks.
The fixture's contact sheet is copied to _build/slides/review/test/ for a human to look at.
"""

import argparse
import base64
import io
import json
import pathlib
import shutil

import nbformat
import pytest

from course_tools import notebooks
from course_tools.slides import assets, browser, command, review, roles, template

FIXTURES = pathlib.Path(__file__).parent / "slides_fixtures"
DEMO = FIXTURES / "slides_demo.ipynb"
REVIEWED = notebooks.ROOT / "_build" / "slides" / "review" / "test"
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(browser.find_browser() is None, reason="chromium not installed"),
]


def course_slides(*arguments):
    """Run ``course slides`` (only this subcommand: the test depends on no other module)."""
    parser = argparse.ArgumentParser(prog="course")
    command.add_cli(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["slides", *arguments])
    return parsed.handler(parsed)


def png(width, height):
    """A grey PNG of the given size, base64-encoded as a notebook stores it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 120, 120)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def figure(width, height):
    """A code cell whose only output is a figure, its code hidden on the slide."""
    output = nbformat.v4.new_output(
        "display_data", data={"image/png": png(width, height), "text/plain": "<Figure>"}
    )
    return code("plot()", outputs=[output], metadata={"tags": ["remove-input"]})


def write_deck(folder, cells, name="deck"):
    """Render ``cells`` as a deck in ``folder``; return its path and summary."""
    prepared = roles.prepare(nbformat.v4.new_notebook(cells=cells))
    assets.copy_assets(folder)
    path = pathlib.Path(folder) / f"{name}.html"
    path.write_text(template.render(prepared, folder), encoding="utf-8")
    return path, roles.summary(prepared, name)


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for the module's tests."""
    with browser.Browser() as running:
        yield running


@pytest.mark.slow
def test_fixture_deck_builds_checks_and_prints_offline(tmp_path, capsys):
    status = course_slides("--only", str(DEMO), "--fast", "--pdf", "--out", str(tmp_path))
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "[1/1] slides_demo: 6 slides in" in printed
    assert "checked slides_demo in Chromium offline, 6 slides in" in printed and ": ok" in printed
    manifest = json.loads((tmp_path / "decks.json").read_text(encoding="utf-8"))
    deck = manifest["decks"][0]
    assert deck["mode"] == "fast"
    assert (deck["slides"], deck["notes"], deck["formulas"], deck["images"]) == (6, 1, 4, 1)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="slides_demo.html">99 · Slides fixture</a>' in index
    assert "6 slides, fast mode" in index
    assert 'href="pdf/slides_demo.pdf"' in index and 'href="review/slides_demo.png"' in index
    html = (tmp_path / "slides_demo.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in html
    assert "<pre>final loss 0.25" in html
    assert "Epoch 1/2" not in html and "<pre>warning: shown only" not in html
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html
    assert "COURSE_PACKAGE" not in html  # the Setup cell
    # One screenshot per slide, a contact sheet, and a handout of one page per slide.
    shots = sorted(path.name for path in (tmp_path / "review" / "slides_demo").iterdir())
    assert shots == ["slide-1.png", "slide-2.png", "slide-3.1.png", "slide-3.png"] + [
        "slide-4.png",
        "slide-5.png",
    ]
    from PIL import Image

    with Image.open(tmp_path / "review" / "slides_demo.png") as sheet:
        assert sheet.width > 5 * review.THUMBNAIL[0] and sheet.height > 2 * review.THUMBNAIL[1]
    with Image.open(tmp_path / "review" / "slides_demo" / "slide-2.png") as shot:
        assert shot.size == (template.WIDTH, template.HEIGHT)
    assert review.pdf_pages(tmp_path / "pdf" / "slides_demo.pdf") == 6
    REVIEWED.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "review" / "slides_demo.png", REVIEWED / "slides_demo.png")


def test_speaker_view_shows_the_notes(tmp_path, chromium):
    prepared = roles.prepare(notebooks.read(DEMO))
    assets.copy_assets(tmp_path)
    (tmp_path / "demo.html").write_text(template.render(prepared, DEMO.parent), encoding="utf-8")
    session = chromium.open_page((tmp_path / "demo.html").as_uri())
    chromium.evaluate(session, review.INSPECT)  # waits for reveal.js and MathJax
    shown, problems = review.speaker_notes(chromium, session, 1)
    assert shown is not None and shown["text"].startswith("Say: padding"), shown
    # Both formulas arrive typeset and drawn, and no hidden MathML copy shows up as text.
    assert "$" not in shown["text"] and "=" not in shown["text"], shown
    assert shown["formulas"] == shown["drawn"] == 2, shown
    assert problems == []


def test_tall_slides_shrink_to_fit_and_then_fail(tmp_path, chromium):
    lines = lambda count: "\n".join(f"- point {i}" for i in range(count))  # noqa: E731
    cells = [md("# Fits\n\n" + lines(5)), md("## A bit tall\n\n" + lines(16))]
    cells.append(md("## Far too tall\n\n" + lines(60)))
    path, summary = write_deck(tmp_path, cells)
    found = review.check_deck(chromium, path, summary)
    assert len(found["errors"]) == 1, found["errors"]
    assert found["errors"][0].startswith("slide 3 'Far too tall': content overflows the slide")


def test_figures_give_way_before_the_text(tmp_path, chromium):
    cells = [md("# A tall figure\n\nWith a line of text above it."), figure(500, 1400)]
    cells += [md("## A drawing alone on its slide"), figure(900, 560)]
    path, summary = write_deck(tmp_path, cells)
    found = review.check_deck(chromium, path, summary, screenshots=tmp_path / "shots")
    assert found["errors"] == []
    session = chromium.open_page(path.as_uri())
    chromium.evaluate(session, review.INSPECT)
    heights = []
    for index in range(2):
        chromium.evaluate(session, review.VISIT % (index, roles.MAX_CODE_LINES))
        heights.append(
            chromium.evaluate(
                session,
                "({image: Reveal.getCurrentSlide().querySelector('img').offsetHeight,"
                " zoom: Reveal.getCurrentSlide().querySelector('.jp-Cell').style.zoom})",
            )
        )
    assert 300 < heights[0]["image"] < 700 and heights[0]["zoom"] == "", heights
    assert heights[1]["image"] == 560, heights  # a drawing that fits keeps its size
    assert (tmp_path / "shots" / "deck.png").exists()


def test_broken_slides_are_reported_with_their_number(tmp_path, chromium):
    long_code = "\n".join(f"x{i} = {i}" for i in range(roles.MAX_CODE_LINES + 1))
    wide = nbformat.v4.new_output("stream", name="stdout", text="w" * 300 + "\n")
    cells = [
        md("# Broken\n\n$\\frac{1}{$ and <img src='https://example.com/x.png'>"),
        md("## Long code"),
        code(long_code),
        md("### Plain formula\n\nThe matrix W^T."),
        md("## Wide code and output"),
        code("x = '" + "w" * 150 + "'\nprint(wide)", outputs=[wide]),
    ]
    path, summary = write_deck(tmp_path, cells)
    found = review.check_deck(chromium, path, summary)
    text = "\n".join(found["errors"])
    assert "slide 1 'Broken': formula left unrendered" in text
    assert "slide 1 'Broken': 1 images did not load" in text
    assert "network request: https://example.com/x.png" in text
    assert f"slide 2 'Long code': a code block of {roles.MAX_CODE_LINES + 1} lines" in text
    assert "slide 2.1 'Plain formula': formula typed as plain text: W^T" in text
    assert "slide 3 'Wide code and output': a text block is" in text  # code does not wrap
    assert len(found["errors"]) == 9, found["errors"]  # the output wraps: not a problem


@pytest.mark.slow
def test_lecture_decks_work_offline(tmp_path):
    paths = command.lecture_paths()
    if not paths:
        pytest.skip("no lecture notebooks yet")
    decks, failures = command.build(paths, tmp_path, run=False)
    assert failures == []
    assert command.check(decks, tmp_path, screenshots=False) == []
