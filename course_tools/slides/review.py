"""Each deck looked at as a lecturer would: every slide at 1280x720, a contact sheet, a PDF.

``check_deck`` opens a deck in headless Chromium with the network blocked, waits for reveal.js,
MathJax, fonts and figures, then visits every slide (fragments shown) and fails it on content
overflowing the slide once fitted, a code block longer than ``roles.MAX_CODE_LINES`` lines, a
formula left unrendered (or typed as plain text, ``W^T``), or an image that did not load. With
a screenshot folder it captures every slide and writes a contact sheet: thumbnails of all the
slides in one PNG, problems framed in red, for a human to review. ``print_pdf`` prints a deck
through reveal.js's print layout, one page per slide.
"""

import base64
import io
import pathlib
import re
import shutil

from course_tools.slides import browser as browser_module
from course_tools.slides import roles

# Waits for reveal.js, MathJax, fonts and figures; then what the whole deck holds.
INSPECT = """(async () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const deadline = Date.now() + 30000;
  while (!(window.Reveal && Reveal.isReady() && window.MathJax && MathJax.startup
           && MathJax.startup.promise)) {
    if (Date.now() > deadline) return {error: "reveal.js or MathJax did not start"};
    await sleep(50);
  }
  await MathJax.startup.promise;
  await document.fonts.ready;
  const slides = document.querySelector(".reveal .slides");
  const images = [...slides.querySelectorAll("img")];
  await Promise.all(images.map((image) => image.decode().catch(() => null)));
  Reveal.configure({transition: "none", fragments: false});  // every fragment shown
  return {
    slides: Reveal.getTotalSlides(),
    notes: slides.querySelectorAll("aside.notes").length,
    notesPlugin: Reveal.hasPlugin("notes"),
    formulas: slides.querySelectorAll("mjx-container").length,
    formulaErrors: slides.querySelectorAll("mjx-merror, [data-mjx-error]").length,
    images: images.length,
    brokenImages: images.filter((image) => !(image.complete && image.naturalWidth > 0)).length,
    fonts: document.fonts.status,
  };
})()"""

# Shows slide ``index`` (of Reveal.getSlides()), fitted, and measures what a lecturer would see.
VISIT = """(async (index, maxLines) => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  const slide = Reveal.getSlides()[index];
  const where = Reveal.getIndices(slide);
  Reveal.slide(where.h, where.v);
  await frame(); await frame();
  window.courseFitSlide(slide);
  await frame();
  const heading = slide.querySelector("h1, h2, h3");
  const problems = [];
  const overY = slide.scrollHeight - slide.clientHeight;
  const overX = slide.scrollWidth - slide.clientWidth;
  if (overY > 2) problems.push(`content overflows the slide by ${overY} px once shrunk to fit`);
  if (overX > 2) problems.push(`content is ${overX} px wider than the slide`);
  slide.querySelectorAll("pre").forEach((block) => {
    const wider = block.scrollWidth - block.clientWidth;
    const start = block.textContent.split("\\n")[0].slice(0, 50);
    if (wider > 2) problems.push(`a text block is ${wider} px too wide: "${start}"`);
  });
  slide.querySelectorAll(".jp-InputArea pre").forEach((block) => {
    const lines = block.textContent.replace(/\\s+$/, "").split("\\n").length;
    if (lines > maxLines) problems.push(`a code block of ${lines} lines (at most ${maxLines})`);
  });
  const skip = "PRE, CODE, SCRIPT, STYLE, MJX-CONTAINER, ASIDE";
  const walker = document.createTreeWalker(slide, NodeFilter.SHOW_TEXT);
  let text = "";
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement.closest(skip)) text += walker.currentNode.data + " ";
  }
  const untypeset = text.match(/\\$\\$|\\$[^$\\s][^$]*\\$|\\\\\\(|\\\\\\[/g);
  if (untypeset) problems.push(`formula left unrendered: ${untypeset[0].slice(0, 40)}`);
  const plain = text.match(/[\\w)\\]]\\^[\\w({]/g);
  if (plain) problems.push(`formula typed as plain text: ${plain[0]} (write LaTeX)`);
  if (slide.querySelector("mjx-merror, [data-mjx-error]")) {
    problems.push("a formula failed to typeset");
  }
  const loaded = (image) => image.complete && image.naturalWidth > 0;
  const broken = [...slide.querySelectorAll("img")].filter((image) => !loaded(image));
  if (broken.length) problems.push(`${broken.length} images did not load`);
  return {
    number: `${where.h + 1}${where.v ? "." + where.v : ""}`,
    heading: heading ? heading.textContent.replace(/¶/g, "").trim() : "",
    problems,
  };
})(%d, %d)"""


def check_deck(browser, path, expected, screenshots=None):
    """Open a deck with the network blocked; return its measures, with ``errors`` (empty: good).

    With ``screenshots`` (a folder), every slide is captured there and a contact sheet of the
    deck is written next to it as ``<deck>.png``.
    """
    path = pathlib.Path(path)
    session = browser.open_page(path.resolve().as_uri())
    found = browser.evaluate(session, INSPECT)
    if "error" in found:
        return {"errors": [found["error"], *browser.problems(session)]}
    errors = _compare(found, expected)
    visited, images = [], []
    for index in range(found["slides"]):
        slide = browser.evaluate(session, VISIT % (index, roles.MAX_CODE_LINES))
        visited.append(slide)
        errors += [
            f"slide {slide['number']} '{slide['heading']}': {problem}"
            for problem in slide["problems"]
        ]
        if screenshots is not None:
            shot = browser.call("Page.captureScreenshot", session, format="png")["data"]
            images.append(base64.b64decode(shot))
    browser.evaluate(session, "Reveal.slide(0, 0)")
    browser.press(session, "ArrowRight", 39)
    moved = browser.evaluate(session, "Reveal.getIndices()")
    if found["slides"] > 1 and (moved["h"], moved["v"]) == (0, 0):
        errors.append("the right arrow key did not move to the next slide")
    errors += browser.problems(session)
    browser.call("Target.closeTarget", targetId=browser_module.target_of(browser, session))
    if screenshots is not None:
        folder = pathlib.Path(screenshots) / path.stem
        shutil.rmtree(folder, ignore_errors=True)  # no slide left over from a longer deck
        folder.mkdir(parents=True)
        for slide, image in zip(visited, images):
            (folder / f"slide-{slide['number']}.png").write_bytes(image)
        sheet = contact_sheet(images, visited, expected.get("title", path.stem))
        sheet.save(pathlib.Path(screenshots) / f"{path.stem}.png", optimize=True)
    return {**found, "visited": visited, "errors": errors}


def _compare(found, expected):
    """What the measured deck gets wrong compared with its summary."""
    errors = []
    pairs = [("slides", "slides"), ("notes", "notes speaker notes"), ("formulas", "formulas")]
    for key, what in pairs:
        if found[key] != expected[key]:
            errors.append(f"{found[key]} {what} in the browser, expected {expected[key]}")
    if found["images"] < expected["images"] or found["brokenImages"]:
        errors.append(
            f"{found['brokenImages']} of {found['images']} images did not load "
            f"({expected['images']} figures expected)"
        )
    if found["formulaErrors"]:
        errors.append(f"{found['formulaErrors']} formulas failed to typeset")
    if not found["notesPlugin"]:
        errors.append("the speaker notes plugin did not load")
    if found["fonts"] != "loaded":
        errors.append(f"fonts did not load: {found['fonts']}")
    return errors


# --- the contact sheet ------------------------------------------------------------------------

THUMBNAIL = (320, 180)
COLUMNS = 5
GAP, LABEL = 8, 18


def contact_sheet(images, visited, title):
    """One image of all slides' thumbnails, numbered, the slides with problems framed in red."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = THUMBNAIL
    rows = max(1, -(-len(images) // COLUMNS))
    sheet = Image.new(
        "RGB",
        (COLUMNS * (width + GAP) + GAP, 30 + rows * (height + LABEL + GAP) + GAP),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    problems = sum(bool(slide["problems"]) for slide in visited)
    summary = f"{title}: {len(images)} slides, {problems} with problems"
    draw.text((GAP, 8), summary, fill="black", font=font)
    for index, (data, slide) in enumerate(zip(images, visited)):
        thumbnail = Image.open(io.BytesIO(data)).convert("RGB")
        thumbnail.thumbnail(THUMBNAIL)
        left = GAP + (index % COLUMNS) * (width + GAP)
        top = 30 + (index // COLUMNS) * (height + LABEL + GAP)
        sheet.paste(thumbnail, (left, top))
        colour = "red" if slide["problems"] else "#bbbbbb"
        draw.rectangle([left - 1, top - 1, left + width, top + height], outline=colour, width=2)
        label = f"{slide['number']}  {slide['heading']}"[:52]
        colour = "red" if slide["problems"] else "black"
        draw.text((left, top + height + 2), label, fill=colour, font=font)
    return sheet


# --- speaker notes ----------------------------------------------------------------------------

SPEAKER_NOTES = """(async () => {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const notes = document.querySelector(".speaker-controls-notes .value");
    if (notes && notes.innerText.trim()) {
      const svgs = [...notes.querySelectorAll("mjx-container svg")];
      const drawn = svgs.filter((svg) => svg.getBoundingClientRect().width > 0
                                && svg.querySelector("use, path"));
      return {text: notes.innerText, formulas: svgs.length, drawn: drawn.length};
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
})()"""


def speaker_notes(browser, session, slide):
    """What the speaker view (key S) shows as notes of slide ``slide``, and its problems."""
    browser.call("Target.setDiscoverTargets", discover=True)
    opener = browser_module.target_of(browser, session)
    browser.evaluate(session, f"Reveal.slide({slide}, 0)")
    browser.press(session, "s", 83, code="KeyS")
    popup = browser.wait_for(
        "Target.targetCreated", None, where=lambda p: p["targetInfo"].get("openerId") == opener
    )["targetInfo"]["targetId"]
    popup_session = browser.attach(popup)
    shown = browser.evaluate(popup_session, SPEAKER_NOTES)
    problems = browser.problems(popup_session)
    browser.call("Target.closeTarget", targetId=popup)
    return shown, problems


# --- handouts ---------------------------------------------------------------------------------

PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?!s)\b")
PRINT_READY = """(async () => {
  const deadline = Date.now() + 60000;
  while (!window.coursePrintReady) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await document.fonts.ready;
  return document.querySelectorAll(".reveal .pdf-page").length;
})()"""


def print_pdf(browser, path, pdf_path):
    """Print a deck through reveal.js's print layout to ``pdf_path``; return its page count."""
    session = browser.open_page(pathlib.Path(path).resolve().as_uri() + "?print-pdf")
    pages = browser.evaluate(session, PRINT_READY)
    if not pages:
        raise RuntimeError(f"{pathlib.Path(path).name}: the print layout did not get ready")
    printed = browser.call(
        "Page.printToPDF",
        session,
        timeout=300,
        printBackground=True,
        preferCSSPageSize=True,
        marginTop=0,
        marginBottom=0,
        marginLeft=0,
        marginRight=0,
    )
    pathlib.Path(pdf_path).write_bytes(base64.b64decode(printed["data"]))
    browser.call("Target.closeTarget", targetId=browser_module.target_of(browser, session))
    return pages


def pdf_pages(path):
    """The number of pages of a PDF that Chromium wrote (its page objects, counted)."""
    return len(PAGE_OBJECT.findall(pathlib.Path(path).read_bytes()))
